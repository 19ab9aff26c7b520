"""What this meta server changed lately, for clients that cache attributes (a mount's kernel caches).

Every transaction that writes or clears an inode record is seen as it commits (``WatchedStore`` wraps
the namespace's KV store), and the inodes it changed go into a numbered, bounded history with the
attributes a stat shows of them now (or that they are gone). Clients long-poll ``WatchChanges`` on
every meta server (each server sees the changes made through it), asking for what came after the last
number they saw; a server that restarted (a new ``epoch``) or a watcher that fell behind the history
gets ``reset``: it must drop everything it cached. The feed names inode numbers and attributes only,
never names, so a watcher learns nothing a stat of those inodes would not tell it.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import TypeVar

from fs3.proto import meta_pb2

from . import _keys as keys
from .kv import KVStore, Transaction

T = TypeVar("T")

HISTORY = 65_536     # changes kept for watchers that come back late
MAX_REPLY = 4_096    # changes in one reply (a watcher asks again for the rest)
MAX_WAIT = 30.0      # the longest a WatchChanges call waits for a change


class ChangeFeed:
    def __init__(self, history: int = HISTORY):
        self.epoch = secrets.randbits(62) + 1  # a restarted server numbers its changes anew
        self._last = 0
        self._log: deque[tuple[int, meta_pb2.InodeChange]] = deque(maxlen=history)
        self._changed = threading.Condition()
        self._closed = False

    def publish(self, changes: list[meta_pb2.InodeChange]) -> None:
        if not changes:
            return
        with self._changed:
            for change in changes:
                self._last += 1
                self._log.append((self._last, change))
            self._changed.notify_all()

    def close(self) -> None:
        """Wake every waiting watcher (the server stops)."""
        with self._changed:
            self._closed = True
            self._changed.notify_all()

    def since(self, epoch: int, after: int, wait: float) -> meta_pb2.WatchChangesReply:
        """The changes numbered after ``after`` (waiting up to ``wait`` seconds for one); ``reset``
        when ``epoch`` is not this feed's or the history no longer reaches back to ``after``."""
        deadline = time.monotonic() + min(max(wait, 0.0), MAX_WAIT)
        with self._changed:
            if epoch != self.epoch or after > self._last or (self._log and self._log[0][0] > after + 1):
                return meta_pb2.WatchChangesReply(epoch=self.epoch, last=self._last, reset=True)
            while self._last == after and not self._closed:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._changed.wait(left)
            first = self._last - len(self._log) + 1
            picked = [c for _, c in list(self._log)[max(0, after + 1 - first):][:MAX_REPLY]]
            return meta_pb2.WatchChangesReply(epoch=self.epoch, last=after + len(picked), changes=picked)


def _change(key: bytes, value: bytes | None) -> meta_pb2.InodeChange:
    ino = keys.read_u64(key, len(keys.INODE))
    if value is None:
        return meta_pb2.InodeChange(inode=ino, removed=True)
    inode = meta_pb2.Inode.FromString(value)
    return meta_pb2.InodeChange(inode=ino, ctime_ns=inode.ctime_ns, mtime_ns=inode.mtime_ns, length=inode.length,
                                nlink=inode.nlink, mode=inode.mode, uid=inode.uid, gid=inode.gid)


class _Recording(Transaction):
    """A transaction that notes the inode records it writes or clears (the last write of each)."""

    def __init__(self, txn: Transaction):
        self._txn = txn
        self.inodes: dict[bytes, bytes | None] = {}

    def get(self, key):
        return self._txn.get(key)

    def get_expecting_absent(self, key):
        return self._txn.get_expecting_absent(key)

    def get_range(self, begin, end, *, limit=0, reverse=False):
        return self._txn.get_range(begin, end, limit=limit, reverse=reverse)

    def set(self, key, value):
        if key.startswith(keys.INODE) and len(key) == len(keys.INODE) + 8:
            self.inodes[key] = value
        self._txn.set(key, value)

    def clear(self, key):
        if key.startswith(keys.INODE) and len(key) == len(keys.INODE) + 8:
            self.inodes[key] = None
        self._txn.clear(key)

    def clear_range(self, begin, end):
        self._txn.clear_range(begin, end)  # (inode records are cleared one by one)


class WatchedStore(KVStore):
    """``store``, with the inode changes of every committed transaction published to ``feed``.

    Published after the outermost transaction commits, never before: a watcher told of a change asks
    meta for the new state at once, and must not find the old one (a transaction nested in a group
    commit is only a part of it)."""

    def __init__(self, store: KVStore, feed: ChangeFeed):
        self.store = store
        self.feed = feed
        self.local_reads = store.local_reads
        self.max_retries = store.max_retries
        self._local = threading.local()

    def _run(self, fn: Callable[[Transaction], T], readonly: bool) -> T:
        if readonly:
            return self.store._run(fn, readonly)
        runs: list[dict[bytes, bytes | None]] | None = getattr(self._local, "runs", None)
        outermost = runs is None
        if runs is None:
            runs = self._local.runs = []
        slot = len(runs)
        runs.append({})

        def recorded(txn: Transaction) -> T:
            rec = _Recording(txn)
            runs[slot] = rec.inodes  # (a store may run fn again: only the last run commits)
            return fn(rec)

        try:
            result = self.store._run(recorded, readonly)
        except BaseException:
            runs[slot] = {}  # nothing of it committed
            raise
        finally:
            if outermost:
                self._local.runs = None
        if outermost:
            changed: dict[bytes, bytes | None] = {}
            for inodes in runs:
                changed.update(inodes)
            if changed:
                self.feed.publish([_change(k, v) for k, v in changed.items()])
        return result

    def in_transaction(self) -> bool:
        return self.store.in_transaction()

    def close(self) -> None:
        self.feed.close()
        self.store.close()
