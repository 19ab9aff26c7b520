"""Append: where an O_APPEND write goes, given out by meta so that appenders never overlap, whichever
descriptor, process or client they write from.

Each append is placed at the end of the file and of every append given out before it
(``Inode.append_end``) and moves that end on; the file's length grows when the appender closes (or
flushes) having written it, as for any write (close-to-open, docs/consistency.md). When the last writer
of the file is gone, ``append_end`` is forgotten: an append given out but never written (its writer
failed or died) leaves no hole for the next one.
"""

from __future__ import annotations

from fs3._errors import NotFound, PermissionDenied
from fs3.proto import meta_pb2

from .. import _keys as keys
from ._context import OpContext
from ._permissions import Cred
from ._records import get_inode, put_inode


def append(ctx: OpContext, cred: Cred, req: meta_pb2.AppendRequest) -> meta_pb2.AppendReply:
    """The offset for ``length`` bytes appended in write session ``session`` (the open that made the
    session checked the permissions; the session id is the writer's)."""

    def run(txn):
        if txn.get(keys.session(req.inode, req.session)) is None:
            raise PermissionDenied(f"Permission denied: no open write session {req.session} of inode {req.inode}")
        inode = get_inode(txn, req.inode)
        if inode is None:
            raise NotFound(f"No such file (inode {req.inode} was removed)")
        offset = max(inode.length, inode.append_end)
        inode.append_end = offset + req.length
        put_inode(txn, inode)
        return offset

    return meta_pb2.AppendReply(offset=ctx.kv.transact(run))
