"""A new name with a new inode behind it (symlinks and special files): the checks every create makes
and the records it writes, in one place."""

from __future__ import annotations

from fs3._errors import AlreadyExists
from fs3.proto import meta_pb2

from ..kv import Transaction
from . import _usage
from ._changes import touch
from ._context import OpContext
from ._permissions import Cred, W, X, check, new_file_mode, new_owner
from ._records import get_dentry, put_dentry, put_inode
from ._walk import dot_target, resolve_parent


def free_name(txn: Transaction, path: str, cred: Cred) -> tuple[meta_pb2.Inode, str]:
    """The directory and name a new inode at ``path`` goes in: EEXIST if the name is taken, EACCES
    without write and search permission on the directory."""
    if dot_target(txn, path, cred) is not None:
        raise AlreadyExists("File exists", path=path)
    parent, name = resolve_parent(txn, path, cred)
    if get_dentry(txn, parent.id, name) is not None:
        raise AlreadyExists("File exists", path=path)
    check(parent, cred, W | X, path)
    return parent, name


def add_entry(txn: Transaction, ctx: OpContext, cred: Cred, path: str, ino: int, kind: int,
              **fields) -> meta_pb2.Inode:
    """Inode ``ino`` of ``kind`` (with ``fields``) named ``path``: EEXIST if the name is taken, write and
    search permission on its directory, owned as ``new_owner`` says, counted against quotas."""
    parent, name = free_name(txn, path, cred)
    now = ctx.clock()
    uid, gid = new_owner(parent, cred)
    if "mode" in fields:
        fields["mode"] = new_file_mode(fields["mode"], gid, cred)
    inode = meta_pb2.Inode(id=ino, type=kind, nlink=1, uid=uid, gid=gid, parent=parent.id,
                           atime_ns=now, mtime_ns=now, ctime_ns=now, **fields)
    _usage.created(txn, inode, parent, path)  # one inode (and no bytes: usage_bytes counts files)
    put_inode(txn, inode)
    put_dentry(txn, parent.id, name, ino, kind)
    touch(parent, now)
    put_inode(txn, parent)
    return inode
