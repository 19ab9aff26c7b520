"""Close: end a write session and settle the file's length."""

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
