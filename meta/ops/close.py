"""Close: end a write session and settle the file's length; renew and prune write sessions."""

from __future__ import annotations

from fs3.proto import meta_pb2

from .. import _keys as keys
from ._common import OpContext, get_inode, put_inode, touch


def close_file(ctx: OpContext, req: meta_pb2.CloseRequest) -> meta_pb2.Inode:
    """The length becomes at least the end of what this session wrote; a removed file just loses the
    session (its chunks are reclaimed once no session remains)."""

    def run(txn):
        txn.clear(keys.session(req.inode, req.session))
        inode = get_inode(txn, req.inode)
        if inode is None:
            return meta_pb2.Inode(id=req.inode)
        if req.wrote:
            inode.length = max(inode.length, req.written_end)
            touch(inode, ctx.clock())
            put_inode(txn, inode)
        return inode

    return ctx.kv.transact(run)


def renew_sessions(ctx: OpContext, pairs: list[tuple[int, int]]) -> int:
    """Extend the write sessions a live client still holds; returns how many still existed."""
    expires = ctx.clock() + int(ctx.config.session_ttl * 1e9)

    def run(txn):
        renewed = 0
        for ino, sid in pairs:
            raw = txn.get(keys.session(ino, sid))
            if raw is None:
                continue
            session = meta_pb2.Session.FromString(raw)
            session.expires_ns = expires
            txn.set(keys.session(ino, sid), session.SerializeToString())
            renewed += 1
        return renewed

    return ctx.kv.transact(run)


def prune_sessions(ctx: OpContext, limit: int = 1000) -> int:
    """Drop write sessions whose writer stopped renewing them (it crashed or lost the cluster); the
    file keeps the length of its last close."""
    now = ctx.clock()
    begin, end = keys.prefix_range(keys.SESSION)

    def run(txn):
        pruned = 0
        for key, raw in txn.get_range(begin, end, limit=limit):
            session = meta_pb2.Session.FromString(raw)
            if session.expires_ns and session.expires_ns < now:
                txn.clear(key)
                pruned += 1
        return pruned

    return ctx.kv.transact(run)
