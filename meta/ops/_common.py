"""What every namespace operation shares: the operation context, typed KV access and path resolution."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from fs3._errors import Busy, NotADirectory, NotFound
from fs3._layout import DEFAULT_CHUNK_SIZE, DEFAULT_STRIPE
from fs3._paths import split_path
from fs3.proto import meta_pb2

from .. import _keys as keys
from ..kv import KVStore, Transaction

ROOT = 1
FILE = meta_pb2.FILE
DIRECTORY = meta_pb2.DIRECTORY
SYMLINK = meta_pb2.SYMLINK


@dataclass
class NamespaceConfig:
    chunk_size: int = DEFAULT_CHUNK_SIZE  # default layout of the root directory
    stripe: int = DEFAULT_STRIPE
    readdir_page: int = 1000              # entries per ReadDir page when the caller names no limit


@dataclass
class OpContext:
    """What an operation needs: the store, inode ids, chunk reclamation and a clock."""

    kv: KVStore
    alloc_inode: Callable[[], int]
    chunks: ChunkReclaimer
    config: NamespaceConfig = field(default_factory=NamespaceConfig)
    clock: Callable[[], int] = time.time_ns


class ChunkReclaimer:
    """Removes or shortens a file's chunks on storage (implemented by the server over gRPC)."""

    def remove_chunks(self, inode: meta_pb2.Inode, from_index: int) -> None:
        raise NotImplementedError

    def truncate_chunk(self, inode: meta_pb2.Inode, index: int, length: int) -> None:
        raise NotImplementedError


def get_inode(txn: Transaction, ino: int) -> meta_pb2.Inode | None:
    raw = txn.get(keys.inode(ino))
    if raw is None:
        return None
    return meta_pb2.Inode.FromString(raw)


def put_inode(txn: Transaction, inode: meta_pb2.Inode) -> None:
    txn.set(keys.inode(inode.id), inode.SerializeToString())


def get_dentry(txn: Transaction, parent: int, name: str) -> meta_pb2.Dentry | None:
    raw = txn.get(keys.dentry(parent, name))
    return None if raw is None else meta_pb2.Dentry.FromString(raw)


def put_dentry(txn: Transaction, parent: int, name: str, ino: int, kind: int) -> None:
    txn.set(keys.dentry(parent, name), meta_pb2.Dentry(inode=ino, type=kind).SerializeToString())


def has_entries(txn: Transaction, ino: int) -> bool:
    begin, end = keys.prefix_range(keys.dentry_prefix(ino))
    return bool(txn.get_range(begin, end, limit=1))


def walk(txn: Transaction, parts: list[str], path: str) -> meta_pb2.Inode:
    """The inode at ``parts`` below the root: ENOENT if a component is missing, ENOTDIR if one is not a
    directory."""
    node = get_inode(txn, ROOT)
    if node is None:
        raise NotFound("No such file or directory (the namespace has no root)", path=path)
    for name in parts:
        if node.type != DIRECTORY:
            raise NotADirectory("Not a directory", path=path)
        entry = get_dentry(txn, node.id, name)
        if entry is None:
            raise NotFound("No such file or directory", path=path)
        child = get_inode(txn, entry.inode)
        if child is None:
            raise NotFound("No such file or directory (dangling entry)", path=path)
        node = child
    return node


def resolve(txn: Transaction, path: str) -> meta_pb2.Inode:
    return walk(txn, split_path(path), path)


def resolve_parent(txn: Transaction, path: str) -> tuple[meta_pb2.Inode, str]:
    """The directory that holds the last component of ``path``, and that component."""
    parts = split_path(path)
    if not parts:
        raise Busy("Device or resource busy (the root directory cannot be created, moved or removed)", path=path)
    parent = walk(txn, parts[:-1], path)
    if parent.type != DIRECTORY:
        raise NotADirectory("Not a directory", path=path)
    return parent, parts[-1]


def touch(inode: meta_pb2.Inode, now: int, *, data: bool = True) -> None:
    """Record a change: ctime always, mtime when the content (or a directory's entries) changed."""
    inode.ctime_ns = now
    if data:
        inode.mtime_ns = now


def queue_garbage(txn: Transaction, inode: meta_pb2.Inode, now: int) -> None:
    """Hand an unreachable inode to the garbage collector, which reclaims its chunks (or subtree)."""
    txn.clear(keys.inode(inode.id))
    entry = meta_pb2.GarbageEntry(inode=inode, queued_ns=now)
    txn.set(keys.garbage(inode.id), entry.SerializeToString())


def drop_link(txn: Transaction, inode: meta_pb2.Inode, now: int) -> None:
    """One name of ``inode`` went away: free it when it was the last (files and symlinks)."""
    inode.nlink = max(0, inode.nlink - 1)
    touch(inode, now, data=False)
    if inode.nlink > 0:
        put_inode(txn, inode)
    elif inode.type == FILE:
        queue_garbage(txn, inode, now)
    else:
        txn.clear(keys.inode(inode.id))


def drop_directory(txn: Transaction, inode: meta_pb2.Inode, now: int) -> None:
    """A directory left the namespace: an empty one goes at once, a full one to the collector."""
    if has_entries(txn, inode.id):
        queue_garbage(txn, inode, now)
    else:
        txn.clear(keys.inode(inode.id))
