"""Remove: unlink a file or symlink, rmdir an empty directory, detach a whole tree at once, or move
an entry to the trash.

A recursive remove only detaches the tree's root from its parent (one transaction, however large the
tree); the garbage collector then walks the detached tree and reclaims it in the background. Emptying a
tree needs write permission on its top directory, not on every directory below (the collector does the
rest on the owner's behalf).

The trash is ``/.trash/<user>/``: a trashed entry keeps its name plus the time it was trashed
(``name.20261129T101500``), is restored by moving it back, and is removed for good by the collector
once it is older than the namespace's trash expiry. ``/.trash`` is root's, mode 0711: anyone may
reach their own directory in it, nobody but root may list or add to it. Each ``/.trash/<user>`` is
that user's, mode 0700. A trash found otherwise (made by someone else, opened with chmod, a plain
file in its place) is not used: ``rm --trash`` is refused with what is wrong and what to do, and
nothing moves, so nobody can read what another user trashes.
"""

from __future__ import annotations

import time

from fs3._errors import (
    DirectoryNotEmpty,
    InvalidArgument,
    IsADirectory,
    NotADirectory,
    NotFound,
    NotPermitted,
)
from fs3._paths import split_path
from fs3.proto import meta_pb2

from .. import _keys as keys
from ..kv import Transaction
from ._changes import drop_directory, drop_link, queue_garbage, touch
from ._context import OpContext
from ._idempotence import once
from ._permissions import Cred, W, X, check, check_unlink
from ._records import DIRECTORY, ROOT, TRASH, get_dentry, get_inode, has_entries, put_inode
from ._walk import dot_target, resolve_parent
from .mkdir import add_directory
from .rename import move_entry

TRASH_MODE = 0o711       # root's: users reach their own directory by name, nobody lists the others
USER_TRASH_MODE = 0o700


def remove(ctx: OpContext, cred: Cred, req: meta_pb2.RemoveRequest) -> meta_pb2.RemoveReply:
    """Unlink (``rm``), ``directory`` (rmdir), ``recursive`` (detach a tree), ``any_type`` (whatever
    is there), or ``trash`` (move it to /.trash/<user>/)."""
    trash_ids = (ctx.alloc_inode(), ctx.alloc_inode()) if req.trash else None

    def run(txn):
        if dot_target(txn, req.path, cred) is not None:  # as Linux answers unlink and rmdir of them
            if not (req.directory or req.recursive or req.any_type):
                raise IsADirectory("Is a directory", path=req.path)
            if split_path(req.path)[-1] == ".":
                raise InvalidArgument("Invalid argument (cannot remove '.')", path=req.path)
            raise DirectoryNotEmpty("Directory not empty", path=req.path)
        parent, name = resolve_parent(txn, req.path, cred)
        entry = get_dentry(txn, parent.id, name)
        if entry is None:
            raise NotFound("No such file or directory", path=req.path)
        inode = get_inode(txn, entry.inode)
        if entry.type == DIRECTORY and not (req.directory or req.recursive or req.any_type):
            raise IsADirectory("Is a directory", path=req.path)
        if entry.type != DIRECTORY and req.directory:
            raise NotADirectory("Not a directory", path=req.path)
        check_unlink(parent, inode, cred, req.path)
        if trash_ids and not _in_trash(txn, parent):
            _to_trash(txn, ctx, cred, parent, name, trash_ids, req.path)
            return None
        now = ctx.clock()
        if entry.type == DIRECTORY:
            if inode is not None:
                if has_entries(txn, inode.id):
                    if not req.recursive:
                        raise DirectoryNotEmpty("Directory not empty", path=req.path)
                    check(inode, cred, W | X, req.path)
                    queue_garbage(txn, inode, now)
                else:
                    drop_directory(txn, inode, now)
            parent.nlink = max(2, parent.nlink - 1)
        elif inode is not None:
            drop_link(txn, inode, now)
        txn.clear(keys.dentry(parent.id, name))
        touch(parent, now)
        put_inode(txn, parent)
        return None

    once(ctx, req.request_id, None, run)
    return meta_pb2.RemoveReply()


def _in_trash(txn: Transaction, directory: meta_pb2.Inode) -> bool:
    """Whether ``directory`` is /.trash or below it (removing from the trash removes for good)."""
    trash = get_dentry(txn, ROOT, TRASH)
    if trash is None:
        return False
    ino, hops = directory.id, 0
    while ino != ROOT and hops < 4096:
        if ino == trash.inode:
            return True
        node = get_inode(txn, ino)
        if node is None:
            return False
        ino, hops = node.parent, hops + 1
    return ino == trash.inode


def _trash_dir(txn: Transaction, ctx: OpContext, parent: meta_pb2.Inode, name: str, ino: int, mode: int,
               owner: Cred, path: str, forbidden: int) -> meta_pb2.Inode:
    """The trash directory ``parent/name``, made ``mode`` and ``owner``'s when missing. One that exists
    must be ``owner``'s directory without any of the ``forbidden`` mode bits, else the trash is
    refused (see the module docstring)."""
    entry = get_dentry(txn, parent.id, name)
    if entry is None:
        return add_directory(txn, ctx, parent, name, ino, mode, owner)
    node = get_inode(txn, entry.inode)
    move_away = f"an admin should move it out of the way (`fs3 mv {path} /{name}.suspect`), then retry"
    if node is None or node.type != DIRECTORY:
        raise _unsafe(path, "is not a directory", move_away)
    if node.uid != owner.uid:
        whose = "root" if owner.root else f"{owner.name or 'uid ' + str(owner.uid)} (uid {owner.uid})"
        raise _unsafe(path, f"belongs to uid {node.uid}, not to {whose}", move_away)
    extra = node.mode & forbidden
    if extra:
        can = " and ".join(verb for bits, verb in ((0o044, "list"), (0o022, "write to"), (0o011, "enter"))
                           if extra & bits)
        who = "you should" if node.uid and node.uid == owner.uid else "an admin should"
        raise _unsafe(path, f"is mode {node.mode & 0o7777:04o}: group/other may {can} it",
                      f"{who} check what it holds, then run `fs3 chmod {mode:o} {path}`")
    return node


def _unsafe(path: str, what: str, fix: str) -> NotPermitted:
    return NotPermitted(f"Operation not permitted: the trash is not private: {path} {what}; nothing was "
                        f"moved; {fix}")


def _to_trash(txn: Transaction, ctx: OpContext, cred: Cred, parent: meta_pb2.Inode, name: str,
              ids: tuple[int, int], path: str) -> None:
    root = get_inode(txn, ROOT)
    if parent.id == ROOT:
        root = parent  # one object, so the move's update of it is not lost
    trash = _trash_dir(txn, ctx, root, TRASH, ids[0], TRASH_MODE, Cred(0, 0), f"/{TRASH}", 0o022)
    user = cred.name or str(cred.uid)
    mine = _trash_dir(txn, ctx, trash, user, ids[1], USER_TRASH_MODE, cred, f"/{TRASH}/{user}", 0o077)
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(ctx.clock() / 1e9))
    dst_name, n = f"{name}.{stamp}"[:255], 1
    while get_dentry(txn, mine.id, dst_name) is not None:
        n += 1
        dst_name = f"{name}.{stamp}.{n}"[-255:]
    if parent.id == mine.id:
        mine = parent
    move_entry(txn, ctx, cred, parent, name, mine, dst_name, no_replace=True, src_path=path,
               dst_path=f"/{TRASH}/{mine.id}/{dst_name}")
