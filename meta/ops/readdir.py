"""ReadDir: one page of a directory's entries in name order (byte order of the UTF-8 names)."""

from __future__ import annotations

from fs3._errors import NotADirectory
from fs3.proto import meta_pb2

from .. import _keys as keys
from ..kv import prefix_end
from ._context import OpContext
from ._permissions import Cred, R, check
from ._records import DIRECTORY, get_inode
from ._walk import resolve

MAX_PAGE = 10_000


def readdir(ctx: OpContext, cred: Cred, req: meta_pb2.ReadDirRequest) -> meta_pb2.ReadDirReply:
    """Up to ``limit`` entries after ``start_after`` (read permission on the directory)."""
    limit = min(req.limit or ctx.config.readdir_page, MAX_PAGE)

    def run(txn):
        directory = resolve(txn, req.path, cred)
        if directory.type != DIRECTORY:
            raise NotADirectory("Not a directory", path=req.path)
        check(directory, cred, R, req.path)
        prefix = keys.dentry_prefix(directory.id)
        begin = keys.dentry(directory.id, req.start_after) + b"\0" if req.start_after else prefix
        rows = txn.get_range(begin, prefix_end(prefix), limit=limit + 1)
        reply = meta_pb2.ReadDirReply(more=len(rows) > limit)
        for key, value in rows[:limit]:
            dentry = meta_pb2.Dentry.FromString(value)
            entry = reply.entries.add(name=keys.dentry_name(key), inode_id=dentry.inode, type=dentry.type)
            if req.with_inodes:
                inode = get_inode(txn, dentry.inode)
                if inode is not None:
                    entry.inode.CopyFrom(inode)
        return reply

    return ctx.kv.transact(run, readonly=True)
