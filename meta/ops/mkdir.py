"""Mkdir: a new directory, optionally with its missing parents (``mkdir -p``)."""

from __future__ import annotations

from fs3._errors import AlreadyExists, NotADirectory
from fs3._paths import DOTS, split_path
from fs3.proto import common_pb2, meta_pb2

from ..kv import Transaction
from . import _usage
from ._changes import touch
from ._context import OpContext
from ._entries import free_name
from ._idempotence import once
from ._permissions import Cred, W, X, acting, check, new_owner
from ._records import DIRECTORY, get_dentry, put_dentry, put_inode
from ._walk import walk

DEFAULT_DIR_MODE = 0o755


def new_directory(ino: int, parent: meta_pb2.Inode, mode: int, now: int, cred: Cred) -> meta_pb2.Inode:
    """A directory inode owned by its creator; it inherits its parent's layout (chunk size, stripe), and
    from a setgid parent its group and the setgid bit (as on Linux)."""
    layout = common_pb2.Layout(chunk_size=parent.layout.chunk_size, stripe=parent.layout.stripe)
    uid, gid = new_owner(parent, cred)
    mode = (mode & 0o7777) | (parent.mode & 0o2000)
    return meta_pb2.Inode(
        id=ino, type=DIRECTORY, mode=mode, nlink=2, parent=parent.id, layout=layout,
        atime_ns=now, mtime_ns=now, ctime_ns=now, uid=uid, gid=gid,
    )


def add_directory(txn: Transaction, ctx: OpContext, parent: meta_pb2.Inode, name: str, ino: int, mode: int,
                  cred: Cred) -> meta_pb2.Inode:
    """A new directory ``name`` in ``parent`` (whose link count and times change), owned by ``cred``."""
    now = ctx.clock()
    inode = new_directory(ino, parent, mode, now, cred)
    _usage.created(txn, inode, parent)
    put_inode(txn, inode)
    put_dentry(txn, parent.id, name, ino, DIRECTORY)
    parent.nlink += 1
    touch(parent, now)
    put_inode(txn, parent)
    return inode


def mkdir(ctx: OpContext, cred: Cred, req: meta_pb2.MkdirRequest) -> meta_pb2.MkdirReply:
    """A directory at ``path`` (mode 0755 unless given); with ``parents``, its missing parents too and
    no error when it exists (``mkdir -p``). With ``exact_mode`` the mode is taken as it is (0 too);
    with ``caller`` (admin tokens only) it is made as, and owned by, that user."""
    cred = acting(cred, req)
    mode = req.mode if req.exact_mode else req.mode or DEFAULT_DIR_MODE
    if req.parents:
        return meta_pb2.MkdirReply(inode=_mkdir_parents(ctx, req.path, mode, cred, req.request_id))
    path = req.path
    ino = ctx.alloc_inode()

    def run(txn):
        parent, name = free_name(txn, path, cred)
        return add_directory(txn, ctx, parent, name, ino, mode, cred)

    return meta_pb2.MkdirReply(inode=once(ctx, req.request_id, meta_pb2.Inode, run))


def _mkdir_parents(ctx: OpContext, path: str, mode: int, cred: Cred, request_id: str) -> meta_pb2.Inode:
    parts = split_path(path)
    # Ids for the directories this call may create, taken before the transaction (allocation has its
    # own); unused ones are simply skipped (ids are 64-bit).
    fresh = [ctx.alloc_inode() for _ in parts]

    def run(txn):
        node = walk(txn, [], path, cred)
        for depth, name in enumerate(parts):
            if node.type != DIRECTORY:
                raise NotADirectory("Not a directory", path=path)
            if name in DOTS:
                node = walk(txn, [name], path, cred, start=node)
                continue
            entry = get_dentry(txn, node.id, name)
            if entry is not None:
                node = walk(txn, [name], path, cred, start=node)  # follows a symlink to a directory
                continue
            check(node, cred, W | X, path)
            node = add_directory(txn, ctx, node, name, fresh[depth], mode, cred)
        if node.type != DIRECTORY:
            raise AlreadyExists("File exists (not a directory)", path=path)
        return node

    return once(ctx, request_id, meta_pb2.Inode, run)
