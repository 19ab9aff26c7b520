"""Inode ids: handed out from batches reserved in the KV store, so creates rarely contend on a counter;
and the root directory, created once."""

from __future__ import annotations

import threading
import time

from fs3.proto import common_pb2, meta_pb2

from . import _keys as keys
from .kv import KVStore
from .ops import DIRECTORY, ROOT, NamespaceConfig, get_inode, put_inode

BATCH = 1024


class InodeAllocator:
    """Hands out inode ids from a batch reserved (and committed) in the KV store; reserves the next
    batch in a transaction of its own, never holding its lock across one."""

    def __init__(self, kv: KVStore, batch: int = BATCH):
        self._kv = kv
        self._batch = batch
        self._lock = threading.Lock()
        self._next = 0
        self._end = 0

    def __call__(self) -> int:
        with self._lock:
            if self._next < self._end:
                self._next += 1
                return self._next - 1
        if self._kv.in_transaction():
            # Called inside a transaction of this thread (meta's call server commits a group of calls
            # as one): a batch reserved here would be undone if the group rolls back, while the ids
            # stayed handed out. Reserve just this id, in that transaction, and keep no range.
            return self._kv.transact(lambda txn: self._reserve(txn, 1)[0])
        start, end = self._kv.transact(lambda txn: self._reserve(txn, self._batch))
        with self._lock:
            if self._next >= self._end:
                self._next, self._end = start + 1, end
            return start  # (a batch that lost a race with another thread's is left unused)

    def top_up(self, free: int) -> None:
        """Reserve the next batch now unless ``free`` ids remain (outside any transaction)."""
        with self._lock:
            if self._end - self._next >= free:
                return
        start, end = self._kv.transact(lambda txn: self._reserve(txn, max(self._batch, free)))
        with self._lock:
            if self._end - self._next < free:
                self._next, self._end = start, end

    @staticmethod
    def _reserve(txn, count: int) -> tuple[int, int]:
        raw = txn.get(keys.INODE_ALLOC)
        start = keys.read_u64(raw) if raw else ROOT + 1
        txn.set(keys.INODE_ALLOC, keys.u64(start + count))
        return start, start + count


def ensure_root(kv: KVStore, config: NamespaceConfig) -> None:
    """Create the root directory of an empty namespace (idempotent)."""

    def run(txn):
        if get_inode(txn, ROOT) is not None:
            return
        now = time.time_ns()
        layout = common_pb2.Layout(chunk_size=config.chunk_size, stripe=config.stripe)
        put_inode(txn, meta_pb2.Inode(
            id=ROOT, type=DIRECTORY, mode=0o755, nlink=2, parent=ROOT, layout=layout,
            atime_ns=now, mtime_ns=now, ctime_ns=now,
        ))

    kv.transact(run)
