"""Rename: move an entry within or across directories in one transaction.

POSIX cases: a file may replace a file, a directory may replace an empty directory; a directory over a
non-empty one is ENOTEMPTY, a directory over a file ENOTDIR, a file over a directory EISDIR; moving a
directory into its own subtree is EINVAL; renaming a name onto itself (or onto another name of the same
inode) changes nothing.
"""

from __future__ import annotations

from fs3._errors import (
    AlreadyExists,
    DirectoryNotEmpty,
    InvalidArgument,
    IsADirectory,
    NotADirectory,
    NotFound,
)
from fs3.proto import meta_pb2

from .. import _keys as keys
from ._common import (
    DIRECTORY,
    ROOT,
    OpContext,
    drop_directory,
    drop_link,
    get_dentry,
    get_inode,
    has_entries,
    put_dentry,
    put_inode,
    resolve_parent,
    touch,
)


def _is_within(txn, ancestor: int, start: int) -> bool:
    """Whether directory ``start`` is ``ancestor`` or lies below it (walks parent links to the root)."""
    seen = 0
    ino = start
    while True:
        if ino == ancestor:
            return True
        if ino == ROOT or seen > 4096:
            return False
        inode = get_inode(txn, ino)
        if inode is None:
            return False
        ino = inode.parent
        seen += 1


def rename(ctx: OpContext, req: meta_pb2.RenameRequest) -> meta_pb2.Inode:
    def run(txn):
        src_parent, src_name = resolve_parent(txn, req.src)
        dst_parent, dst_name = resolve_parent(txn, req.dst)
        if dst_parent.id == src_parent.id:
            dst_parent = src_parent  # one object, so both updates land in the one saved copy
        entry = get_dentry(txn, src_parent.id, src_name)
        if entry is None:
            raise NotFound("No such file or directory", path=req.src)
        inode = get_inode(txn, entry.inode)
        if inode is None:
            raise NotFound("No such file or directory (dangling entry)", path=req.src)
        if src_parent.id == dst_parent.id and src_name == dst_name:
            return inode
        is_dir = entry.type == DIRECTORY
        if is_dir and _is_within(txn, inode.id, dst_parent.id):
            raise InvalidArgument("Invalid argument: cannot move a directory into itself", path=req.dst)

        now = ctx.clock()
        existing = get_dentry(txn, dst_parent.id, dst_name)
        if existing is not None:
            if existing.inode == inode.id:
                return inode
            if req.no_replace:
                raise AlreadyExists("File exists", path=req.dst)
            victim = get_inode(txn, existing.inode)
            if existing.type == DIRECTORY:
                if not is_dir:
                    raise IsADirectory("Is a directory", path=req.dst)
                if victim is not None and has_entries(txn, victim.id):
                    raise DirectoryNotEmpty("Directory not empty", path=req.dst)
                if victim is not None:
                    drop_directory(txn, victim, now)
                dst_parent.nlink = max(2, dst_parent.nlink - 1)
            else:
                if is_dir:
                    raise NotADirectory("Not a directory", path=req.dst)
                if victim is not None:
                    drop_link(txn, victim, now)

        txn.clear(keys.dentry(src_parent.id, src_name))
        put_dentry(txn, dst_parent.id, dst_name, inode.id, entry.type)
        if is_dir and src_parent.id != dst_parent.id:
            src_parent.nlink = max(2, src_parent.nlink - 1)
            dst_parent.nlink += 1
            inode.parent = dst_parent.id
        touch(inode, now, data=False)
        put_inode(txn, inode)
        touch(src_parent, now)
        put_inode(txn, src_parent)
        if dst_parent is not src_parent:
            touch(dst_parent, now)
            put_inode(txn, dst_parent)
        return inode

    return ctx.kv.transact(run)
