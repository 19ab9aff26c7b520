"""`fs3 bench smallfiles`, `fs3 bench mount` and `fs3 bench calls`: small files, the mount and per-call
reads, each beside the local disk measured in the same run, with the ratio and its target."""

from __future__ import annotations

from pathlib import Path

import click

from fs3._errors import InvalidArgument, Unavailable
from fs3.bench import Comparison, as_dict, baseline, workloads

from ._bench_run import positive, sayer, temporary_dir
from ._common import emit_json, human_size, state


def _need_fuse() -> None:
    from fs3.bench import fuse_available

    if not fuse_available():
        raise Unavailable("FUSE is not available here (need /dev/fuse and fusermount3: apt-get install fuse3)")


def _mount_factory(where: Path, options: tuple[str, ...] = ()):
    from fs3.bench import Mount

    st = state()
    return lambda: Mount(where / "mnt", cluster=st.cluster, token=st.token, log=where / "mount.log", options=options)


@click.command("smallfiles")
@click.option("--files", default=1000, show_default=True, help="Files written and read back on each side.")
@click.option("--file-size", default="16K", show_default=True)
@click.option("--jobs", "-j", default=8, show_default=True, help="Files in flight (as `fs3 cp -j`).")
@click.option("--cp/--no-cp", "with_cp", default=True, show_default=True, help="Also time the `fs3 cp -r` command.")
@click.option("--mount/--no-mount", "with_mount", default=None,
              help="Also through `fs3 mount` (default: where FUSE is available).")
@click.option("--dir", "fs3_dir", default="/.bench", show_default=True, help="fs3 directory for test files.")
@click.option("--baseline-dir", type=click.Path(path_type=Path), default=None,
              help="Local directory (on the disk to compare with) for the baseline's files; default: a temporary one.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def bench_smallfiles(files, file_size, jobs, with_cp, with_mount, fs3_dir, baseline_dir, as_json):
    """Small files: create+write+close then read back, through the client (as `fs3 cp -r` does, with its
    parallelism), through `fs3 cp -r` itself and through a mount, beside the local disk's
    create+write+fsync rate of the same files in the same run (targets: client 0.25x, mount 0.1x)."""
    from fs3.bench import smallfiles

    from ._bench import parse_size

    size = parse_size(file_size)
    positive("--files", files, integer=True)
    if not 1 <= jobs <= 256:
        raise InvalidArgument(f"Invalid argument: --jobs must be 1..256, not {jobs}")
    if with_mount:
        _need_fuse()
    if with_mount is None:
        from fs3.bench import fuse_available

        with_mount = fuse_available()
    st = state()
    client = st.client()
    say = sayer(as_json)
    if not as_json:
        click.echo(f"small files: {files} files of {human_size(size)}, {jobs} in flight")

    def show(side) -> None:
        if not as_json:
            click.echo(smallfiles.describe(side, result_local[0] if result_local else side))
        if side.name == "local":
            result_local.append(side)

    result_local: list = []
    with temporary_dir("fs3-bench-smallfiles-", None) as tmp:
        local_dir = baseline_dir / f"smallfiles-{tmp.name}" if baseline_dir else tmp / "local"
        try:
            r = smallfiles.run(client, fs3_dir=fs3_dir, local_dir=local_dir, files=files, size=size, jobs=jobs,
                               cp={"cluster": st.cluster, "token": st.token} if with_cp else None,
                               mount=_mount_factory(tmp) if with_mount else None, say=say, on_side=show)
        finally:
            if baseline_dir:
                import shutil

                shutil.rmtree(local_dir, ignore_errors=True)
    if as_json:
        emit_json(as_dict(r))


@click.command("mount")
@click.option("--file-size", default="256M", show_default=True, help="Size of the preallocated test file.")
@click.option("--depth", default=16, show_default=True, help="Reading threads.")
@click.option("--duration", default=4.0, show_default=True, help="Seconds per read workload and side.")
@click.option("--files", default=2000, show_default=True, help="Files created, stated and unlinked.")
@click.option("--attr-timeout", type=click.FloatRange(0, 3600), default=30.0, show_default=True, metavar="SECONDS",
              help="The mount's --attr-timeout (0: no kernel attribute cache, every stat asks meta).")
@click.option("--dir", "fs3_dir", default="/.bench", show_default=True, help="fs3 directory for test files.")
@click.option("--baseline-dir", type=click.Path(path_type=Path), default=None,
              help="Local directory (on the disk to compare with) for the baseline's files; default: a temporary one.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def bench_mount(file_size, depth, duration, files, attr_timeout, fs3_dir, baseline_dir, as_json):
    """Through `fs3 mount` (made for the run, unmounted after): DEPTH threads of O_DIRECT random reads of
    4 KiB and 1 MiB on a preallocated file, and creates, stats and unlinks of FILES files in one
    directory; the same on the local disk in the same run (targets: 4 KiB 0.3x, 1 MiB 0.7x, create and
    unlink 0.1x, stat 0.3x)."""
    from fs3.bench import mountbench

    from ._bench import parse_size

    size = parse_size(file_size)
    positive("--duration", duration)
    positive("--files", files, integer=True)
    if not 1 <= depth <= 256:
        raise InvalidArgument(f"Invalid argument: --depth must be 1..256, not {depth}")
    if size < (1 << 20) or size % 4096:
        raise InvalidArgument("Invalid argument: --file-size must be at least 1M and a multiple of 4K")
    _need_fuse()
    client = state().client()

    def prepare(path: str, nbytes: int) -> None:
        import os

        client.mkdir(path.rsplit("/", 1)[0] or "/", parents=True)
        block = os.urandom(4 << 20)
        with client.open(path, "wb", buffering=0) as f:
            for off in range(0, nbytes, len(block)):
                f.write(memoryview(block)[: min(len(block), nbytes - off)])

    if not as_json:
        click.echo(f"mount: {depth} threads, {duration:g} s per read workload and side, {files} files")
    with temporary_dir("fs3-bench-mount-", None) as tmp:
        local_dir = baseline_dir / f"mount-{tmp.name}" if baseline_dir else tmp / "local"
        test_file = f"{fs3_dir.rstrip('/')}/mount-read-{size}"
        try:
            with _mount_factory(tmp, ("--attr-timeout", repr(attr_timeout)))() as m:
                r = mountbench.run(mountpoint=m.mountpoint, fs3_dir=fs3_dir, local_dir=local_dir, prepare=prepare,
                                   file_size=size, depth=depth, seconds=duration, files=files, say=sayer(as_json),
                                   on_row=(lambda _r: None) if as_json else
                                   (lambda row: click.echo(mountbench.describe(row))))
        finally:
            import shutil

            shutil.rmtree(local_dir, ignore_errors=True)
            try:
                client.unlink(test_file)
            except FileNotFoundError:
                pass
    if as_json:
        emit_json(as_dict(r))


@click.command("calls")
@click.option("--file-size", default="256M", show_default=True, help="Size of the test file.")
@click.option("--depth", default=16, show_default=True, help="Reads in flight.")
@click.option("--batch", default=0, help="Reads per read_batch call (default: --depth, all in one call: the "
              "fastest shape here).")
@click.option("--duration", default=4.0, show_default=True, help="Seconds per workload and side.")
@click.option("--dir", "fs3_dir", default="/.bench", show_default=True, help="fs3 directory for test files.")
@click.option("--baseline-dir", type=click.Path(path_type=Path), default=None,
              help="Local directory for the baseline's file (default: a temporary one).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def bench_calls(file_size, depth, batch, duration, fs3_dir, baseline_dir, as_json):
    """Per-call 4 KiB reads: DEPTH concurrent `await client.read(path, offset, 4096)`, and the same reads
    through read_batch, beside DEPTH threads of local O_DIRECT preads in the same run (targets: 0.4x and
    0.7x)."""
    from ._bench import _client, _finish, _replicas, _rounds, _run, _Session, _transports, parse_size

    size = parse_size(file_size)
    positive("--duration", duration)
    batch = batch or depth
    if not 1 <= depth <= 1024 or not 1 <= batch <= depth:
        raise InvalidArgument("Invalid argument: --depth must be 1..1024 and --batch 1..--depth")
    if size < 4096 or size % 4096:
        raise InvalidArgument("Invalid argument: --file-size must be a multiple of 4K")
    say = sayer(as_json)
    if not as_json:
        click.echo(f"per-call reads: 4 KiB at random in a {human_size(size)} file, {depth} in flight, "
                   f"{duration:g} s per workload and side")
    rounds = 4  # alternating, fs3 first then local first...: a drifting disk weighs on both sides alike
    each = duration / rounds

    async def run():
        client = await _client()
        session = _Session(fs3_dir, baseline_dir, False)
        try:
            say(f"preparing a {human_size(size)} file in fs3 and on the local disk")
            stats, local = await session.read_files(client, 1, size)
            path = stats[0].path
            results = []
            say(f"client.read(path, offset, 4096) x{depth}")
            fs3_m, base_m = await _rounds(
                lambda: workloads.read_calls(client, path, size, 4096, depth, each),
                lambda: baseline.read(local, size, 4096, depth, each), rounds)
            results.append(Comparison(f"client.read 4 KiB x{depth}", fs3_m, base_m,
                                      {"block": 4096, "depth": depth, "file_size": size, "seconds": duration},
                                      "iops", 0.4))
            _row(results[-1], as_json)
            say(f"read_batch of {batch} x {depth // batch} tasks")
            fs3_m, base_m = await _rounds(
                lambda: workloads.read(client, stats, size, 4096, depth, batch, each),
                lambda: baseline.read(local, size, 4096, depth, each), rounds)
            results.append(Comparison(f"read_batch 4 KiB x{depth} (batch {batch})", fs3_m, base_m,
                                      {"block": 4096, "depth": depth, "batch": batch, "file_size": size,
                                       "seconds": duration}, "iops", 0.7))
            _row(results[-1], as_json)
            transports = await _transports(client)
            replicas = _replicas(await client.routing_info())
        finally:
            session.close()
            await session.remove_files(client)
            await client.close()
        if as_json:
            _finish(results, transports, replicas, True)

    _run(run())


def _row(r: Comparison, as_json: bool) -> None:
    if as_json:
        return
    fs3_iops, base_iops = r.fs3.iops, r.baseline.iops if r.baseline else 0.0
    click.echo(f"  {r.name:<32} fs3 {fs3_iops:9.0f} IOPS p50 {r.fs3.percentile(50) * 1e3:6.2f}ms   "
               f"local O_DIRECT {base_iops:9.0f} IOPS   ratio {r.ratio or 0:5.2f}x  "
               f"{'ok' if r.meets_target else 'MISSED'} (target >= {r.target}x)")


@click.command("scale")
@click.option("--nodes", default="1,2,4,6", show_default=True, help="Storage host counts to measure (the first is "
              "the baseline: its aggregate per host times each count is linear scaling).")
@click.option("--nic", default="40mbit", show_default=True, metavar="RATE",
              help="Each storage host's link, both ways (tc rate): keeps the run below this machine's CPU limit.")
@click.option("--client-hosts", default=2, show_default=True, type=click.IntRange(1, 16),
              help="Hosts reading at once (their links are not shaped).")
@click.option("--file-size", default="48M", show_default=True, help="The striped file read at random.")
@click.option("--block", default="1M", show_default=True, help="Bytes per read.")
@click.option("--depth", default=4, show_default=True, type=click.IntRange(1, 64),
              help="Reads in flight per storage host, spread over the client hosts' threads.")
@click.option("--duration", default=5.0, show_default=True, help="Seconds of reading per count.")
@click.option("--plot", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Also write the plot (SVG) here.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def bench_scale(nodes, nic, client_hosts, file_size, block, depth, duration, plot, as_json):
    """Aggregate random-read throughput from client hosts against 1, 2, 4, 6 storage hosts (network
    namespaces with shaped links: `fs3 up --hosts`; root), each beside linear scaling from the first
    count, same run (target: 0.8x linear)."""
    from fs3.bench import scale
    from fs3.local import LocalClusterConfig, need_tools

    from ._bench import parse_size

    try:
        counts = sorted({int(x) for x in nodes.split(",") if x.strip()})
    except ValueError:
        raise InvalidArgument(f"Invalid argument: --nodes must be counts separated by commas, not {nodes!r}") from None
    if not counts or counts[0] < 1 or counts[-1] > 32:
        raise InvalidArgument("Invalid argument: --nodes must be counts from 1 to 32")
    LocalClusterConfig(data_dir=Path("."), hosts=1, nic=nic).validate()  # (the rate's form, early)
    positive("--duration", duration)
    size, blk = parse_size(file_size), parse_size(block)
    if not 4096 <= blk <= size:
        raise InvalidArgument("Invalid argument: --block must be at least 4K and at most --file-size")
    need_tools()
    show = sayer(as_json)
    with temporary_dir("fs3-bench-scale-", None) as tmp:
        r = scale.run(nodes=counts, nic=nic, client_hosts=client_hosts, file_size=size, block=blk, depth=depth,
                      seconds=duration, workdir=tmp, say=show,
                      on_point=(lambda _p: None) if as_json else (lambda p: click.echo(
                          f"  {p.nodes:>2} storage host(s)  {p.mb_per_s:8.1f} MB/s  {p.per_node:7.1f} MB/s per host  "
                          f"{p.efficiency:5.2f}x linear")))
    if plot is not None:
        plot.write_text(scale.svg(r))
    if as_json:
        emit_json(as_dict(r) | {"worst_efficiency": r.worst})
        return
    verdict = "ok" if r.worst >= r.target else "MISSED"
    click.echo(f"scaling: worst {r.worst:.2f}x linear  {verdict} (target >= {r.target}x)"
               + (f"; plot: {plot}" if plot else ""))


@click.command("transport")
@click.option("--storage-hosts", default=2, show_default=True, type=click.IntRange(1, 16),
              help="Storage nodes, each on a host of its own.")
@click.option("--blocks", default="4K,1M", show_default=True, help="Read sizes, separated by commas.")
@click.option("--depth", default=16, show_default=True, type=click.IntRange(1, 256), help="Reads in flight.")
@click.option("--file-size", default="64M", show_default=True, help="The file read at random.")
@click.option("--duration", default=5.0, show_default=True, help="Seconds per transport, block size and round.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def bench_transport(storage_hosts, blocks, depth, file_size, duration, as_json):
    """Random reads from another host over UCX beside the framed TCP path, same run, alternating (storage
    nodes on hosts of their own: `fs3 up --hosts`; root; the ucxx bindings: pip install 'fs3[ucx]')."""
    from fs3 import _ucx
    from fs3.bench import transport
    from fs3.local import need_tools

    from ._bench import parse_size

    try:
        sizes = [parse_size(b) for b in blocks.split(",") if b.strip()]
    except (ValueError, InvalidArgument):
        raise InvalidArgument(f"Invalid argument: --blocks must be sizes separated by commas, not {blocks!r}") from None
    size = parse_size(file_size)
    if not sizes or any(not 4096 <= b <= size for b in sizes):
        raise InvalidArgument("Invalid argument: each of --blocks must be at least 4K and at most --file-size")
    positive("--duration", duration)
    ok, why = _ucx.available()
    if not ok:
        raise InvalidArgument(f"UCX is {why}")
    need_tools()
    show = sayer(as_json)
    with temporary_dir("fs3-bench-transport-", None) as tmp:
        r = transport.run(blocks=sizes, depth=depth, seconds=duration, storage_hosts=storage_hosts, file_size=size,
                          workdir=tmp, say=show)
    if as_json:
        emit_json(as_dict(r) | {"ratios": {str(row.block): row.ratio for row in r.rows}})
        return
    click.echo(f"UCX lanes: {r.lanes or '?'}; {depth} reads in flight from a client host, "
               f"{storage_hosts} storage hosts")
    for row in r.rows:
        click.echo(f"  {row.block >> 10:>5} KiB  framed TCP {row.tcp_mb_s:8.1f} MB/s {row.tcp_iops:9.0f}/s   "
                   f"UCX {row.ucx_mb_s:8.1f} MB/s {row.ucx_iops:9.0f}/s   UCX/TCP {row.ratio:5.2f}x")
