"""StatFs: the file system's size and use, summed over the storage targets' last reports and divided
by the replication factor (what a user can still store, not raw disk)."""

from __future__ import annotations

from fs3.proto import cluster_pb2, meta_pb2

from .. import _keys as keys
from ._context import OpContext
from ._permissions import Cred
from ._records import ROOT, get_inode


def statfs(ctx: OpContext, cred: Cred, req: meta_pb2.StatFsRequest) -> meta_pb2.StatFsReply:
    """Any user may ask; the targets come from the context (the cluster manager's routing info)."""

    def run(txn):
        reply = meta_pb2.StatFsReply()
        raw = txn.get(keys.INODE_ALLOC)
        reply.inodes = keys.read_u64(raw) - ROOT if raw else 1
        root = get_inode(txn, ROOT)
        if root is not None:
            reply.chunk_size = root.layout.chunk_size
        table = txn.get(keys.chain_table(1))
        if table is not None:
            reply.replicas = cluster_pb2.ChainTable.FromString(table).replicas
        return reply

    reply = ctx.kv.transact(run, readonly=True)
    replicas = max(1, reply.replicas)
    for target in ctx.targets():
        reply.used_bytes += target.used_bytes
        reply.free_bytes += target.free_bytes
    reply.used_bytes //= replicas
    reply.free_bytes //= replicas
    reply.total_bytes = reply.used_bytes + reply.free_bytes
    return reply
