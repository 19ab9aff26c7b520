"""The chunk store of one target: versioned, copy-on-write chunk contents over slot files, checksummed
reads, and the pending/committed split that chain replication needs.

Three modules: this one (the store, its write side: new content, versions, removal),
storage/_chunk_reader.py (records and checksummed reads) and storage/_record_cache.py (the records
kept in memory). The metadata (SQLite, group commit) is storage/_chunk_meta.py; the slot files
storage/_slots.py.
"""

from __future__ import annotations

import array
import errno
import threading
from pathlib import Path

from fs3._checksum import block_crcs, crc32c
from fs3._errors import FS3Error, InvalidArgument, NoSpace, Status
from fs3._private import make_private_dir

from ._buffers import BufferPool, Lease
from ._chunk_meta import ChunkMetaStore, ChunkRecord, chunk_key, split_key
from ._chunk_reader import LOCK_STRIPES, ChunkPending, ChunkReader
from ._direct_io import align_up
from ._record_cache import ABSENT, RecordCache
from ._slots import MAX_CLASS, SlotFiles, size_class

__all__ = ["MAX_CHUNK", "ChunkPending", "ChunkStore", "chunk_checksum"]

MAX_CHUNK = 1 << MAX_CLASS
_UNKNOWN = object()


def chunk_checksum(blocks: bytes) -> int:
    """A chunk's checksum: the CRC32C of its block CRCs (one cheap pass over 1 KiB per MiB of data),
    equal for equal content, so replicas can be compared without reading them."""
    return crc32c(blocks)


class ChunkStore(ChunkReader):
    """The chunks of one storage target, each with a committed version and, while an update travels
    along its chain, possibly a pending one.

    Crash consistency: every new version's complete content goes to a fresh slot with O_DIRECT and is
    flushed before its record is committed (as pending, or straight as committed at a chain's tail or
    without replication); a slot is freed only after no record names it. So after a crash the metadata
    names only complete data, the committed version is intact, and a pending version stays pending
    until the chain commits or replaces it. A commit of a pending version is written with the next
    transaction (``ChunkMetaStore.commit_pending``): should a crash lose it, the version is still
    pending here, and the chain rolls it forward before it is read from this replica.

    Checksums: a CRC32C per 4 KiB block is kept with each version; every read checks each block it
    touches and never returns data that fails (the damage is counted and reported to ``on_corrupt``).
    A chunk with a pending version is not read at all (``ChunkPending``: the client asks another
    replica), as CRAQ requires.

    Threading: every method may be called from any thread and is atomic on its own, under the
    chunk's lock (one of 1024 stripes); reads take no lock when the record is in memory. Callers that
    run several steps on one chunk (the replication layer) serialize them per chunk themselves.
    ``try_commit`` never blocks (for an event loop). Pooled buffers handed out (``load``, ``build``,
    ``build_truncated``) are leases: ``with lease as buf:`` gives them back.

    Privacy: the store's directory is made 0700 (or, when it exists, refused unless it is), its
    database and slot files 0600 (see ``fs3._private``)."""

    def __init__(self, root: Path, *, direct: bool = True, name: str = "", buffers: BufferPool | None = None):
        self.root = root
        self.name = name or str(root)
        self.buffers = buffers or BufferPool()
        make_private_dir(root)
        self.records = RecordCache()
        self.meta = ChunkMetaStore(root / "chunks.db")
        self.slots = SlotFiles(root / "slots", self.meta.used_slots(), direct=direct)
        self._pending = self.meta.all_pending()
        self._locks = [threading.Lock() for _ in range(LOCK_STRIPES)]
        self._stats_lock = threading.Lock()
        self.chunk_count, self.used_bytes = self.meta.totals()
        self.corruptions = 0
        self.on_corrupt = None

    # -- building new content ----------------------------------------------------------------------

    def build(self, inode: int, index: int, offset: int, data, chunk_size: int) -> tuple[Lease, int, int]:
        """The chunk's next content: its committed content with ``data`` written at ``offset`` (a gap
        reads as zeros). Returns (leased pooled buffer, length, next version)."""
        data = memoryview(data).cast("B")
        end = offset + len(data)
        if offset < 0 or end > min(chunk_size, MAX_CHUNK):
            raise InvalidArgument(
                f"Invalid argument: write of {len(data)} bytes at {offset} overflows a {chunk_size}-byte chunk"
            )
        key = chunk_key(inode, index)
        with self._lock(inode, index):
            old = self._current(key)
            old_len = old.length if old else 0
            new_len = max(old_len, end)
            lease = self.buffers.lease(align_up(max(new_len, 1)))
            with lease as buf:  # given back should the build fail
                view = memoryview(buf)
                keep = 0
                if old is not None and (offset > 0 or end < old_len):
                    # Keep the old bytes the write does not cover: all of them when it ends inside the
                    # chunk, else those before it.
                    keep = old_len if end < old_len else min(old_len, offset)
                    if keep:
                        self._load_into(inode, index, old, 0, keep, view)
                if offset > keep:  # the gap before the write (in a new chunk too) reads as zeros
                    view[keep:offset] = bytes(offset - keep)
                view[offset:end] = data
                _zero_tail(view, new_len)
                return lease.hand_over(), new_len, (old.version if old else 0) + 1

    def build_truncated(self, inode: int, index: int, length: int) -> tuple[Lease, int, int] | None:
        """The chunk cut to ``length`` bytes: (leased pooled buffer, length, next version), or None when
        the chunk is not longer than that (or does not exist)."""
        key = chunk_key(inode, index)
        with self._lock(inode, index):
            old = self._current(key)
            if old is None or old.length <= length:
                return None
            lease = self.buffers.lease(align_up(max(length, 1)))
            with lease as buf:  # given back should the read fail
                if length:
                    self._load_into(inode, index, old, 0, length, memoryview(buf))
                _zero_tail(memoryview(buf), length)
                return lease.hand_over(), length, old.version + 1

    # -- versions ----------------------------------------------------------------------------------

    def _write_slot(self, view: memoryview, length: int, blocks: bytes | None = None):
        """Put ``length`` bytes (aligned buffer, zeroed tail) in a fresh slot, not yet flushed: the
        metadata commit that names the slot flushes its file first. Returns (class, slot, block CRCs,
        file)."""
        cls = size_class(length)
        try:
            slot = self.slots.allocate(cls)
        except OSError as exc:
            raise _no_space(exc, self.name) from None
        try:
            f = self.slots.file(cls)
            f.write_from(view[: align_up(max(length, 1))], slot << cls)
        except BaseException as exc:
            self.slots.unallocate(cls, slot)
            if isinstance(exc, OSError):
                raise _no_space(exc, self.name) from None
            raise
        if blocks is None:
            blocks = array.array("I", block_crcs(view[:length])).tobytes()
        return cls, slot, blocks, f

    def stage(self, inode: int, index: int, version: int, view: memoryview, length: int,
              blocks: bytes | None = None) -> ChunkRecord:
        """Record ``view[:length]`` as the chunk's pending ``version`` (replacing an older pending one).
        ``blocks``: its block CRCs when already computed (by the chain's head)."""
        key = chunk_key(inode, index)
        cls, slot, blocks, f = self._write_slot(view, length, blocks)
        rec = ChunkRecord(version, length, chunk_checksum(blocks), cls, slot, blocks)
        with self._lock(inode, index):
            try:
                self.meta.put_pending(key, rec, flush=(f,))
            except BaseException:
                self.slots.unallocate(cls, slot)
                raise
            old = self._pending.get(key)
            self._pending[key] = rec
        if old is not None:
            self.slots.free(old.cls, old.slot)
        return rec

    def commit(self, inode: int, index: int, version: int) -> ChunkRecord:
        """The pending ``version`` becomes the committed one, at once in memory (reads see it) and in
        the metadata with the next transaction. Its durable pending record covers a crash before
        then; the slot of the version it replaces stays taken until the commit is written."""
        with self._lock(inode, index):
            return self._commit(chunk_key(inode, index), inode, index, version)

    def try_commit(self, inode: int, index: int, version: int) -> ChunkRecord | None:
        """``commit`` without blocking (from an event loop): None, having done nothing, when it would
        wait for the chunk's lock or for a metadata lookup."""
        key = chunk_key(inode, index)
        lock = self._lock(inode, index)
        if not lock.acquire(blocking=False):
            return None
        try:
            old = self.records.known(key)
            if old is None:
                return None
            return self._commit(key, inode, index, version, None if old is ABSENT else old)
        finally:
            lock.release()

    def _commit(self, key: bytes, inode: int, index: int, version: int, old=_UNKNOWN) -> ChunkRecord:
        # With the chunk's lock held; ``old``: the committed record it replaces, when already known.
        pending = self._pending.get(key)
        if pending is None or pending.version != version:
            raise FS3Error(f"chunk {inode}:{index} has no pending version {version} to commit",
                           status=Status.STALE_CHAIN_VERSION)
        if old is _UNKNOWN:
            old = self._current(key)

        def written():  # on whichever thread writes it: must not take the chunk's lock
            self.records.written(key, pending)
            if old is not None:
                self.slots.free(old.cls, old.slot)

        before = self.records.hold_unwritten(key, pending)
        try:
            self.meta.commit_pending(key, pending, then=written)
        except BaseException:
            self.records.restore_unwritten(key, before)
            raise
        del self._pending[key]
        self.records.remember(key, pending)
        self._account(0 if old else 1, pending.length - (old.length if old else 0))
        return pending

    def put(self, inode: int, index: int, version: int, view: memoryview, length: int, *,
            only_if_newer: bool = False, blocks: bytes | None = None) -> ChunkRecord | None:
        """Commit ``view[:length]`` as the chunk's ``version`` directly (a chain's tail, a chain of one,
        recovery). A pending version not newer than it goes. With ``only_if_newer``, a chunk already at
        ``version`` or later is left alone (returns None)."""
        key = chunk_key(inode, index)
        if only_if_newer:
            current = self.query(inode, index)
            if current is not None and current.version >= version:
                return None
        cls, slot, blocks, f = self._write_slot(view, length, blocks)
        rec = ChunkRecord(version, length, chunk_checksum(blocks), cls, slot, blocks)
        with self._lock(inode, index):
            old = self._current(key)
            if only_if_newer and old is not None and old.version >= version:
                self.slots.unallocate(cls, slot)
                return None
            pending = self._pending.get(key)
            drop_pending = pending is not None and pending.version <= version
            try:
                self.meta.put(key, rec, flush=(f,))
            except BaseException:
                self.slots.unallocate(cls, slot)
                raise
            if drop_pending:
                del self._pending[key]
            self.records.forget_unwritten(key)
            self.records.remember(key, rec)
        if old is not None:
            self.slots.free(old.cls, old.slot)
        if drop_pending:
            self.slots.free(pending.cls, pending.slot)
        self._account(0 if old else 1, length - (old.length if old else 0))
        return rec

    def drop(self, inode: int, index: int) -> bool:
        """Remove the chunk (committed and pending versions); False when there was nothing."""
        key = chunk_key(inode, index)
        with self._lock(inode, index):
            old, pending = self._current(key), self._pending.get(key)
            if old is None and pending is None:
                return False
            self.meta.delete(key)
            self.records.remember(key, ABSENT)
            self.records.forget_unwritten(key)
            self._pending.pop(key, None)
        for rec in (old, pending):
            if rec is not None:
                self.slots.free(rec.cls, rec.slot, release=True)
        if old is not None:
            self._account(-1, -old.length)
        return True

    # -- without replication (a chain of one target) -----------------------------------------------

    def write(self, inode: int, index: int, offset: int, data, chunk_size: int, *,
              aligned: memoryview | None = None) -> ChunkRecord:
        """Write ``data`` at ``offset`` of the chunk and commit it at once (no replication).

        ``aligned``, when given, is a page-aligned writable buffer that starts with ``data`` and has room
        up to the next 4 KiB: a write that replaces the whole chunk goes to disk straight from it."""
        with self._lock(inode, index):
            old = self._current(chunk_key(inode, index))
        if aligned is not None and offset == 0 and (old is None or len(data) >= old.length):
            _zero_tail(aligned, len(data))
            return self.put(inode, index, (old.version if old else 0) + 1, aligned, len(data))
        lease, length, version = self.build(inode, index, offset, data, chunk_size)
        with lease as buf:
            return self.put(inode, index, version, memoryview(buf), length)

    def truncate(self, inode: int, index: int, length: int) -> ChunkRecord | None:
        """Shorten the chunk to ``length`` bytes (a no-op when it is not longer); 0 removes it."""
        if length == 0:
            self.drop(inode, index)
            return None
        built = self.build_truncated(inode, index, length)
        if built is None:
            return self.query(inode, index)
        lease, new_len, version = built
        with lease as buf:
            return self.put(inode, index, version, memoryview(buf), new_len)

    def remove_from(self, inode: int, from_index: int) -> int:
        """Remove chunks ``from_index`` onwards of ``inode``; returns how many there were."""
        removed = 0
        for key in self.meta.keys(chunk_key(inode, from_index), chunk_key(inode + 1, 0)):
            removed += self.drop(*split_key(key))
        return removed

    def _account(self, chunks: int, nbytes: int) -> None:
        with self._stats_lock:
            self.chunk_count += chunks
            self.used_bytes += nbytes

    def close(self) -> None:
        self.meta.close()  # writes what is deferred (and frees the slots it replaced) first
        self.slots.close()


def _no_space(exc: OSError, target: str) -> OSError:
    """A full disk as the clear error the client passes on (ENOSPC); anything else unchanged."""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT) and not isinstance(exc, FS3Error):
        return NoSpace(f"storage target {target}: no space left on its disk")
    return exc


def _zero_tail(view: memoryview, length: int) -> None:
    """Zero the bytes between ``length`` and the next 4 KiB boundary (no stale bytes in a slot)."""
    tail = align_up(max(length, 1)) - length
    if tail:
        view[length : length + tail] = bytes(tail)
