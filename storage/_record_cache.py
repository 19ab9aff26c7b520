"""What a chunk store keeps in memory of its committed records: a bounded cache of them (and of chunks
known to have none), and the records committed here whose metadata rows are not written yet."""

from __future__ import annotations

import threading

from ._chunk_meta import ChunkRecord

RECORD_CACHE_BYTES = 32 << 20  # committed records kept in memory (mostly their block CRCs)
_OVERHEAD = 64                 # bytes counted per entry beside its block CRCs

ABSENT = ChunkRecord(0, 0, 0, 0, 0, b"")  # cached for a chunk known to have no committed version


class RecordCache:
    """Two maps from chunk key to committed record, shared by the threads of one store.

    ``entries``: a cache of records read or written (``ABSENT``: the chunk has none), evicted first in,
    first out past ``RECORD_CACHE_BYTES``. Lookups read the dict directly, without a lock (the read
    path's hot loop does); changes go through ``remember``, which its owner calls with the chunk's lock
    held, so that a miss never puts back a record an update has just replaced.

    ``unwritten``: records committed in memory whose metadata rows wait for the next transaction
    (``ChunkMetaStore.commit_pending``). They are never evicted: until their row is written, the
    metadata would answer with the version they replaced. Its lock is taken last: nothing else is
    acquired while it is held (the writer's follow-up runs on any thread)."""

    def __init__(self) -> None:
        self.entries: dict[bytes, ChunkRecord] = {}
        self.unwritten: dict[bytes, ChunkRecord] = {}
        self._unwritten_lock = threading.Lock()
        self._lock = threading.Lock()  # also taken last
        self._bytes = 0

    def known(self, key: bytes) -> ChunkRecord | None:
        """What memory knows of the committed record (``ABSENT``: none; None: nothing known)."""
        return self.entries.get(key) or self.unwritten.get(key)

    def remember(self, key: bytes, rec: ChunkRecord | None) -> None:
        """Cache ``rec`` for ``key`` (None: forget it), evicting the oldest entries past the limit."""
        # FIFO eviction keeps the bookkeeping cheap (a dict keeps insertion order).
        with self._lock:
            old = self.entries.pop(key, None)
            if old is not None:
                self._bytes -= len(old.blocks) + _OVERHEAD
            if rec is None:
                return
            self.entries[key] = rec
            self._bytes += len(rec.blocks) + _OVERHEAD
            while self._bytes > RECORD_CACHE_BYTES and self.entries:
                victim = next(iter(self.entries))
                if victim == key:
                    break
                self._bytes -= len(self.entries.pop(victim).blocks) + _OVERHEAD

    def clear(self) -> None:
        """Forget every cached record (not the unwritten ones)."""
        with self._lock:
            self.entries.clear()
            self._bytes = 0

    def hold_unwritten(self, key: bytes, rec: ChunkRecord) -> ChunkRecord | None:
        """``rec`` is committed in memory, its row not yet written; returns what it replaces there."""
        with self._unwritten_lock:
            before = self.unwritten.get(key)
            self.unwritten[key] = rec
        return before

    def restore_unwritten(self, key: bytes, before: ChunkRecord | None) -> None:
        """Undo ``hold_unwritten`` (the commit failed): ``before`` is what it returned."""
        with self._unwritten_lock:
            if before is None:
                self.unwritten.pop(key, None)
            else:
                self.unwritten[key] = before

    def written(self, key: bytes, rec: ChunkRecord) -> None:
        """``rec``'s row is written: the metadata answers for it now (unless a newer one is held)."""
        with self._unwritten_lock:
            if self.unwritten.get(key) is rec:
                del self.unwritten[key]

    def forget_unwritten(self, key: bytes) -> None:
        """A row written or removed directly supersedes whatever was waiting."""
        with self._unwritten_lock:
            self.unwritten.pop(key, None)
