"""SetAttr: chmod, chown, utimes, and a directory's layout for the files created in it later.

POSIX rules: only the owner (or root) changes the mode, the times or the layout; only root gives a file
away to another user; the owner may change its group only to a group they belong to. A non-root chmod
of a file whose group the caller is not in drops the set-group-ID bit, as Linux does.
"""

from __future__ import annotations

from fs3._errors import InvalidArgument, NotPermitted
from fs3._layout import valid_chunk_size
from fs3.proto import meta_pb2

from .. import _keys as keys
from . import _usage
from ._changes import touch
from ._context import OpContext
from ._idempotence import once
from ._permissions import Cred, W, check, check_owner
from ._records import DIRECTORY, put_inode
from ._walk import resolve

SETGID = 0o2000


def _mark_writers(txn, ino: int) -> None:
    """An explicit mtime wins over the open writers' closes (``cp -p``, ``tar`` set it before closing):
    mark their sessions so that their close leaves the mtime alone."""
    begin, end = keys.prefix_range(keys.session_prefix(ino))
    for key, _ in txn.get_range(begin, end):
        txn.set(keys.TIMES_SET + key[len(keys.SESSION):], b"")


def setattr_(ctx: OpContext, cred: Cred, req: meta_pb2.SetAttrRequest) -> meta_pb2.SetAttrReply:
    """Change what the request's ``set_*`` flags (and a nonzero layout) name, by the rules above."""
    if req.chunk_size and not valid_chunk_size(req.chunk_size):
        raise InvalidArgument(f"Invalid chunk size {req.chunk_size}: a power of two from 4 KiB to 64 MiB",
                              path=req.path)
    if req.set_mode and req.mode & ~0o7777:
        raise InvalidArgument(f"Invalid mode {req.mode:o}: permission bits only", path=req.path)

    def run(txn):
        inode = resolve(txn, req.path, cred, follow=not req.no_follow)
        touching = req.times_now and not (req.set_mode or req.chunk_size or req.stripe)
        if touching and (req.set_atime or req.set_mtime) and inode.uid != cred.uid and not cred.root:
            check(inode, cred, W, req.path)  # times to now: who may write may (utimensat(2)), else EACCES
        elif req.set_mode or req.set_atime or req.set_mtime or req.chunk_size or req.stripe:
            check_owner(inode, cred, req.path)
        if req.set_uid and req.uid != inode.uid and not cred.root:
            raise NotPermitted("Operation not permitted (only root may change a file's owner)", path=req.path)
        if req.set_gid and req.gid != inode.gid and not cred.root:
            check_owner(inode, cred, req.path)
            if not cred.in_group(req.gid):
                raise NotPermitted(f"Operation not permitted (you are not in group {req.gid})", path=req.path)
        if req.chunk_size or req.stripe:
            if inode.type != DIRECTORY:
                raise InvalidArgument("Invalid argument: a layout is set on directories "
                                      "(a file's layout is fixed when it is created)", path=req.path)
            if req.chunk_size:
                inode.layout.chunk_size = req.chunk_size
            if req.stripe:
                inode.layout.stripe = req.stripe
        if req.set_mode:
            mode = req.mode
            if not cred.root and not cred.in_group(req.gid if req.set_gid else inode.gid):
                mode &= ~SETGID
            inode.mode = mode
        if req.set_uid:
            if req.uid != inode.uid:
                _usage.rechown(txn, inode, req.uid, req.path)
            inode.uid = req.uid
        if req.set_gid:
            inode.gid = req.gid
        now = ctx.clock()
        if req.set_atime:
            inode.atime_ns = now if req.times_now else req.atime_ns
        if req.set_mtime:
            inode.mtime_ns = now if req.times_now else req.mtime_ns
            _mark_writers(txn, inode.id)
        touch(inode, now, data=False)
        put_inode(txn, inode)
        return inode

    return meta_pb2.SetAttrReply(inode=once(ctx, req.request_id, meta_pb2.Inode, run))
