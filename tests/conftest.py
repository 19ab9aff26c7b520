"""Shared fixtures: real local clusters (meta + storage processes on 127.0.0.x) in temporary directories."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

import fs3
from fs3.local import LocalCluster, LocalClusterConfig


@pytest.fixture(autouse=True, scope="session")
def _isolated_state(tmp_path_factory):
    """Keep `fs3 up`'s "most recent cluster" pointer out of the user's home."""
    state = tmp_path_factory.mktemp("fs3-state")
    old = os.environ.get("FS3_STATE_DIR")
    os.environ["FS3_STATE_DIR"] = str(state)
    os.environ.pop("FS3_CLUSTER", None)
    yield state
    if old is None:
        os.environ.pop("FS3_STATE_DIR", None)
    else:
        os.environ["FS3_STATE_DIR"] = old


def start_cluster(data_dir: Path, **overrides) -> LocalCluster:
    config = LocalClusterConfig(data_dir=data_dir, gc_delay=0.0, **overrides)
    return LocalCluster.start(config, timeout=90)


@pytest.fixture(scope="session")
def cluster(tmp_path_factory):
    """One 3-node cluster for the session, with small chunks (64 KiB) so files span many chunks, and one
    replica per chain (so a damaged chunk has no other copy: tests/integration covers replication)."""
    c = start_cluster(tmp_path_factory.mktemp("cluster"), chunk_size=64 << 10, stripe=3, replicas=1)
    yield c
    c.stop()


@pytest.fixture(scope="session")
def client(cluster):
    with fs3.connect(cluster.meta[0]) as c:
        yield c


@pytest.fixture
def workdir(client) -> str:
    """A fresh directory in fs3 for one test."""
    path = f"/t-{uuid.uuid4().hex[:12]}"
    client.mkdir(path)
    return path


def corrupt_chunk(data_dir: Path, inode: int, index: int, offset: int = 0) -> Path:
    """Flip one byte of a stored chunk on whichever target holds it; returns the target directory."""
    import sqlite3
    import struct

    key = struct.pack(">QQ", inode, index)
    for db in Path(data_dir).glob("storage-*/target-*/chunks.db"):
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
            row = conn.execute("SELECT cls, slot, length FROM chunks WHERE id = ?", (key,)).fetchone()
        if row is None:
            continue
        cls, slot, length = row
        assert offset < length
        with open(db.parent / "slots" / f"c{cls}.dat", "r+b") as f:
            f.seek((slot << cls) + offset)
            byte = f.read(1)
            f.seek((slot << cls) + offset)
            f.write(bytes([byte[0] ^ 0x5A]))
        return db.parent
    raise AssertionError(f"chunk {inode}:{index} is on no target under {data_dir}")


@pytest.fixture
def corrupt():
    return corrupt_chunk
