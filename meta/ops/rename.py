"""Rename: move an entry within or across directories in one transaction.

POSIX cases: a file may replace a file, a directory may replace an empty directory; a directory over a
non-empty one is ENOTEMPTY, a directory over a file ENOTDIR, a file over a directory EISDIR; moving a
directory into its own subtree is EINVAL; renaming a name onto itself (or onto another name of the same
inode) changes nothing. The caller needs write and search permission on both directories (and, moving
a directory elsewhere, write permission on it: its ``..`` changes).
"""

from __future__ import annotations

from fs3._errors import (
    AlreadyExists,
    Busy,
    DirectoryNotEmpty,
    InvalidArgument,
    IsADirectory,
    NotADirectory,
    NotFound,
)
from fs3.proto import meta_pb2

from .. import _keys as keys
from ..kv import Transaction
from . import _usage
from ._changes import drop_directory, drop_link, touch
from ._context import OpContext
from ._idempotence import once
from ._permissions import Cred, W, X, check, check_unlink
from ._records import DIRECTORY, ROOT, get_dentry, get_inode, has_entries, put_dentry, put_inode
from ._walk import dot_target, resolve_parent


def _is_within(txn: Transaction, ancestor: int, start: int) -> bool:
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


def move_entry(txn: Transaction, ctx: OpContext, cred: Cred, src_parent: meta_pb2.Inode, src_name: str,
               dst_parent: meta_pb2.Inode, dst_name: str, *, no_replace: bool = False,
               src_path: str = "", dst_path: str = "") -> meta_pb2.Inode:
    """Move ``src_parent/src_name`` to ``dst_parent/dst_name`` inside ``txn``; returns the moved inode."""
    if dst_parent.id == src_parent.id:
        dst_parent = src_parent  # one object, so both updates land in the one saved copy
    entry = get_dentry(txn, src_parent.id, src_name)
    if entry is None:
        raise NotFound("No such file or directory", path=src_path)
    inode = get_inode(txn, entry.inode)
    if inode is None:
        raise NotFound("No such file or directory (dangling entry)", path=src_path)
    check_unlink(src_parent, inode, cred, src_path)
    check(dst_parent, cred, W | X, dst_path)
    if src_parent.id == dst_parent.id and src_name == dst_name:
        return inode
    is_dir = entry.type == DIRECTORY
    if is_dir and _is_within(txn, inode.id, dst_parent.id):
        raise InvalidArgument("Invalid argument: cannot move a directory into itself", path=dst_path)
    if is_dir and src_parent.id != dst_parent.id:
        check(inode, cred, W, src_path)

    now = ctx.clock()
    existing = get_dentry(txn, dst_parent.id, dst_name)
    if existing is not None:
        if existing.inode == inode.id:
            return inode
        if no_replace:
            raise AlreadyExists("File exists", path=dst_path)
        victim = get_inode(txn, existing.inode)
        if existing.type == DIRECTORY:
            if _is_within(txn, existing.inode, src_parent.id):
                # the target is an ancestor of the source (rename a/b -> a): Linux says ENOTEMPTY
                raise DirectoryNotEmpty("Directory not empty", path=dst_path)
            if not is_dir:
                raise IsADirectory("Is a directory", path=dst_path)
            if victim is not None and has_entries(txn, victim.id):
                raise DirectoryNotEmpty("Directory not empty", path=dst_path)
            check_unlink(dst_parent, victim, cred, dst_path)
            if victim is not None:
                drop_directory(txn, victim, now)
            dst_parent.nlink = max(2, dst_parent.nlink - 1)
        else:
            if is_dir:
                raise NotADirectory("Not a directory", path=dst_path)
            check_unlink(dst_parent, victim, cred, dst_path)
            if victim is not None:
                drop_link(txn, victim, now)

    _usage.move(txn, inode, src_parent, dst_parent, dst_path)
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


def rename(ctx: OpContext, cred: Cred, req: meta_pb2.RenameRequest) -> meta_pb2.RenameReply:
    """Move ``src`` to ``dst`` (replacing it, unless ``no_replace``); the reply has the moved inode."""
    def run(txn):
        for path in (req.src, req.dst):
            if dot_target(txn, path, cred) is not None:
                raise Busy("Device or resource busy (a path ending in . or ..)", path=path)
        src_parent, src_name = resolve_parent(txn, req.src, cred)
        dst_parent, dst_name = resolve_parent(txn, req.dst, cred)
        return move_entry(txn, ctx, cred, src_parent, src_name, dst_parent, dst_name,
                          no_replace=req.no_replace, src_path=req.src, dst_path=req.dst)

    return meta_pb2.RenameReply(inode=once(ctx, req.request_id, meta_pb2.Inode, run))
