"""The garbage collector: reclaims what removal detached from the namespace.

A removed file's inode waits in the queue (GCQ_) for ``delay`` seconds and for its last write session
to close; then its chunks are removed from storage and the entry goes. A detached directory is emptied
a batch of entries per transaction, its children queued in turn, however large the tree.
"""

from __future__ import annotations

import logging
import threading
import time

from fs3._errors import FS3Error
from fs3.proto import meta_pb2

from . import _keys as keys
from .kv import KVStore, prefix_end
from .ops import ChunkReclaimer
from .ops._common import DIRECTORY, FILE, drop_directory, drop_link, get_inode

log = logging.getLogger(__name__)

BATCH = 256


class GarbageCollector:
    def __init__(self, kv: KVStore, chunks: ChunkReclaimer, *, delay: float = 10.0, interval: float = 1.0):
        self.kv = kv
        self.chunks = chunks
        self.delay = delay
        self.interval = interval
        self.reclaimed = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def pending(self) -> int:
        begin, end = keys.prefix_range(keys.GARBAGE)
        return len(self.kv.transact(lambda txn: txn.get_range(begin, end), readonly=True))

    def run_once(self) -> int:
        """Process the queue once; returns how many entries were finished."""
        begin, end = keys.prefix_range(keys.GARBAGE)
        entries = self.kv.transact(lambda txn: txn.get_range(begin, end, limit=BATCH), readonly=True)
        done = 0
        cutoff = time.time_ns() - int(self.delay * 1e9)
        for key, raw in entries:
            entry = meta_pb2.GarbageEntry.FromString(raw)
            if entry.queued_ns > cutoff:
                continue
            try:
                if entry.inode.type == DIRECTORY:
                    done += self._empty_directory(key, entry)
                elif entry.inode.type == FILE:
                    done += self._reclaim_file(key, entry.inode)
                else:
                    self.kv.transact(lambda txn, key=key: txn.clear(key))
                    done += 1
            except FS3Error as exc:
                log.warning("garbage collection of inode %d deferred: %s", entry.inode.id, exc)
        self.reclaimed += done
        return done

    def _reclaim_file(self, key: bytes, inode: meta_pb2.Inode) -> int:
        begin, end = keys.prefix_range(keys.session_prefix(inode.id))
        if self.kv.transact(lambda txn: txn.get_range(begin, end, limit=1), readonly=True):
            return 0  # a writer still holds it open
        self.chunks.remove_chunks(inode, 0)
        self.kv.transact(lambda txn: txn.clear(key))
        return 1

    def _empty_directory(self, key: bytes, entry: meta_pb2.GarbageEntry) -> int:
        prefix = keys.dentry_prefix(entry.inode.id)

        def run(txn):
            rows = txn.get_range(prefix, prefix_end(prefix), limit=BATCH)
            now = entry.queued_ns  # children of a removed tree are due when the tree was
            for dkey, raw in rows:
                dentry = meta_pb2.Dentry.FromString(raw)
                txn.clear(dkey)
                child = get_inode(txn, dentry.inode)
                if child is None:
                    continue
                if dentry.type == DIRECTORY:
                    drop_directory(txn, child, now)
                else:
                    drop_link(txn, child, now)
            if len(rows) < BATCH:
                txn.clear(key)
                return 1
            return 0

        return self.kv.transact(run)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="garbage-collector", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                while self.run_once() >= BATCH:
                    pass
            except Exception:  # noqa: BLE001 - the collector must outlive any one failure
                log.exception("garbage collection pass failed")

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
