"""Typed access to the namespace's records in the KV store: inodes (``INOD<id>``) and directory
entries (``DENT<parent><name>``), and the well-known names (the root inode, the trash)."""

from __future__ import annotations

from fs3.proto import meta_pb2

from .. import _keys as keys
from ..kv import Transaction

ROOT = 1                 # the root directory's inode id
TRASH = ".trash"         # /.trash/<user>/ holds what ``rm --trash`` moved there
FILE = meta_pb2.FILE
DIRECTORY = meta_pb2.DIRECTORY
SYMLINK = meta_pb2.SYMLINK


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


def put_dentry(txn: Transaction, parent: int, name: str, ino: int, kind: meta_pb2.InodeType) -> None:
    txn.set(keys.dentry(parent, name), meta_pb2.Dentry(inode=ino, type=kind).SerializeToString())


def has_entries(txn: Transaction, ino: int) -> bool:
    """Whether directory ``ino`` has any entry (one key read, however large it is)."""
    begin, end = keys.prefix_range(keys.dentry_prefix(ino))
    return bool(txn.get_range(begin, end, limit=1))
