"""Changes every mutation shares: stamping change times, and letting go of an inode that lost a name
(freed at once, or handed to the garbage collector when chunks or entries remain).

A file that loses its last name while open (a read or write session holds it) becomes an **orphan**:
its inode stays, nlink 0, no path reaches it, and ORPH<inode> lists it; reads, writes, capability
renewals, ExtendWrite and Close keep working on it by inode. When its last session ends (closed,
released, or pruned after its client died) it goes to the garbage collector like any removed file.
It counts against quotas until then, as it still holds its data (``queue_garbage`` frees that)."""

from __future__ import annotations

from fs3.proto import meta_pb2

from .. import _keys as keys
from ..kv import Transaction
from . import _usage
from ._records import FILE, get_inode, has_entries, put_inode


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
    clear_xattrs(txn, inode.id)
    entry = meta_pb2.GarbageEntry(inode=inode, queued_ns=now)
    txn.set(keys.garbage(inode.id), entry.SerializeToString())


def drop_link(txn: Transaction, inode: meta_pb2.Inode, now: int) -> None:
    """One name of ``inode`` went away: free it when it was the last (files and symlinks)."""
    inode.nlink = max(0, inode.nlink - 1)
    touch(inode, now, data=False)
    if inode.nlink > 0:
        put_inode(txn, inode)
    elif inode.type == FILE and is_open(txn, inode.id):
        put_inode(txn, inode)
        txn.set(keys.orphan(inode.id), keys.u64(now))
    elif inode.type == FILE:
        queue_garbage(txn, inode, now)
    else:
        _usage.released(txn, inode)
        txn.clear(keys.inode(inode.id))
        clear_xattrs(txn, inode.id)


def is_open(txn: Transaction, ino: int) -> bool:
    """Whether any session, for writing or only reading, holds file ``ino`` open."""
    return any(txn.get_range(*keys.prefix_range(prefix(ino)), limit=1)
               for prefix in (keys.session_prefix, keys.reader_prefix))


def shared_with(txn: Transaction, ino: int, client: str, now: int, *, writing: bool) -> bool:
    """Whether a client other than ``client`` has file ``ino`` open (a live session) so that the two
    share writes: it writes, or ``writing`` (this client writes) and it has the file open at all. A
    cache of the file on ``client`` may then go stale (docs/consistency.md, "Files shared between
    clients")."""
    for prefix in (keys.session_prefix,) + ((keys.reader_prefix,) if writing else ()):
        for _, raw in txn.get_range(*keys.prefix_range(prefix(ino))):
            held = meta_pb2.Session.FromString(raw)
            if held.client != client and held.expires_ns > now:
                return True
    return False


def end_session(txn: Transaction, ino: int, sid: int, now: int) -> bool:
    """End session ``sid`` of file ``ino`` (writing or reading); returns whether the file was an orphan
    this session was the last to hold (it went to the collector)."""
    txn.clear(keys.session(ino, sid))
    txn.clear(keys.reader(ino, sid))
    return reclaim_if_closed(txn, ino, now)


def reclaim_if_closed(txn: Transaction, ino: int, now: int) -> bool:
    """Hand orphan ``ino`` to the collector if no session holds it any more; returns whether it did.
    (A file that is no orphan costs one read: the ORPH key, absent.)"""
    if txn.get(keys.orphan(ino)) is None:
        return False
    inode = get_inode(txn, ino)
    if inode is not None and (inode.nlink > 0 or is_open(txn, ino)):
        return False
    txn.clear(keys.orphan(ino))
    if inode is not None:
        queue_garbage(txn, inode, now)
    return True


def clear_xattrs(txn: Transaction, ino: int) -> None:
    """An inode left the namespace for good: its extended attributes (ops/xattr.py) go with it, and
    the bitmap of its stored chunks (ops/_stored.py)."""
    txn.clear_range(*keys.prefix_range(keys.xattr_prefix(ino)))
    txn.clear(keys.chunk_bitmap(ino))


def drop_directory(txn: Transaction, inode: meta_pb2.Inode, now: int) -> None:
    """A directory left the namespace: an empty one goes at once, a full one to the collector."""
    if has_entries(txn, inode.id):
        queue_garbage(txn, inode, now)
    else:
        _usage.released(txn, inode)
        txn.clear(keys.inode(inode.id))
        clear_xattrs(txn, inode.id)
