"""Checkpoints on fs3 through fsspec (docs/checkpoints.md): torch.save / torch.load on fs3:// paths, atomic
writes (an exception or a kill -9 mid-save leaves the previous checkpoint loadable), and
torch.distributed.checkpoint with two gloo ranks in real processes."""

from __future__ import annotations

import gc
import io
import os
import posixpath
import subprocess
import sys
import textwrap
import uuid

import fsspec
import pytest
from _timing import wait_for

from fs3.client.fsspec import TEMP_MARK, FS3FileSystem

pytestmark = pytest.mark.needs_torch


@pytest.fixture(scope="module")
def fs(cluster):
    return FS3FileSystem(cluster=cluster.meta[0], skip_instance_cache=True)


@pytest.fixture
def ckdir(fs) -> str:
    path = f"/ck-{uuid.uuid4().hex[:10]}"
    fs.makedirs(path, exist_ok=True)
    return path


def names(fs, path: str) -> list[str]:
    return sorted(posixpath.basename(p) for p in fs.ls(path, detail=False))


def load(url: str):
    import torch
    with fsspec.open(url, "rb") as f:
        return torch.load(io.BytesIO(f.read()))


def test_torch_save_and_load_on_fs3_paths(cluster, fs, ckdir):
    import torch
    url = f"fs3://{cluster.meta[0]}{ckdir}/step100.pt"
    state = {"w": torch.randn(256, 256), "step": 100}
    with fsspec.open(url, "wb") as f:
        torch.save(state, f)
    with fsspec.open(url, "rb") as f:
        back = torch.load(f)  # torch reads the zip straight from the fs3 file (seeks and ranges)
    assert back["step"] == 100 and torch.equal(back["w"], state["w"])
    assert names(fs, ckdir) == ["step100.pt"]  # the temporary was renamed, nothing else left


@pytest.mark.parametrize("opener", ["fs.open", "fsspec.open"])
def test_an_exception_mid_save_keeps_the_previous_checkpoint(cluster, fs, ckdir, opener):
    import torch
    url = f"fs3://{cluster.meta[0]}{ckdir}/model.pt"
    with fsspec.open(url, "wb") as f:
        torch.save({"step": 1}, f)
    with pytest.raises(RuntimeError, match="out of memory, say"):
        with (fs.open(f"{ckdir}/model.pt", "wb") if opener == "fs.open" else fsspec.open(url, "wb")) as f:
            f.write(b"\0" * (9 << 20))  # past the 4 MiB block: already streaming to fs3
            assert any(TEMP_MARK in n for n in names(fs, ckdir))  # to a hidden temporary, not model.pt
            raise RuntimeError("out of memory, say")
    assert load(url) == {"step": 1}
    assert names(fs, ckdir) == ["model.pt"]  # the temporary went with the failed save


def test_a_killed_save_keeps_the_previous_checkpoint(cluster, fs, ckdir):
    import torch
    url = f"fs3://{cluster.meta[0]}{ckdir}/model.pt"
    with fsspec.open(url, "wb") as f:
        torch.save({"step": 1}, f)
    saver = subprocess.Popen([sys.executable, "-c", textwrap.dedent("""
        import sys, fsspec
        with fsspec.open(sys.argv[1], "wb") as f:
            f.write(b"\\0" * (9 << 20))   # streaming to fs3 already
            print("saving", flush=True)
            sys.stdin.readline()          # killed here, mid-save
            f.write(b"never")
        """), url], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert saver.stdout is not None
        assert saver.stdout.readline().strip() == "saving"
        saver.kill()
    finally:
        saver.kill()
        saver.wait()
    assert load(url) == {"step": 1}
    left = [n for n in names(fs, ckdir) if n != "model.pt"]
    assert len(left) == 1 and left[0].startswith(".model.pt" + TEMP_MARK)  # hidden, beside it
    assert fs.clean_temporaries(ckdir) == []  # a young temporary may be a live writer's: kept
    assert fs.clean_temporaries(ckdir, older_than=0) == [f"{ckdir}/{left[0]}"]
    assert names(fs, ckdir) == ["model.pt"]


def test_exclusive_saves_refuse_an_existing_checkpoint(cluster, fs, ckdir):
    fs.pipe(f"{ckdir}/a.pt", b"old")
    with pytest.raises(FileExistsError):
        fs.open(f"{ckdir}/a.pt", "xb")
    with fs.open(f"{ckdir}/b.pt", "xb") as f:
        f.write(b"new")
        fs.pipe(f"{ckdir}/b.pt", b"raced")  # another writer got there first: the rename refuses it
        with pytest.raises(FileExistsError):
            f.close()
    assert fs.cat(f"{ckdir}/a.pt") == b"old" and fs.cat(f"{ckdir}/b.pt") == b"raced"
    assert names(fs, ckdir) == ["a.pt", "b.pt"]


def test_large_reads_bypass_the_read_ahead_and_stay_exact(fs, ckdir):
    data = os.urandom((5 << 20) + 123)
    fs.pipe(f"{ckdir}/r.bin", data)
    with fs.open(f"{ckdir}/r.bin", "rb") as f:
        assert f.read(30) == data[:30]  # small: through the 1 MiB read-ahead
        buf = bytearray(3 << 20)
        assert f.readinto(buf) == len(buf) and buf == data[30:30 + len(buf)]  # large: straight into buf
        f.seek(len(data) - 1000)
        tail = bytearray(2 << 20)
        assert f.readinto(tail) == 1000 and tail[:1000] == data[-1000:]  # short at the end of the file
        assert f.readinto(tail) == 0 and f.read() == b""


def test_a_transaction_commits_at_its_end_and_a_dropped_writer_commits_nothing(fs, ckdir):
    with fs.transaction:
        with fs.open(f"{ckdir}/t.pt", "wb") as f:
            f.write(b"\1" * (5 << 20))
        assert names(fs, ckdir) != ["t.pt"] and not fs.exists(f"{ckdir}/t.pt")  # closed, not yet committed
    assert fs.cat(f"{ckdir}/t.pt") == b"\1" * (5 << 20) and names(fs, ckdir) == ["t.pt"]
    f = fs.open(f"{ckdir}/t.pt", "wb")
    f.write(b"\2" * (5 << 20))  # streaming to its temporary
    del f  # never closed: the garbage collector drops it
    gc.collect()
    assert fs.cat(f"{ckdir}/t.pt") == b"\1" * (5 << 20) and names(fs, ckdir) == ["t.pt"]


DCP_RANK = """
import os, sys
import torch
import torch.distributed as dist
import torch.distributed.checkpoint as dcp
from torch.distributed.checkpoint._fsspec_filesystem import FsspecWriter
from torch.distributed.device_mesh import init_device_mesh
from torch.distributed.tensor import Shard, distribute_tensor

rank, url, rendezvous = int(sys.argv[1]), sys.argv[2], sys.argv[3]
dist.init_process_group("gloo", init_method=f"file://{rendezvous}", rank=rank, world_size=2)
mesh = init_device_mesh("cpu", (2,))
full = torch.arange(4096 * 64, dtype=torch.float32).reshape(4096, 64)
state = {"model": {"w": distribute_tensor(full, mesh, [Shard(0)]), "b": torch.ones(8)},
         "step": 200}
dcp.save(state, storage_writer=FsspecWriter(url, sync_files=False))
dist.barrier()
fresh = {"model": {"w": distribute_tensor(torch.zeros(4096, 64), mesh, [Shard(0)]), "b": torch.zeros(8)},
         "step": 0}
dcp.load(fresh, checkpoint_id=url)  # the fsspec reader, chosen by the URL
assert fresh["step"] == 200, fresh["step"]
assert torch.equal(fresh["model"]["w"].full_tensor(), full)
assert torch.equal(fresh["model"]["b"], torch.ones(8))
dist.destroy_process_group()
print("ok", rank, flush=True)
"""


def test_distributed_checkpoint_with_two_gloo_ranks(cluster, fs, ckdir, tmp_path):
    url = f"fs3://{cluster.meta[0]}{ckdir}/step200"
    script = tmp_path / "rank.py"
    script.write_text(DCP_RANK)
    logs = [(tmp_path / f"rank{r}.out", tmp_path / f"rank{r}.err") for r in range(2)]
    ranks = [subprocess.Popen([sys.executable, str(script), str(r), url, str(tmp_path / "rendezvous")],
                              stdout=out.open("w"), stderr=err.open("w")) for r, (out, err) in enumerate(logs)]
    try:
        wait_for(lambda: all(p.poll() is not None for p in ranks), timeout=240, what="both ranks to finish")
    finally:
        for p in ranks:
            p.kill()
            p.wait()
    for r, (p, (out, err)) in enumerate(zip(ranks, logs, strict=True)):
        assert p.returncode == 0 and out.read_text().strip() == f"ok {r}", err.read_text()[-3000:]
    files = names(fs, f"{ckdir}/step200")
    assert ".metadata" in files and sum(f.endswith(".distcp") for f in files) == 2  # one file per rank
    assert not [f for f in files if TEMP_MARK in f]
