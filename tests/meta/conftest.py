"""Meta operations over a real SQLite KV store, without servers; storage calls are recorded."""

from __future__ import annotations

import pytest

from fs3.meta import ops
from fs3.meta._cluster import ClusterManager
from fs3.meta._inode_ids import InodeAllocator, ensure_root
from fs3.meta.kv import SQLiteKV
from fs3.proto import cluster_pb2


class RecordingReclaimer(ops.ChunkReclaimer):
    """Records the chunk removals meta asks of storage (the real one speaks gRPC to storage nodes)."""

    def __init__(self):
        self.removed: list[tuple[int, int]] = []
        self.truncated: list[tuple[int, int, int]] = []

    def remove_chunks(self, inode, from_index):
        self.removed.append((inode.id, from_index))

    def truncate_chunk(self, inode, index, length):
        self.truncated.append((inode.id, index, length))


@pytest.fixture(params=["sqlite", "etcd"])
def kv(request, tmp_path):
    """Every meta test runs on both backends: SQLite, and a real 3-member etcd cluster."""
    if request.param == "sqlite":
        store = SQLiteKV(tmp_path / "meta.db")
    else:
        store = request.getfixturevalue("etcd").fresh_kv()
    yield store
    store.close()


@pytest.fixture
def manager(kv):
    m = ClusterManager(kv)
    for node in range(3):
        m.register(cluster_pb2.RegisterNodeRequest(
            address=f"127.0.0.{node + 2}:9000", targets=[cluster_pb2.TargetRegistration(path=f"/t{node}")]
        ))
    m.create_chains(1)
    return m


@pytest.fixture
def ctx(kv, manager):
    config = ops.NamespaceConfig(chunk_size=1 << 20, stripe=2)
    ensure_root(kv, config)
    return ops.OpContext(kv, InodeAllocator(kv), RecordingReclaimer(), config)
