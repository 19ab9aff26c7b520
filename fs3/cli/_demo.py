"""`fs3 demo`: the main job end to end on the embedded default. Starts a local cluster, copies a real
directory tree in (the Python standard library's `email`, `json` and `encodings` packages), lists it,
reads it back and checks every byte, reports throughput, and stops the cluster."""

from __future__ import annotations

import filecmp
import os
import shutil
import sysconfig
import tempfile
import time
from pathlib import Path

import click

from fs3._errors import FS3Error

from ._common import human_size

CORPUS = ("email", "json", "encodings")


def _corpus_dirs() -> list[Path]:
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    return [stdlib / name for name in CORPUS if (stdlib / name).is_dir()]


def _tree_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts)


@click.command()
@click.option("--data-dir", type=click.Path(path_type=Path), help="Cluster data directory (default: a temporary one).")
@click.option("--nodes", default=3, show_default=True, help="Storage nodes.")
@click.option("--keep", is_flag=True, help="Leave the cluster running afterwards.")
def demo(data_dir, nodes, keep):
    """Run fs3 end to end: start a cluster, copy a real tree in and out, verify, stop."""
    from fs3.client import connect
    from fs3.local import LocalCluster, LocalClusterConfig

    tmp = None
    if data_dir is None:
        tmp = tempfile.mkdtemp(prefix="fs3-demo-")
        data_dir = Path(tmp) / "cluster"
    sources = _corpus_dirs()
    if not sources:
        raise FS3Error("the demo corpus (Python's standard library sources) is not on this machine")
    say = lambda msg: click.echo(f"demo: {msg}")  # noqa: E731
    t0 = time.monotonic()
    cluster = LocalCluster.start(LocalClusterConfig(data_dir=data_dir, storage_nodes=nodes),
                                 progress=lambda m: say(m))
    say(f"cluster up in {time.monotonic() - t0:.1f}s: meta {cluster.meta[0]}, {nodes} storage nodes")
    try:
        with connect(cluster.meta[0]) as client:
            files = [(src, f) for src in sources for f in _tree_files(src)]
            total = sum(f.stat().st_size for _, f in files)
            client.mkdir("/demo", parents=True)
            t = time.monotonic()
            for src, f in files:
                rel = f.relative_to(src.parent).as_posix()
                parent = "/demo/" + rel.rsplit("/", 1)[0]
                client.mkdir(parent, parents=True)
                with open(f, "rb") as fin:
                    client.write(f"/demo/{rel}", fin.read())
            put = time.monotonic() - t
            say(f"copied {len(files)} files ({human_size(total)}) into fs3:///demo in {put:.2f}s "
                f"({len(files) / put:.0f} files/s)")
            for entry in client.ls("/demo", detail=True):
                count = sum(len(fs) for _, _, fs in client.walk(entry.path))
                say(f"  fs3:///demo/{entry.name}/  {count} files")
            out = Path(tempfile.mkdtemp(prefix="fs3-demo-out-"))
            t = time.monotonic()
            for src, f in files:
                rel = f.relative_to(src.parent).as_posix()
                dest = out / rel
                dest.parent.mkdir(parents=True, exist_ok=True)
                dest.write_bytes(client.read(f"/demo/{rel}"))
            get = time.monotonic() - t
            bad = [rel for src, f in files
                   if not filecmp.cmp(f, out / (rel := f.relative_to(src.parent).as_posix()), shallow=False)]
            shutil.rmtree(out, ignore_errors=True)
            if bad:
                raise FS3Error(f"{len(bad)} files differ after the round trip, e.g. {bad[0]}")
            say(f"read back and verified {len(files)} files byte for byte in {get:.2f}s "
                f"({human_size(total / get)}/s)")
            big = os.urandom(64 << 20)
            t = time.monotonic()
            client.write("/demo/big.bin", big)
            w = time.monotonic() - t
            t = time.monotonic()
            ok = client.read("/demo/big.bin") == big
            r = time.monotonic() - t
            if not ok:
                raise FS3Error("a 64 MiB file did not read back identically")
            say(f"64 MiB file: write {human_size(len(big) / w)}/s, read {human_size(len(big) / r)}/s (verified)")
    finally:
        if keep:
            say(f"cluster left running (data in {data_dir}); stop it with `fs3 down`")
        else:
            cluster.stop()
            say("cluster stopped")
            if tmp:
                shutil.rmtree(tmp, ignore_errors=True)
