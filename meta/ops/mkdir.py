"""Mkdir: a new directory, optionally with its missing parents (``mkdir -p``)."""

from __future__ import annotations

from fs3._errors import AlreadyExists, NotADirectory
from fs3._paths import DOTS, split_path
from fs3.proto import common_pb2, meta_pb2

from ._common import (
    DIRECTORY,
    Cred,
    OpContext,
    W,
    X,
    check,
    dot_target,
    get_dentry,
    once,
    put_dentry,
    put_inode,
    resolve_parent,
    touch,
    walk,
)

DEFAULT_DIR_MODE = 0o755


def new_directory(ino: int, parent: meta_pb2.Inode, mode: int, now: int, cred: Cred) -> meta_pb2.Inode:
    """A directory inode owned by its creator; it inherits its parent's layout (chunk size, stripe)."""
    layout = common_pb2.Layout(chunk_size=parent.layout.chunk_size, stripe=parent.layout.stripe)
    return meta_pb2.Inode(
        id=ino, type=DIRECTORY, mode=mode & 0o7777, nlink=2, parent=parent.id, layout=layout,
        atime_ns=now, mtime_ns=now, ctime_ns=now, uid=cred.uid, gid=cred.gid,
    )


def add_directory(txn, ctx: OpContext, parent: meta_pb2.Inode, name: str, ino: int, mode: int,
                  cred: Cred) -> meta_pb2.Inode:
    now = ctx.clock()
    inode = new_directory(ino, parent, mode, now, cred)
    put_inode(txn, inode)
    put_dentry(txn, parent.id, name, ino, DIRECTORY)
    parent.nlink += 1
    touch(parent, now)
    put_inode(txn, parent)
    return inode


def mkdir(ctx: OpContext, path: str, cred: Cred, mode: int = DEFAULT_DIR_MODE, parents: bool = False,
          request_id: str = "") -> meta_pb2.Inode:
    mode = mode or DEFAULT_DIR_MODE
    if parents:
        return _mkdir_parents(ctx, path, mode, cred, request_id)
    ino = ctx.alloc_inode()

    def run(txn):
        if dot_target(txn, path, cred) is not None:
            raise AlreadyExists("File exists", path=path)
        parent, name = resolve_parent(txn, path, cred)
        if get_dentry(txn, parent.id, name) is not None:
            raise AlreadyExists("File exists", path=path)
        check(parent, cred, W | X, path)
        return add_directory(txn, ctx, parent, name, ino, mode, cred)

    return once(ctx, request_id, meta_pb2.Inode, run)


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


