"""Truncate: set a file's length; chunks past a shrunk end are reclaimed before the length changes.

The invariant it keeps: storage holds no bytes past a file's length, so growing a file later (by
truncate or by writing past the end) exposes zeros, never old data.
"""

from __future__ import annotations

from fs3._errors import InvalidArgument, IsADirectory, NotFound
from fs3.proto import meta_pb2

from . import _usage
from ._changes import touch
from ._context import OpContext
from ._group import MustLeaveGroup, storage_calls_refused
from ._permissions import Cred, W, check
from ._records import FILE, get_inode, put_inode
from ._stored import settle_stored
from ._walk import resolve

MAX_LENGTH = 1 << 62


def set_length(ctx: OpContext, ino: int, length: int, path: str) -> meta_pb2.Inode:
    """Give inode ``ino`` this length, its chunks past it reclaimed on storage first (Truncate, and an
    Open that truncates). Inside a group commit it raises ``MustLeaveGroup``: storage calls wait for
    no other call's commit."""
    if storage_calls_refused():
        raise MustLeaveGroup()
    inode = ctx.kv.transact(lambda txn: get_inode(txn, ino), readonly=True)
    if inode is None:
        raise NotFound("No such file or directory", path=path)
    chunk = inode.layout.chunk_size
    if chunk and inode.layout.chains:
        # Remove whole chunks past the end, then cut the one the new end falls in.
        first_gone = -(-length // chunk)
        ctx.chunks.remove_chunks(inode, first_gone)
        if length % chunk:
            ctx.chunks.truncate_chunk(inode, length // chunk, length % chunk)

    def run(txn):
        current = get_inode(txn, ino)
        if current is None:
            raise NotFound("No such file or directory", path=path)
        _usage.settle(txn, current, length, enforce=True, path=path)  # growing counts against quotas (EDQUOT)
        settle_stored(txn, current)  # chunks past the end are gone
        current.append_end = 0  # the next append goes to the new end
        touch(current, ctx.clock())
        put_inode(txn, current)
        return current

    return ctx.kv.transact(run)


def truncate(ctx: OpContext, cred: Cred, req: meta_pb2.TruncateRequest) -> meta_pb2.TruncateReply:
    """Set the length of the file at ``path`` (write permission on it)."""
    path, length = req.path, req.length
    if length < 0 or length > MAX_LENGTH:
        raise InvalidArgument(f"Invalid argument: length {length} out of range", path=path)
    inode = ctx.kv.transact(lambda txn: resolve(txn, path, cred), readonly=True)
    if inode.type != FILE:
        raise IsADirectory("Is a directory", path=path)
    check(inode, cred, W, path)
    return meta_pb2.TruncateReply(inode=set_length(ctx, inode.id, length, path))
