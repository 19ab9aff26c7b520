"""The garbage collector: reclaims what removal detached from the namespace, and keeps the namespace
tidy.

A removed file's inode waits in the queue (GCQ_) for ``delay`` seconds and for its last write session
to close; then its chunks are removed from storage and the entry goes. A detached directory is emptied
a batch of entries per transaction, its children queued in turn, however large the tree.

Each pass also prunes write sessions their writer stopped renewing (it crashed), removes trash entries
older than the trash expiry, and forgets the replies kept for retried requests once they are too old
to be retried. Only the meta server holding the manager lease collects (``active``).
"""

from __future__ import annotations

import logging
import time

from fs3._errors import FS3Error
from fs3._periodic import PeriodicThread
from fs3.proto import meta_pb2

from . import _keys as keys
from .kv import KVStore, prefix_end
from .ops import (
    DIRECTORY,
    FILE,
    ROOT,
    TRASH,
    ChunkReclaimer,
    OpContext,
    drop_directory,
    drop_link,
    get_dentry,
    get_inode,
    prune_sessions,
    put_inode,
    queue_garbage,
)

log = logging.getLogger(__name__)

BATCH = 256


class GarbageCollector:
    def __init__(self, ctx: OpContext, chunks: ChunkReclaimer, *, delay: float = 10.0, interval: float = 1.0,
                 active=None):
        self.ctx = ctx
        self.kv: KVStore = ctx.kv
        self.active = active or (lambda: True)
        self.chunks = chunks
        self.delay = delay
        self.interval = interval
        self.reclaimed = 0
        self._thread = PeriodicThread("garbage-collector", interval, self._pass, log=log,
                                      failure="garbage collection pass failed")

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
        self._thread.start()

    def housekeeping(self) -> tuple[int, int, int]:
        """(sessions pruned, trash entries expired, request replies forgotten) in one pass."""
        return prune_sessions(self.ctx), self.expire_trash(), self.expire_requests()

    def expire_trash(self) -> int:
        """Remove for good what has been in /.trash/<user>/ longer than the trash expiry (by the time
        it was trashed: its change time)."""
        cutoff = self.ctx.clock() - int(self.ctx.config.trash_expiry * 1e9)

        def run(txn):
            trash = get_dentry(txn, ROOT, TRASH)
            if trash is None:
                return 0
            expired = 0
            prefix = keys.dentry_prefix(trash.inode)
            for _, raw in txn.get_range(prefix, prefix_end(prefix), limit=BATCH):
                user_dir = get_inode(txn, meta_pb2.Dentry.FromString(raw).inode)
                if user_dir is None or user_dir.type != DIRECTORY:
                    continue
                sub = keys.dentry_prefix(user_dir.id)
                for dkey, draw in txn.get_range(sub, prefix_end(sub), limit=BATCH):
                    dentry = meta_pb2.Dentry.FromString(draw)
                    inode = get_inode(txn, dentry.inode)
                    if inode is not None and inode.ctime_ns > cutoff:
                        continue
                    txn.clear(dkey)
                    if inode is not None:
                        if dentry.type == DIRECTORY:
                            queue_garbage(txn, inode, inode.ctime_ns)
                            user_dir.nlink = max(2, user_dir.nlink - 1)
                        else:
                            drop_link(txn, inode, inode.ctime_ns)
                    expired += 1
                if expired:
                    put_inode(txn, user_dir)
            return expired

        return self.kv.transact(run)

    def expire_requests(self) -> int:
        cutoff = self.ctx.clock() - int(self.ctx.config.request_ttl * 1e9)
        begin, end = keys.prefix_range(keys.REQUEST)

        def run(txn):
            gone = 0
            for key, raw in txn.get_range(begin, end, limit=BATCH * 4):
                if meta_pb2.AppliedRequest.FromString(raw).applied_ns < cutoff:
                    txn.clear(key)
                    gone += 1
            return gone

        return self.kv.transact(run)

    def _pass(self) -> None:
        """One pass (every ``interval``, on the collector's thread), on the lease holder only."""
        if not self.active():
            return
        self.housekeeping()
        while self.run_once() >= BATCH and not self._thread.stopping:
            pass

    def request_stop(self) -> None:
        self._thread.request_stop()

    def stop(self) -> None:
        self._thread.stop()
