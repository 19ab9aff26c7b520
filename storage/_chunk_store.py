"""The chunk store of one target: versioned, copy-on-write chunk contents over slot files, checksummed
reads, and the pending/committed split that chain replication needs.

A chunk has a committed version and, while an update travels along its chain, possibly a pending one.
Every new version's complete content goes to a fresh slot with O_DIRECT and is flushed before its record
is committed (as pending, or straight as committed at a chain's tail or without replication); a slot is
freed only after no record names it. Every read checks the CRC32C of each 4 KiB block it touches and
never returns data that fails; a chunk with a pending version is not read at all (it answers
"pending", and the client asks another replica), as CRAQ requires.

Callers that run several steps on one chunk (the replication layer) serialize them per chunk
themselves; each method here is atomic on its own.
"""

from __future__ import annotations

import array
import errno
import logging
import os
import struct
import threading
from pathlib import Path

from fs3._checksum import CRC_BLOCK, block_crcs, crc32c
from fs3._errors import ChecksumMismatch, FS3Error, InvalidArgument, NoSpace, Status

from ._buffers import BufferPool
from ._chunk_meta import ChunkMetaStore, ChunkRecord, chunk_key, split_key
from ._direct_io import ALIGN, align_up
from ._slots import MAX_CLASS, SlotFiles, size_class

log = logging.getLogger(__name__)

MAX_CHUNK = 1 << MAX_CLASS
_LOCK_STRIPES = 1024
_U32 = struct.Struct("=I")  # one block CRC, in the native order the blocks were packed in
RECORD_CACHE_BYTES = 32 << 20  # committed records kept in memory (mostly their block CRCs)


def _stripe(inode: int, index: int) -> int:
    return (inode * 1_000_003 + index) % _LOCK_STRIPES


def chunk_checksum(blocks: bytes) -> int:
    """A chunk's checksum: the CRC32C of its block CRCs (one cheap pass over 1 KiB per MiB of data),
    equal for equal content, so replicas can be compared without reading them."""
    return crc32c(blocks)


class ChunkPending(FS3Error):
    """The chunk has an update in flight on this replica: ask another one."""

    status_default = Status.CHUNK_PENDING


_ABSENT = ChunkRecord(0, 0, 0, 0, 0, b"")  # cached for a chunk known to have no committed version
_UNKNOWN = object()


class ChunkStore:
    def __init__(self, root: Path, *, direct: bool = True, name: str = "", buffers: BufferPool | None = None):
        self.root = root
        self.name = name or str(root)
        self.buffers = buffers or BufferPool()
        root.mkdir(parents=True, exist_ok=True)
        self._cache: dict[bytes, ChunkRecord] = {}
        self._unwritten: dict[bytes, ChunkRecord] = {}  # committed here, its metadata row not yet written
        self._unwritten_lock = threading.Lock()  # taken last: nothing else is acquired while it is held
        self._cache_lock = threading.Lock()  # likewise
        self._cache_bytes = 0
        self.meta = ChunkMetaStore(root / "chunks.db")
        self.slots = SlotFiles(root / "slots", self.meta.used_slots(), direct=direct)
        self._pending: dict[bytes, ChunkRecord] = self.meta.all_pending()
        self._locks = [threading.Lock() for _ in range(_LOCK_STRIPES)]
        self._stats_lock = threading.Lock()
        self.chunk_count, self.used_bytes = self.meta.totals()
        self.corruptions = 0
        self.on_corrupt = None  # called with (inode, index) when a read finds damaged data

    @property
    def direct(self) -> bool:
        return self.slots.direct

    def _lock(self, inode: int, index: int) -> threading.Lock:
        return self._locks[_stripe(inode, index)]

    # -- records -----------------------------------------------------------------------------------

    def _record(self, key: bytes, lock: threading.Lock) -> ChunkRecord | None:
        """The chunk's committed record, from memory when cached (that it has none is cached too). A
        miss fills the cache under the chunk's lock, so it can never put back a record an update has
        just replaced."""
        rec = self._cache.get(key)
        if rec is not None:
            return None if rec is _ABSENT else rec
        with lock:
            rec = self._current(key)
            self._remember(key, _ABSENT if rec is None else rec)
        return rec

    def _current(self, key: bytes) -> ChunkRecord | None:
        # With the chunk's lock held (so not through _record, which takes it).
        rec = self._known(key)
        if rec is None:
            return self.meta.get(key)
        return None if rec is _ABSENT else rec

    def _known(self, key: bytes) -> ChunkRecord | None:
        """What memory knows of the committed record (``_ABSENT``: none), without a metadata lookup."""
        return self._cache.get(key) or self._unwritten.get(key)

    def _remember(self, key: bytes, rec: ChunkRecord | None) -> None:
        # Called with the chunk's lock held; the cache is shared by every chunk, so its changes take a
        # lock of their own (lookups need none). FIFO eviction keeps the bookkeeping cheap.
        with self._cache_lock:
            old = self._cache.pop(key, None)
            if old is not None:
                self._cache_bytes -= len(old.blocks) + 64
            if rec is None:
                return
            self._cache[key] = rec
            self._cache_bytes += len(rec.blocks) + 64
            while self._cache_bytes > RECORD_CACHE_BYTES and self._cache:
                victim = next(iter(self._cache))
                if victim == key:
                    break
                self._cache_bytes -= len(self._cache.pop(victim).blocks) + 64

    def query(self, inode: int, index: int) -> ChunkRecord | None:
        """The committed record (None: no committed version)."""
        return self._record(chunk_key(inode, index), self._lock(inode, index))

    def state(self, inode: int, index: int) -> tuple[ChunkRecord | None, ChunkRecord | None]:
        """(committed, pending) records of a chunk."""
        key = chunk_key(inode, index)
        with self._lock(inode, index):
            return self._current(key), self._pending.get(key)

    def list_chunks(self, lo: bytes, hi: bytes, limit: int) -> list[tuple[bytes, int, int, int]]:
        """(key, committed version, checksum, pending version) of up to ``limit`` chunks in [lo, hi)
        that have a committed or a pending version (0 where a version is missing)."""
        out = []
        for key in self.meta.keys(lo, hi)[:limit]:
            inode, index = split_key(key)
            committed, pending = self.state(inode, index)
            out.append((key, committed.version if committed else 0, committed.crc if committed else 0,
                        pending.version if pending else 0))
        return out

    def has_pending(self, inode: int, index: int) -> bool:
        return chunk_key(inode, index) in self._pending

    # -- reads -------------------------------------------------------------------------------------

    def read(self, inode: int, index: int, offset: int, length: int) -> tuple[bytes, ChunkRecord | None]:
        """Up to ``length`` bytes at ``offset`` of the chunk's committed content (fewer where the chunk
        ends); ``(b"", None)`` for a chunk that does not exist."""
        buf = self.buffers.acquire(align_up(offset % ALIGN + length))
        try:
            n, rec = self.read_direct(inode, index, offset, length, memoryview(buf))
            return bytes(memoryview(buf)[offset % ALIGN : offset % ALIGN + n]), rec
        finally:
            self.buffers.release(buf)

    def read_direct(
        self, inode: int, index: int, offset: int, length: int, dest: memoryview
    ) -> tuple[int, ChunkRecord | None]:
        """Read the whole 4 KiB blocks around ``[offset, offset + length)`` with O_DIRECT straight into
        ``dest`` (page-aligned, at least ``align_up(offset % 4096 + length)`` bytes), verifying each
        block's CRC32C. The data starts at ``dest[offset % 4096]``; returns its length (short where the
        chunk ends, 0 past it) and the record (None: no such chunk). Raises ``ChunkPending`` while an
        update of the chunk is in flight here. (A batch of reads uses ``locate`` / ``disk_read`` /
        ``verify`` within one read epoch instead.)"""
        epoch = self.slots.begin_read()
        try:
            rec, n = self.locate(inode, index, offset, length)
            if n:
                self._load_into(inode, index, rec, offset, offset + n, dest)
            return n, rec
        finally:
            self.slots.end_read(epoch)

    def locate(self, inode: int, index: int, offset: int, length: int) -> tuple[ChunkRecord | None, int]:
        """The chunk's committed record (None: no such chunk) and how many of the ``length`` bytes at
        ``offset`` it holds. Raises ``ChunkPending`` while an update of the chunk is in flight here.
        Call within a read epoch, and read what it says before the epoch ends."""
        key = chunk_key(inode, index)
        if key in self._pending:
            raise ChunkPending(f"chunk {inode}:{index} has an update in flight on target {self.name}")
        rec = self._cache.get(key)
        if rec is None:
            rec = self._record(key, self._lock(inode, index))
        if rec is None or rec is _ABSENT:
            return None, 0
        end = rec.length
        if offset + length < end:
            end = offset + length
        return rec, max(0, end - offset)

    def disk_read(self, rec: ChunkRecord, offset: int, n: int, dest: memoryview) -> tuple[int, memoryview, int]:
        """The O_DIRECT read that fills ``dest`` with the whole blocks around chunk bytes
        ``[offset, offset + n)``: (file descriptor, buffer, file offset)."""
        start = offset - offset % CRC_BLOCK
        size = -(-(offset + n) // ALIGN) * ALIGN - start
        return self.slots.file(rec.cls).fd, dest[:size], (rec.slot << rec.cls) + start

    def verify(self, inode: int, index: int, rec: ChunkRecord, offset: int, n: int, view: memoryview,
               got: int) -> None:
        """Check the blocks that ``disk_read``'s read put in ``view`` (``got`` bytes of them) against
        the record's CRC32Cs; raises ``ChecksumMismatch`` (and counts it) for a damaged one."""
        start = offset - offset % CRC_BLOCK
        first = start // CRC_BLOCK
        size = len(view)
        if size == CRC_BLOCK:  # the common small read: one block
            m = rec.length - start
            if m > CRC_BLOCK:
                m = CRC_BLOCK
            if got < m or crc32c(view[:m]) != _U32.unpack_from(rec.blocks, first * 4)[0]:
                self._corrupt(inode, index, rec, first)
            return
        data = min(size, rec.length - start)  # the blocks' bytes of chunk data (the last may be short)
        have = min(data, max(got, 0))  # a short read: the blocks before it are checked, then it counts
        whole = have - have % CRC_BLOCK
        mine = [crc32c(view[o : o + CRC_BLOCK]) for o in range(0, whole, CRC_BLOCK)]  # one C call a block
        if whole < have and have == data:
            mine.append(crc32c(view[whole:data]))  # the chunk's short last block
        expected = memoryview(rec.blocks).cast("I")[first : first + len(mine)].tolist()  # native order
        if mine != expected:
            bad = next((i for i, (a, b) in enumerate(zip(mine, expected, strict=False)) if a != b), len(expected))
            self._corrupt(inode, index, rec, first + bad)
        if got < data:
            self._corrupt(inode, index, rec, first + len(mine))

    def _load_into(self, inode: int, index: int, rec: ChunkRecord, lo: int, hi: int, dest: memoryview) -> None:
        """Fill ``dest`` with the verified blocks covering chunk bytes [lo, hi), starting at the block of
        ``lo``. Bytes past ``hi`` up to the block end are whatever the slot holds."""
        fd, view, at = self.disk_read(rec, lo, hi - lo, dest)
        self.verify(inode, index, rec, lo, hi - lo, view, os.preadv(fd, [view], at))

    def _corrupt(self, inode: int, index: int, rec: ChunkRecord, block: int):
        with self._stats_lock:
            self.corruptions += 1
        log.error(
            "target %s: chunk %d:%d version %d failed its CRC32C at block %d (bytes %d-%d); not served",
            self.name, inode, index, rec.version, block, block * CRC_BLOCK, (block + 1) * CRC_BLOCK,
        )
        if self.on_corrupt is not None:
            self.on_corrupt(inode, index)
        raise ChecksumMismatch(
            f"Input/output error: chunk {inode}:{index} v{rec.version} on target {self.name} failed its "
            f"checksum at block {block}"
        )

    def load(self, inode: int, index: int, rec: ChunkRecord):
        """A pooled buffer holding the whole verified content of version ``rec`` of the chunk (release it
        with ``buffers.release``). Raises ``ChecksumMismatch`` for damaged data."""
        buf = self.buffers.acquire(align_up(max(rec.length, 1)))
        epoch = self.slots.begin_read()
        try:
            if rec.length:
                self._load_into(inode, index, rec, 0, rec.length, memoryview(buf))
            return buf
        except BaseException:
            self.buffers.release(buf)
            raise
        finally:
            self.slots.end_read(epoch)

    # -- building new content ----------------------------------------------------------------------

    def build(self, inode: int, index: int, offset: int, data, chunk_size: int):
        """The chunk's next content: its committed content with ``data`` written at ``offset`` (a gap
        reads as zeros). Returns (pooled buffer, length, next version); the caller releases the buffer."""
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
            buf = self.buffers.acquire(align_up(max(new_len, 1)))
            try:
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
            except BaseException:
                self.buffers.release(buf)
                raise
            return buf, new_len, (old.version if old else 0) + 1

    def build_truncated(self, inode: int, index: int, length: int):
        """The chunk cut to ``length`` bytes: (pooled buffer, length, next version), or None when the
        chunk is not longer than that (or does not exist)."""
        key = chunk_key(inode, index)
        with self._lock(inode, index):
            old = self._current(key)
            if old is None or old.length <= length:
                return None
            buf = self.buffers.acquire(align_up(max(length, 1)))
            try:
                if length:
                    self._load_into(inode, index, old, 0, length, memoryview(buf))
                _zero_tail(memoryview(buf), length)
            except BaseException:
                self.buffers.release(buf)
                raise
            return buf, length, old.version + 1

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
            old = self._known(key)
            if old is None:
                return None
            return self._commit(key, inode, index, version, None if old is _ABSENT else old)
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
            with self._unwritten_lock:
                if self._unwritten.get(key) is pending:
                    del self._unwritten[key]
            if old is not None:
                self.slots.free(old.cls, old.slot)

        with self._unwritten_lock:
            before = self._unwritten.get(key)
            self._unwritten[key] = pending
        try:
            self.meta.commit_pending(key, pending, then=written)
        except BaseException:
            with self._unwritten_lock:
                if before is None:
                    del self._unwritten[key]
                else:
                    self._unwritten[key] = before
            raise
        del self._pending[key]
        self._remember(key, pending)
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
            with self._unwritten_lock:
                self._unwritten.pop(key, None)
            self._remember(key, rec)
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
            self._remember(key, _ABSENT)
            with self._unwritten_lock:
                self._unwritten.pop(key, None)
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
        buf, length, version = self.build(inode, index, offset, data, chunk_size)
        try:
            return self.put(inode, index, version, memoryview(buf), length)
        finally:
            self.buffers.release(buf)

    def truncate(self, inode: int, index: int, length: int) -> ChunkRecord | None:
        """Shorten the chunk to ``length`` bytes (a no-op when it is not longer); 0 removes it."""
        if length == 0:
            self.drop(inode, index)
            return None
        built = self.build_truncated(inode, index, length)
        if built is None:
            return self.query(inode, index)
        buf, new_len, version = built
        try:
            return self.put(inode, index, version, memoryview(buf), new_len)
        finally:
            self.buffers.release(buf)

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
