"""Mkdir: a new directory, optionally with its missing parents (``mkdir -p``)."""

from __future__ import annotations

from fs3._errors import AlreadyExists, NotADirectory
from fs3._paths import split_path
from fs3.proto import common_pb2, meta_pb2

from ._common import (
    DIRECTORY,
    ROOT,
    OpContext,
    get_dentry,
    get_inode,
    put_dentry,
    put_inode,
    resolve_parent,
    touch,
)

DEFAULT_DIR_MODE = 0o755


def new_directory(ino: int, parent: meta_pb2.Inode, mode: int, now: int) -> meta_pb2.Inode:
    """A directory inode; it inherits its parent's layout (chunk size and stripe) for new files."""
    layout = common_pb2.Layout(chunk_size=parent.layout.chunk_size, stripe=parent.layout.stripe)
    return meta_pb2.Inode(
        id=ino, type=DIRECTORY, mode=mode & 0o7777, nlink=2, parent=parent.id, layout=layout,
        atime_ns=now, mtime_ns=now, ctime_ns=now, uid=parent.uid, gid=parent.gid,
    )


def mkdir(ctx: OpContext, path: str, mode: int = DEFAULT_DIR_MODE, parents: bool = False) -> meta_pb2.Inode:
    mode = mode or DEFAULT_DIR_MODE
    if parents:
        return _mkdir_parents(ctx, path, mode)
    ino = ctx.alloc_inode()

    def run(txn):
        parent, name = resolve_parent(txn, path)
        if get_dentry(txn, parent.id, name) is not None:
            raise AlreadyExists("File exists", path=path)
        now = ctx.clock()
        inode = new_directory(ino, parent, mode, now)
        put_inode(txn, inode)
        put_dentry(txn, parent.id, name, ino, DIRECTORY)
        parent.nlink += 1
        touch(parent, now)
        put_inode(txn, parent)
        return inode

    return ctx.kv.transact(run)


def _mkdir_parents(ctx: OpContext, path: str, mode: int) -> meta_pb2.Inode:
    parts = split_path(path)
    # Ids for the directories this call may create, taken before the transaction (allocation has its
    # own); unused ones are simply skipped (ids are 64-bit).
    fresh = [ctx.alloc_inode() for _ in parts]

    def run(txn):
        node = get_inode(txn, ROOT)
        for depth, name in enumerate(parts):
            if node.type != DIRECTORY:
                raise NotADirectory("Not a directory", path=path)
            entry = get_dentry(txn, node.id, name)
            if entry is not None:
                child = get_inode(txn, entry.inode)
                if child is not None:
                    node = child
                    continue
            now = ctx.clock()
            child = new_directory(fresh[depth], node, mode, now)
            put_inode(txn, child)
            put_dentry(txn, node.id, name, child.id, DIRECTORY)
            node.nlink += 1
            touch(node, now)
            put_inode(txn, node)
            node = child
        if node.type != DIRECTORY:
            raise AlreadyExists("File exists (not a directory)", path=path)
        return node

    return ctx.kv.transact(run)
