"""`fs3 bench`: data-path benchmarks over a running cluster, each beside a local O_DIRECT baseline of the
same pattern and concurrency measured in the same run, with the ratio between them."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import tempfile
from pathlib import Path

import click

from fs3._errors import InvalidArgument
from fs3.bench import Comparison, as_dict, baseline, combine, workloads

from ._bench_run import BenchGroup, positive, sayer, temporary_dir
from ._common import emit_json, human_size, state

_UNITS = {"": 1, "B": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


def parse_size(text: str) -> int:
    t = str(text).strip().upper().removesuffix("IB").removesuffix("B") or "0"
    unit = t[-1] if t[-1] in _UNITS else ""
    try:
        value = float(t[: len(t) - len(unit)] if unit else t)
    except ValueError:
        raise InvalidArgument(f"Invalid size {text!r}: expected a number with an optional K, M, G or T") from None
    if value <= 0:
        raise InvalidArgument(f"Invalid size {text!r}: must be positive")
    return int(value * _UNITS[unit])


def _run(coro):
    try:
        import uvloop

        return uvloop.run(coro)
    except ImportError:  # pragma: no cover
        return asyncio.run(coro)


async def _client():
    from fs3.client import AsyncClient

    return await AsyncClient.connect(state().cluster, token=state().token)


def _progress(total: int, desc: str, enabled: bool):
    from tqdm import tqdm

    return tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, desc=desc, disable=not enabled,
                leave=False, dynamic_ncols=True)


async def _transports(client) -> list[dict]:
    return [{"node": s.address, "transport": s.transport, "lanes": s.lanes, "not_chosen": s.reasons}
            for s in await client.data_plane_status()]


def _replicas(routing) -> int:
    return max((t.replicas for t in routing.tables), default=0)


def _print(results: list[Comparison], transports: list[dict], replicas: int) -> None:
    click.echo(f"{'workload':<30} {'fs3':>34}   {'baseline (local O_DIRECT)':>34}   {'ratio':>6}  target")
    for r in results:
        def cell(m):
            if m is None:
                return "-"
            return (f"{m.throughput / 1e6:8.1f} MB/s {m.iops:8.0f} IOPS "
                    f"p50 {m.percentile(50) * 1e3:6.2f}ms p99 {m.percentile(99) * 1e3:6.2f}ms")
        ratio = f"{r.ratio:5.2f}x" if r.ratio is not None else "   -  "
        target = "" if r.target is None else f">= {r.target:.2f}x {'ok' if r.meets_target else 'MISSED'}"
        click.echo(f"{r.name:<30} {cell(r.fs3)}")
        click.echo(f"{'':<30} {'':>34}   {cell(r.baseline)}")
        click.echo(f"{'':<30} {'':>34}   {'':>34}   {ratio}  {target} ({r.metric})")
    click.echo(f"\nreplicas per chain: {replicas}")
    for t in transports:
        others = "; ".join(f"{k}: {v}" for k, v in t["not_chosen"].items())
        lanes = f" over {t['lanes']}" if t.get("lanes") else ""
        click.echo(f"node {t['node']}: transport {t['transport']}{lanes}" + (f" ({others})" if others else ""))


def _common(f):
    f = click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")(f)
    f = click.option("--baseline-dir", type=click.Path(path_type=Path), default=None,
                     help="Local directory for the baseline's files (default: a temporary one).")(f)
    f = click.option("--dir", "fs3_dir", default="/.bench", show_default=True, help="fs3 directory for test files.")(f)
    f = click.option("--progress/--no-progress", default=None, help="Progress bars (default: on a terminal).")(f)
    return f


class _Session:
    """One bench invocation: a client, the test files on both sides, cleanup."""

    def __init__(self, fs3_dir: str, baseline_dir: Path | None, progress: bool | None):
        import sys

        self.fs3_dir = fs3_dir
        self._written: list[str] = []
        self._tmp = None
        if baseline_dir is None:
            self._tmp = tempfile.mkdtemp(prefix="fs3-bench-")
            baseline_dir = Path(self._tmp)
        self.baseline_dir = baseline_dir
        self.show = sys.stderr.isatty() if progress is None else progress

    async def read_files(self, client, files: int, size: int):
        self._written = [f"{self.fs3_dir.rstrip('/')}/file-{i}-{size}" for i in range(files)]
        with _progress(files * size * 2, "preparing files", self.show) as bar:
            stats = await workloads.ensure_files(client, self.fs3_dir, files, size, progress=bar.update,
                                                 fresh=True)
            local = await asyncio.to_thread(baseline.make_files, self.baseline_dir, files, size)
            bar.update(files * size)
        return stats, local

    async def remove_files(self, client) -> None:
        """Remove the fs3 test files (written fresh by every run, so nothing is lost for the next one)."""
        for path in self._written:
            with contextlib.suppress(FileNotFoundError):
                await client.remove(path)

    def close(self) -> None:
        if self._tmp:
            shutil.rmtree(self._tmp, ignore_errors=True)


async def _rounds(fs3_run, base_run, rounds: int):
    """Alternate fs3 and baseline rounds (fs3 first, then baseline first, ...), so a disk whose speed
    drifts during the run weighs on both sides alike."""
    fs3_parts, base_parts = [], []
    for r in range(rounds):
        if r % 2 == 0:
            fs3_parts.append(await fs3_run())
            base_parts.append(await asyncio.to_thread(base_run))
        else:
            base_parts.append(await asyncio.to_thread(base_run))
            fs3_parts.append(await fs3_run())
    return combine(fs3_parts), combine(base_parts)


async def _read_case(client, session, stats, local, *, name, size, block, depth, batch, seconds, sequential,
                     target=None, metric="throughput", rounds=4) -> Comparison:
    each = seconds / rounds
    fs3_m, base_m = await _rounds(
        lambda: workloads.read(client, stats, size, block, depth, batch, each, sequential=sequential),
        lambda: baseline.read(local, size, block, depth, each, sequential=sequential),
        rounds,
    )
    params = {"block": block, "depth": depth, "batch": batch, "pattern": "sequential" if sequential else "random",
              "files": len(stats), "file_size": size, "seconds": seconds, "rounds": rounds}
    return Comparison(name, fs3_m, base_m, params, metric, target)


async def _write_case(client, session, *, name, block, total, target=None, rounds=4) -> Comparison:
    each = max(block, total // rounds // block * block)
    paths = [f"{session.fs3_dir.rstrip('/')}/write-test-{r}" for r in range(rounds)]
    written = iter(paths)
    try:
        fs3_m, base_m = await _rounds(
            lambda: workloads.write_sequential(client, next(written), block, each),
            lambda: baseline.write_sequential(session.baseline_dir, block, each),
            rounds,
        )
    finally:  # only now: reclaiming a removed file's chunks would run beside the rounds still to come
        for path in paths:
            with contextlib.suppress(FileNotFoundError):
                await client.remove(path)
    return Comparison(name, fs3_m, base_m,
                      {"block": block, "total": each * rounds, "pattern": "sequential", "rounds": rounds},
                      "throughput", target)


def _finish(results, transports, replicas, as_json, extra=None):
    if as_json:
        out = {"results": [r.summary() for r in results], "transports": transports, "replicas": replicas}
        out.update(extra or {})
        emit_json(out)
    else:
        _print(results, transports, replicas)


@click.group(cls=BenchGroup, invoke_without_command=True)
@_common
@click.option("--duration", default=10.0, show_default=True, help="Seconds per read workload.")
@click.option("--file-size", default="1G", show_default=True, help="Size of the test file.")
@click.option("--write-size", default="2G", show_default=True, help="Bytes the write workload writes.")
@click.pass_context
def bench(ctx, as_json, baseline_dir, fs3_dir, progress, duration, file_size, write_size):
    """Benchmark the data path. With no subcommand: the targets of the fast data path (1 MiB random reads
    16 in flight, 4 KiB random reads 32 in flight, sequential 4 MiB writes), each beside its baseline."""
    if ctx.invoked_subcommand is not None:
        return
    size, wsize = parse_size(file_size), parse_size(write_size)
    positive("--duration", duration)
    if size < (1 << 20):
        raise InvalidArgument("Invalid argument: --file-size must be at least 1M (it holds 1 MiB blocks)")

    async def run():
        client = await _client()
        session = _Session(fs3_dir, baseline_dir, progress)
        try:
            routing = await client.routing_info()
            replicas = _replicas(routing)
            stats, local = await session.read_files(client, 1, size)
            results = [
                await _read_case(client, session, stats, local, name="random read 1 MiB x16", size=size,
                                 block=1 << 20, depth=16, batch=1, seconds=duration, sequential=False, target=0.8),
                await _read_case(client, session, stats, local, name="random read 4 KiB x32", size=size,
                                 block=4096, depth=32, batch=16, seconds=duration, sequential=False,
                                 target=0.4, metric="iops"),
                await _write_case(client, session, name=f"sequential write 4 MiB (RF {replicas})", block=4 << 20,
                                  total=wsize, target=0.7 if replicas <= 1 else 0.25),
            ]
            transports = await _transports(client)
        finally:
            session.close()
            await session.remove_files(client)
            await client.close()
        _finish(results, transports, replicas, as_json)

    _run(run())


@bench.command("read")
@_common
@click.option("--block-size", default="1M", show_default=True)
@click.option("--depth", default=16, show_default=True, help="Reads in flight.")
@click.option("--batch", default=0, help="Reads per batch request (default: 1 for blocks of 256 KiB and "
              "more, else half of --depth).")
@click.option("--pattern", type=click.Choice(["random", "sequential"]), default="random", show_default=True)
@click.option("--files", default=1, show_default=True, help="Number of test files.")
@click.option("--file-size", default="1G", show_default=True)
@click.option("--duration", default=10.0, show_default=True, help="Seconds to run.")
def bench_read(as_json, baseline_dir, fs3_dir, progress, block_size, depth, batch, pattern, files, file_size,
               duration):
    """Batched reads of one block size and depth, beside the local O_DIRECT baseline."""
    block, size = parse_size(block_size), parse_size(file_size)
    positive("--duration", duration)
    if block > size or size % block:
        raise InvalidArgument("Invalid argument: --file-size must be a multiple of --block-size")
    if depth < 1 or files < 1:
        raise InvalidArgument("Invalid argument: --depth and --files must be at least 1")
    batch = batch or (1 if block >= 256 << 10 else max(1, depth // 2))

    async def run():
        client = await _client()
        session = _Session(fs3_dir, baseline_dir, progress)
        try:
            stats, local = await session.read_files(client, files, size)
            result = await _read_case(client, session, stats, local,
                                      name=f"{pattern} read {human_size(block)} x{depth}", size=size, block=block,
                                      depth=depth, batch=batch, seconds=duration, sequential=pattern == "sequential",
                                      metric="iops" if block < (64 << 10) else "throughput")
            transports = await _transports(client)
            replicas = _replicas(await client.routing_info())
        finally:
            session.close()
            await session.remove_files(client)
            await client.close()
        _finish([result], transports, replicas, as_json)

    _run(run())


@bench.command("write")
@_common
@click.option("--block-size", default="4M", show_default=True)
@click.option("--size", "total", default="2G", show_default=True, help="Bytes to write.")
def bench_write(as_json, baseline_dir, fs3_dir, progress, block_size, total):
    """Sequential writes of a new file (closed, so every byte is durable), beside local O_DIRECT writes."""
    block, total = parse_size(block_size), parse_size(total)

    async def run():
        client = await _client()
        session = _Session(fs3_dir, baseline_dir, progress)
        try:
            await client.mkdir(fs3_dir, parents=True)
            replicas = _replicas(await client.routing_info())
            result = await _write_case(client, session, name=f"sequential write {human_size(block)} (RF {replicas})",
                                       block=block, total=total)
            transports = await _transports(client)
        finally:
            session.close()
            await session.remove_files(client)
            await client.close()
        _finish([result], transports, replicas, as_json)

    _run(run())


@bench.command("stream")
@click.option("--size", default="10G", show_default=True, help="Size of the file read end to end.")
@click.option("--dir", "fs3_dir", default="/.bench", show_default=True)
@click.option("--buffer", "bufsize", default="16M", show_default=True, help="The reader's buffer.")
@click.option("--keep", is_flag=True, help="Keep the test file for the next run.")
@click.option("--progress/--no-progress", default=None)
@click.option("--json", "as_json", is_flag=True)
def bench_stream(size, fs3_dir, bufsize, keep, progress, as_json):
    """Read one large file end to end in a fresh client process; report throughput and its peak resident
    memory (the target: under 300 MB for a 10 GB file)."""
    total, buf = parse_size(size), parse_size(bufsize)
    session = _Session(fs3_dir, None, progress)

    async def prepare():
        client = await _client()
        try:
            with _progress(total, "writing test file", session.show) as bar:
                (st,) = await workloads.ensure_files(client, fs3_dir, 1, total, progress=bar.update)
            return client.address, st.path
        finally:
            await client.close()

    try:
        address, path = _run(prepare())
        result = workloads.stream_read(address, path, buf)
        if not keep:
            from fs3.client import connect

            with connect(address) as c:
                c.remove(path)
    finally:
        session.close()
    result["throughput_MBps"] = round(result["bytes"] / result["seconds"] / 1e6, 1)
    result["max_rss_MB"] = round(result["max_rss_bytes"] / 1e6, 1)
    result["target_max_rss_MB"] = 300
    result["meets_target"] = result["max_rss_MB"] < 300
    if as_json:
        emit_json(result)
    else:
        click.echo(f"read {human_size(result['bytes'])} in {result['seconds']:.1f}s "
                   f"({result['throughput_MBps']} MB/s); client peak RSS {result['max_rss_MB']} MB "
                   f"(target < 300 MB: {'ok' if result['meets_target'] else 'MISSED'})")


@bench.command("meta")
@click.option("--backend", type=click.Choice(["sqlite", "etcd", "all"]), default="sqlite", show_default=True,
              help="KV backends to measure: sqlite takes under a minute; etcd (and all) a few minutes more, its "
                   "commits wait on the disk (it needs the etcd binary: apt-get install etcd-server).")
@click.option("--clients", default=4, show_default=True, help="Concurrent client processes (1..64).")
@click.option("--files", default=2000, show_default=True, help="Files created, stated and removed in all.")
@click.option("--big-dir", default=10_000, show_default=True,
              help="Entries of the one large directory listed page by page (0: skip).")
@click.option("--data-dir", type=click.Path(path_type=Path), help="Where the clusters live (default: a temporary dir).")
@click.option("--json", "as_json", is_flag=True)
def bench_meta(backend, clients, files, big_dir, data_dir, as_json):
    """Metadata operations per second on a fresh local cluster per KV backend, beside the backend's own
    single-key transaction rate measured in the same run (target: create and stat within 3x of it).
    Each backend's figures are printed as soon as they are known; stopped by Ctrl-C or SIGTERM, it stops
    its clusters and removes its temporary files."""
    from fs3.bench import meta as meta_bench

    if not 1 <= clients <= 64 or files < clients or big_dir < 0:
        raise InvalidArgument("Invalid argument: --clients 1..64, --files at least --clients, --big-dir >= 0")
    backends = ["sqlite", "etcd"] if backend == "all" else [backend]
    if "etcd" in backends and shutil.which("etcd") is None:
        if backend == "etcd":
            raise InvalidArgument("etcd is not installed (Debian: apt-get install etcd-server)")
        backends.remove("etcd")
        click.echo("fs3 bench meta: etcd not installed; measuring sqlite only", err=True)
    shown = []

    def show(r) -> None:
        if as_json:
            shown.append(as_dict(r))
        else:
            _print_meta(r)

    with temporary_dir("fs3-bench-meta-", data_dir) as where:
        meta_bench.run(backends, clients=clients, files=files, big_dir=big_dir, data_dir=where,
                       say=sayer(as_json), on_result=show)
    if as_json:
        emit_json(shown)


def _print_meta(r) -> None:
    click.echo(f"{r.backend} ({r.clients} clients, {r.files} files):")
    click.echo(f"  raw backend: {r.raw_txn_per_s:8.0f} read-write txn/s  {r.raw_read_per_s:8.0f} reads/s"
               f"  (through fs3's KV layer: {r.kv_txn_per_s:.0f} txn/s)")
    for name, rate, ratio in (("create", r.create_per_s, r.ratios["create_vs_raw_txn"]),
                              ("stat", r.stat_per_s, r.ratios["stat_vs_raw_txn"]),
                              ("remove", r.remove_per_s, r.ratios["remove_vs_raw_txn"])):
        verdict = ("ok" if ratio >= 1 / 3 else "MISSED") if name != "remove" else ""
        click.echo(f"  {name:<7} {rate:8.0f}/s  = {ratio:.2f}x raw txn  {verdict}")
    click.echo(f"  readdir {r.readdir_entries_per_s:8.0f} entries/s")
    if r.big_dir_entries:
        click.echo(f"  one directory of {r.big_dir_entries} entries listed in {r.big_dir_list_s:.2f}s "
                   f"({r.big_dir_entries / max(r.big_dir_list_s, 1e-9):.0f}/s); client memory grew "
                   f"{r.big_dir_client_rss_growth_mb:.1f} MB while streaming it")


@bench.command("loader")
@click.option("--tokens", "total_tokens", default="128M", show_default=True,
              help="Tokens in the test shard set (uint16; K/M/G suffixes).")
@click.option("--seq-len", default=2048, show_default=True)
@click.option("--batch-size", default=8, show_default=True)
@click.option("--workers", default=0, show_default=True, help="DataLoader workers (both sides).")
@click.option("--rounds", default=8, show_default=True, help="Rounds (fs3 and memmap back to back, each first in turn).")
@click.option("--shuffle-block", type=int, default=None,
              help="Samples per shuffle block (1: a uniform shuffle; default about 1 MiB of tokens).")
@click.option("--first-batch-shards", default=100, show_default=True,
              help="Shards of the first-batch timing set (0: skip).")
@click.option("--first-batch-docs", default=10_000, show_default=True, help="Documents per shard there.")
@click.option("--json", "as_json", is_flag=True)
def bench_loader(total_tokens, seq_len, batch_size, workers, rounds, shuffle_block, first_batch_shards,
                 first_batch_docs, as_json):
    """Data loader throughput from fs3 beside a local numpy.memmap reader of the same shards in the same
    order through the same loader and workers, its page cache warm (targets, median of the rounds: in-process 0.9x,
    with workers 0.8x, --shuffle-block 1 0.3x), and the time to the first batch (target: under 2 s for
    10,000 documents x 100 shards). Runs against the current cluster."""
    from fs3.bench import loader as loader_bench

    from ._common import export_cluster

    tokens = parse_size(total_tokens)
    if tokens < 4 * (seq_len + 1) * batch_size or rounds < 1 or workers < 0 or (shuffle_block or 1) < 1:
        raise InvalidArgument("Invalid argument: --tokens must hold a few batches; --rounds >= 1; --workers >= 0; "
                              "--shuffle-block >= 1")
    export_cluster()
    r = loader_bench.run(total_tokens=tokens, seq_len=seq_len, batch_size=batch_size, workers=workers, rounds=rounds,
                    ttfb_shards=first_batch_shards, ttfb_docs=first_batch_docs, shuffle_block=shuffle_block,
                    say=(lambda m: None) if as_json else (lambda m: click.echo(f"  {m}", err=True)))
    if as_json:
        emit_json(as_dict(r))
        return
    target = 0.3 if shuffle_block == 1 else 0.8 if workers else 0.9
    shuffle = "uniform" if shuffle_block == 1 else f"block-window, blocks of {shuffle_block} samples" \
        if shuffle_block else "block-window"
    click.echo(f"loader, seq_len {seq_len}, batch {batch_size}, {workers} workers, shuffled ({shuffle}):")
    click.echo(f"  fs3     {r.fs3_tokens_per_s / 1e6:8.1f}M tokens/s")
    click.echo(f"  memmap  {r.memmap_tokens_per_s / 1e6:8.1f}M tokens/s (local copy, same order, same loader and "
               f"workers, in page cache)")
    click.echo(f"  ratio   {r.ratio:.2f}x  {'ok' if r.ratio >= target else 'MISSED'} (target >= {target}; median of "
               f"{len(r.round_ratios)} rounds, each side first in turn: "
               f"{', '.join(f'{x:.2f}' for x in r.round_ratios)})")
    click.echo(f"  memmap  {r.memmap_cold_tokens_per_s / 1e6:8.1f}M tokens/s (a second copy, page cache dropped before "
               f"each round; a reference for reads from the disk)  ratio {r.ratio_cold:.2f}x")
    if workers:
        click.echo(f"  workers started and delivered a first batch from fs3 in {r.workers_first_batch_s:.2f}s "
                   f"(persistent: once per run, not per epoch)")
    if r.first_batch_shards:
        click.echo(f"  first batch of {r.first_batch_shards} shards x {r.first_batch_documents:,} documents: "
                   f"{r.first_batch_s:.2f}s  {'ok' if r.first_batch_s < 2 else 'MISSED'} (target < 2 s)")


@bench.command("checkpoint")
@click.option("--size", "total", default="1G", show_default=True, help="Bytes of tensors in the state dict.")
@click.option("--tensors", default=16, show_default=True, help="Tensors they are split into.")
@click.option("--rounds", default=3, show_default=True, help="Alternating fs3 / local rounds (medians).")
@click.option("--dir", "fs3_dir", default="/.bench", show_default=True, help="fs3 directory for the checkpoint.")
@click.option("--baseline-dir", type=click.Path(path_type=Path), default=None,
              help="Local directory (on the disk to compare with) for the baseline's checkpoint; default: a "
                   "temporary one.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def bench_checkpoint(total, tensors, rounds, fs3_dir, baseline_dir, as_json):
    """torch.save and torch.load of a state dict on fs3 (through fsspec: docs/checkpoints.md) beside the
    same on the local disk in the same run (fsynced and renamed; loaded with the page cache dropped), in
    GB/s with the ratio. Needs PyTorch."""
    try:
        import torch  # noqa: F401
    except ImportError:
        raise InvalidArgument("fs3 bench checkpoint needs PyTorch (pip install 'fs3[torch]')") from None
    from fs3.bench import checkpoint
    from fs3.client.fsspec import FS3FileSystem

    size = parse_size(total)
    if tensors < 1 or rounds < 1 or size < tensors * 4:
        raise InvalidArgument("Invalid argument: --tensors >= 1, --rounds >= 1, and --size at least 4 bytes a tensor")
    fs = FS3FileSystem(cluster=state().cluster, token=state().token, skip_instance_cache=True)
    with temporary_dir("fs3-bench-", baseline_dir) as local_dir:
        r = checkpoint.run(total=size, tensors=tensors, rounds=rounds, fs=fs, fs3_dir=fs3_dir, local_dir=local_dir,
                           say=sayer(as_json))
    if as_json:
        emit_json(as_dict(r))
        return
    for line in checkpoint.describe(r):
        click.echo(line)


@bench.command("build")
@click.option("--size", "total", default="32M", show_default=True,
              help="Bytes of the small generated corpus (the large one is 4 times as much).")
@click.option("-j", "--processes", default=2, show_default=True, help="Worker processes (the large corpus "
              "is also built with 1, for the speed-up).")
@click.option("--dir", "work_dir", type=click.Path(path_type=Path), default=None,
              help="Local directory for the corpora and shards (default: a temporary one, removed after).")
@click.option("--partition-docs", default=None, type=int, help="Documents the coordinator sorts, and candidates "
              "it hands to a task, at a time (default: the build's, 1Mi and 256Ki); a smaller one shows its "
              "memory bounded at small corpora.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def bench_build(total, processes, work_dir, partition_docs, as_json):
    """fs3 shards build on generated JSONL corpora (random words, exact and near duplicates planted) of
    two sizes, with 1 and N processes: MB/s in total and per worker, peak memory of the coordinating
    process and of the largest worker, the speed-up from 1 to N, and how the coordinator's peak grows
    with the corpus."""
    from fs3.bench import build

    size = parse_size(total)
    if size < 1 << 16 or size > 1 << 40 or not 1 <= processes <= 256:
        raise InvalidArgument("Invalid argument: --size from 64K to 1T; --processes from 1 to 256")
    if partition_docs is not None and not 1 <= partition_docs <= 1 << 40:
        raise InvalidArgument("Invalid argument: --partition-docs from 1 to 2^40")
    with temporary_dir("fs3-bench-build-", work_dir) as where:
        where.mkdir(parents=True, exist_ok=True)
        r = build.run(size=size, processes=processes, workdir=where, say=sayer(as_json),
                      partition_docs=partition_docs)
    if as_json:
        emit_json(as_dict(r))
        return
    for line in build.describe(r):
        click.echo(line)


from ._bench_io import bench_calls, bench_mount, bench_scale, bench_smallfiles, bench_transport  # noqa: E402 (they use the helpers above)

for _command in (bench_smallfiles, bench_mount, bench_calls, bench_scale, bench_transport):
    bench.add_command(_command)
