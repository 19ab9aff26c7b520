"""StatFs: the storage targets' usage, from the context, divided by the replicas."""

from __future__ import annotations

from fs3.meta import ops
from fs3.meta.ops import ROOT_CRED as ROOT
from fs3.meta.ops import Cred
from fs3.proto import cluster_pb2, meta_pb2


def test_statfs_sums_targets_over_replicas(ctx):
    targets = [cluster_pb2.TargetInfo(id=i, used_bytes=300, free_bytes=3000) for i in range(3)]
    ctx.targets = lambda: targets
    fs = ops.statfs(ctx, ROOT, meta_pb2.StatFsRequest())
    assert fs.replicas == 1 and fs.used_bytes == 900 and fs.free_bytes == 9000
    assert fs.total_bytes == 9900 and fs.chunk_size == 1 << 20 and fs.inodes >= 1
    assert ops.statfs(ctx, Cred(1000, 1000), meta_pb2.StatFsRequest()) == fs  # any user may ask


def test_statfs_without_targets(ctx):
    fs = ops.statfs(ctx, ROOT, meta_pb2.StatFsRequest())
    assert (fs.used_bytes, fs.free_bytes, fs.total_bytes) == (0, 0, 0) and fs.chunk_size == 1 << 20
