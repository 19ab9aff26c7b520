"""`fs3 demo`: the main job end to end on the embedded default. Starts a local cluster, copies a real
corpus in (the Python standard library's sources, which hold genuine near duplicates such as the
`encodings/cp*.py` code pages), builds deduplicated token shards on fs3 from it, streams batches through a
PyTorch DataLoader (or the dataset itself where torch is absent), reports what it measured, and stops the
cluster."""

from __future__ import annotations

import os
import shutil
import sysconfig
import tempfile
import time
from pathlib import Path

import click

from fs3._errors import FS3Error
from fs3._retry import poll

from ._common import human_size, progress_enabled

SKIP = {"test", "tests", "site-packages", "dist-packages", "idlelib", "lib2to3", "__pycache__", "turtledemo",
        "tkinter", "ensurepip"}


def corpus_files() -> tuple[Path, list[Path]]:
    root = Path(sysconfig.get_paths()["stdlib"])
    files = sorted(p for p in root.rglob("*.py")
                   if not (set(p.relative_to(root).parts[:-1]) & SKIP) and not p.name.startswith("config-"))
    return root, files


@click.command()
@click.option("--data-dir", type=click.Path(path_type=Path), help="Cluster data directory (default: a temporary one).")
@click.option("--nodes", default=3, show_default=True, help="Storage nodes.")
@click.option("--batches", default=300, show_default=True, help="Batches to stream through the loader.")
@click.option("--batch-size", default=8, show_default=True, help="Samples per batch.")
@click.option("--seq-len", default=2048, show_default=True, help="Tokens per sample (plus one for the targets).")
@click.option("--workers", default=2, show_default=True, help="DataLoader worker processes.")
@click.option("--keep", is_flag=True, help="Leave the cluster running afterwards.")
@click.option("--existing", is_flag=True,
              help="Run against the cluster named by --cluster / FS3_CLUSTER instead of starting one "
                   "(creating its chains if it has none).")
@click.option("--replicas", default=3, show_default=True, help="With --existing: replicas of chains it creates.")
@click.option("--progress/--no-progress", default=None, help="Progress bars (default: on a terminal).")
def demo(data_dir, nodes, batches, batch_size, seq_len, workers, keep, existing, replicas, progress):
    """Run fs3's main job end to end: cluster up, corpus in, dedup and shard it, stream it to a
    DataLoader, cluster down."""
    from fs3.client import connect
    from fs3.local import LocalCluster, LocalClusterConfig

    from ._common import state

    root, files = corpus_files()
    if not files:
        raise FS3Error("the demo corpus (Python's standard library sources) is not on this machine")
    say = lambda msg: click.echo(f"demo: {msg}")  # noqa: E731
    if existing:
        st = state()
        address = st.cluster or os.environ.get("FS3_CLUSTER")
        if not address:
            raise FS3Error("--existing needs a cluster: pass --cluster HOST:PORT or set FS3_CLUSTER")
        with connect(address, token=st.token) as client:
            _ensure_chains(client, replicas, say)
            _pipeline(client, address, st.token, root, files, batches, batch_size, seq_len, workers, progress, say)
        return
    tmp = None
    if data_dir is None:
        tmp = tempfile.mkdtemp(prefix="fs3-demo-")
        data_dir = Path(tmp) / "cluster"
    t0 = time.monotonic()
    # a throwaway cluster in a temporary directory does not become the one `fs3` commands use
    cluster = LocalCluster.start(LocalClusterConfig(data_dir=data_dir, storage_nodes=nodes), progress=say,
                                 remember=tmp is None or keep)
    say(f"cluster up in {time.monotonic() - t0:.1f}s: meta {cluster.meta[0]}, {nodes} storage nodes")
    try:
        with connect(str(data_dir)) as client:
            _pipeline(client, str(data_dir), None, root, files, batches, batch_size, seq_len, workers, progress, say)
    finally:
        if keep:
            say(f"cluster left running (data in {data_dir}); stop it with `fs3 down`")
        else:
            cluster.stop()
            say("cluster stopped")
            if tmp:
                shutil.rmtree(tmp, ignore_errors=True)


def _ensure_chains(client, replicas: int, say, timeout: float = 120.0) -> None:
    """Wait until ``replicas`` storage nodes have registered; create chains when the cluster has none."""
    nodes = 0

    def chains_made() -> bool:
        nonlocal nodes
        routing = client.routing_info()
        nodes = len(routing.nodes)
        if routing.chains:
            return True
        if nodes >= replicas:
            client.create_chains(replicas)
            say(f"created chains of {replicas} replicas on {nodes} storage nodes")
            return True
        return False

    poll(chains_made, timeout, interval=1.0, error=lambda: FS3Error(
        f"only {nodes} storage nodes registered after {timeout:.0f}s; chains of {replicas} replicas need {replicas}"))


def _pipeline(client, address, token, root, files, batches, batch_size, seq_len, workers, progress, say) -> None:
    from fs3.dataloader import TokenDataset, build_shards, torch_available

    from ._common import ProgressBars

    saved = {k: os.environ.get(k) for k in ("FS3_CLUSTER", "FS3_TOKEN")}
    os.environ["FS3_CLUSTER"] = address  # the data loader connects by itself: to this cluster
    if token:
        os.environ["FS3_TOKEN"] = token
    else:
        os.environ.pop("FS3_TOKEN", None)
    try:
        total = sum(f.stat().st_size for f in files)
        t = time.monotonic()
        dirs = sorted({"/corpus/stdlib/" + f.relative_to(root).parent.as_posix() for f in files})
        for d in dirs:
            client.mkdir(d.rstrip("/."), parents=True)
        for f in files:
            client.write("/corpus/stdlib/" + f.relative_to(root).as_posix(), f.read_bytes())
        put = time.monotonic() - t
        say(f"copied {len(files)} source files of Python's standard library ({human_size(total)}) into "
            f"fs3:///corpus/stdlib in {put:.1f}s")

        bars = ProgressBars(progress_enabled(progress))
        t = time.monotonic()
        try:
            report = build_shards(["fs3:///corpus/stdlib"], "fs3:///datasets/stdlib", pattern="*.py",
                                  shard_tokens=1 << 21, progress=bars, overwrite=True)
        finally:
            bars.close()
        m = report.manifest
        stats = m.dedup["stats"]
        say(f"built {len(m.shards)} shards in {time.monotonic() - t:.1f}s: {stats['documents_in']} documents, "
            f"{stats['exact_duplicates_removed']} exact and {stats['near_duplicates_removed']} near "
            f"duplicates removed (MinHash {m.dedup['minhash']['num_perm']} permutations, "
            f"{m.dedup['minhash']['bands']}x{m.dedup['minhash']['rows']} bands, Jaccard "
            f"{m.dedup['minhash']['threshold']}), {m.documents} kept, {m.tokens:,} byte-level tokens")
        for c in report.duplicate_clusters(4):
            removed = [n.rsplit("/", 1)[-1] for n in c["removed"]]
            more = f" +{len(removed) - 4} more" if len(removed) > 4 else ""
            say(f"  {c['kind']} duplicates of {c['kept'].split('/', 1)[-1]}: {', '.join(removed[:4])}{more}")

        ds = TokenDataset("fs3:///datasets/stdlib", seq_len=seq_len, batch_size=batch_size, seed=0)
        available = len(ds) // batch_size
        if available < batches:
            say(f"the corpus holds {available} batches of {batch_size}x{seq_len + 1} tokens; streaming those")
            batches = available
        if torch_available():
            from fs3.dataloader import TokenLoader
            stream, how = TokenLoader(ds, num_workers=workers), f"a DataLoader with {workers} workers"
        else:
            def grouped():
                import numpy as np
                rows = []
                for row in ds:
                    rows.append(row)
                    if len(rows) == batch_size:
                        yield np.stack(rows)
                        rows = []
            stream, how = grouped(), "the dataset itself (PyTorch is not installed: pip install 'fs3[torch]')"
        t = time.monotonic()
        first = None
        tokens = 0
        sample = None
        for k, batch in enumerate(stream):
            if first is None:
                first = time.monotonic() - t
                sample = batch[0]
            tokens += batch.shape[0] * batch.shape[1]
            if k + 1 >= batches:
                break
        took = time.monotonic() - t
        del stream
        say(f"streamed {batches} shuffled batches of {batch_size}x{seq_len + 1} tokens through {how}: "
            f"first batch after {first:.2f}s, {tokens / took:,.0f} tokens/s ({human_size(tokens / took)}/s)")
        text = bytes(int(x) for x in sample[:160] if int(x)).decode("utf-8", errors="replace")
        say("a sample begins: " + " ".join(text.split())[:100] + " ...")
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
