"""Changes every mutation shares: stamping change times, and letting go of an inode that lost a name
(freed at once, or handed to the garbage collector when chunks or entries remain)."""

from __future__ import annotations

from fs3.proto import meta_pb2

from .. import _keys as keys
from ..kv import Transaction
from . import _usage
from ._records import FILE, has_entries, put_inode


def touch(inode: meta_pb2.Inode, now: int, *, data: bool = True) -> None:
    """Record a change: ctime always, mtime when the content (or a directory's entries) changed."""
    inode.ctime_ns = now
    if data:
        inode.mtime_ns = now


def queue_garbage(txn: Transaction, inode: meta_pb2.Inode, now: int) -> None:
    """Hand an unreachable inode to the garbage collector, which reclaims its chunks (or subtree); what
    it counted against quotas is free at once (a subtree's inodes as the collector reaches them)."""
    _usage.released(txn, inode)
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
        _usage.released(txn, inode)
        txn.clear(keys.inode(inode.id))


def drop_directory(txn: Transaction, inode: meta_pb2.Inode, now: int) -> None:
    """A directory left the namespace: an empty one goes at once, a full one to the collector."""
    if has_entries(txn, inode.id):
        queue_garbage(txn, inode, now)
    else:
        _usage.released(txn, inode)
        txn.clear(keys.inode(inode.id))
