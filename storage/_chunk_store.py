"""The chunk store of one target: copy-on-write chunk updates over slot files, checksummed reads.

Every update writes the chunk's complete new content to a fresh slot with O_DIRECT, flushes it, then
commits the chunk's new record (version + 1, length, CRC32C of the chunk and of each 4 KiB block); the
old slot is freed only after that commit. Every read checks the CRCs of the blocks it touches and never
returns data that fails them.
"""

from __future__ import annotations

import array
import logging
import os
import threading
from pathlib import Path

from fs3._checksum import CRC_BLOCK, block_crcs, crc32c
from fs3._errors import ChecksumMismatch, InvalidArgument

from ._buffers import BufferPool
from ._chunk_meta import ChunkMetaStore, ChunkRecord, chunk_key, split_key
from ._direct_io import ALIGN, align_up
from ._slots import MAX_CLASS, SlotFiles, size_class

log = logging.getLogger(__name__)

MAX_CHUNK = 1 << MAX_CLASS
_LOCK_STRIPES = 1024
RECORD_CACHE_BYTES = 32 << 20  # chunk records kept in memory (mostly their block CRCs)


def _stripe(inode: int, index: int) -> int:
    return (inode * 1_000_003 + index) % _LOCK_STRIPES


def chunk_checksum(blocks: bytes) -> int:
    """A chunk's checksum: the CRC32C of its block CRCs (one cheap pass over 1 KiB per MiB of data),
    equal for equal content, so replicas can be compared without reading them."""
    return crc32c(blocks)


class ChunkStore:
    def __init__(self, root: Path, *, direct: bool = True, name: str = "", buffers: BufferPool | None = None):
        self.root = root
        self.name = name or str(root)
        self.buffers = buffers or BufferPool()
        root.mkdir(parents=True, exist_ok=True)
        self._cache: dict[bytes, ChunkRecord] = {}
        self._cache_bytes = 0
        self.meta = ChunkMetaStore(root / "chunks.db")
        self.slots = SlotFiles(root / "slots", self.meta.used_slots(), direct=direct)
        self._locks = [threading.Lock() for _ in range(_LOCK_STRIPES)]
        self._stats_lock = threading.Lock()
        self.chunk_count, self.used_bytes = self.meta.totals()
        self.corruptions = 0

    @property
    def direct(self) -> bool:
        return self.slots.direct

    def _lock(self, inode: int, index: int) -> threading.Lock:
        return self._locks[_stripe(inode, index)]

    # -- records -----------------------------------------------------------------------------------

    def _record(self, key: bytes, lock: threading.Lock) -> ChunkRecord | None:
        """The chunk's committed record, from memory when cached. A miss fills the cache under the
        chunk's lock, so it can never put back a record an update has just replaced."""
        rec = self._cache.get(key)
        if rec is not None:
            return rec
        with lock:
            rec = self.meta.get(key)
            if rec is not None:
                self._remember(key, rec)
        return rec

    def _remember(self, key: bytes, rec: ChunkRecord | None) -> None:
        # Called with the chunk's lock held. FIFO eviction keeps the bookkeeping cheap.
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

    # -- reads -------------------------------------------------------------------------------------

    def query(self, inode: int, index: int) -> ChunkRecord | None:
        return self._record(chunk_key(inode, index), self._lock(inode, index))

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
        chunk ends, 0 past it) and the record (None: no such chunk)."""
        slots = self.slots
        epoch = slots.begin_read()
        try:
            key = chunk_key(inode, index)
            rec = self._cache.get(key)
            if rec is None:
                rec = self._record(key, self._lock(inode, index))
                if rec is None:
                    return 0, None
            end = min(offset + length, rec.length)
            if offset >= end:
                return 0, rec
            self._load_into(inode, index, rec, offset, end, dest)
            return end - offset, rec
        finally:
            slots.end_read(epoch)

    def _load_into(self, inode: int, index: int, rec: ChunkRecord, lo: int, hi: int, dest: memoryview) -> None:
        """Fill ``dest`` with the verified blocks covering chunk bytes [lo, hi), starting at the block of
        ``lo``. Bytes past ``hi`` up to the block end are whatever the slot holds."""
        start = lo - lo % CRC_BLOCK
        view = dest[: -(-hi // ALIGN) * ALIGN - start]
        got = os.preadv(self.slots.file(rec.cls).fd, [view], (rec.slot << rec.cls) + start)
        crcs = memoryview(rec.blocks).cast("I")  # native order: the blocks were packed with array("I")
        length = rec.length
        for b in range(start // CRC_BLOCK, -(-hi // CRC_BLOCK)):
            b_lo = b * CRC_BLOCK - start
            b_hi = min(b_lo + CRC_BLOCK, length - start)
            if got < b_hi or crc32c(view[b_lo:b_hi]) != crcs[b]:
                self._corrupt(inode, index, rec, b)

    def _corrupt(self, inode: int, index: int, rec: ChunkRecord, block: int):
        with self._stats_lock:
            self.corruptions += 1
        log.error(
            "target %s: chunk %d:%d version %d failed its CRC32C at block %d (bytes %d-%d); not served",
            self.name, inode, index, rec.version, block, block * CRC_BLOCK, (block + 1) * CRC_BLOCK,
        )
        raise ChecksumMismatch(
            f"Input/output error: chunk {inode}:{index} v{rec.version} on target {self.name} failed its "
            f"checksum at block {block}"
        )

    # -- updates -----------------------------------------------------------------------------------

    def _current(self, key: bytes) -> ChunkRecord | None:
        # With the chunk's lock held (so not through _record, which takes it).
        rec = self._cache.get(key)
        return rec if rec is not None else self.meta.get(key)

    def write(self, inode: int, index: int, offset: int, data, chunk_size: int, *,
              aligned: memoryview | None = None) -> ChunkRecord:
        """Write ``data`` at ``offset`` of the chunk (creating it); bytes between the old end and
        ``offset`` read as zeros. Returns the new committed record.

        ``aligned``, when given, is a page-aligned writable buffer that starts with ``data`` and has room
        up to the next 4 KiB: a write that replaces the whole chunk goes to disk straight from it."""
        data = memoryview(data).cast("B")
        end = offset + len(data)
        if offset < 0 or end > min(chunk_size, MAX_CHUNK):
            raise InvalidArgument(
                f"Invalid argument: write of {len(data)} bytes at {offset} overflows a {chunk_size}-byte chunk"
            )
        with self._lock(inode, index):
            key = chunk_key(inode, index)
            old = self._current(key)
            old_len = old.length if old else 0
            new_len = max(old_len, end)
            if aligned is not None and offset == 0 and end >= old_len:
                tail = align_up(end) - end
                if tail:
                    aligned[end : end + tail] = bytes(tail)
                return self._commit(key, old, aligned, end)
            buf = self.buffers.acquire(align_up(new_len))
            try:
                view = memoryview(buf)
                if old is not None and (offset > 0 or end < old_len):
                    # Keep the old bytes the write does not cover: all of them when it ends inside the
                    # chunk, else those before it.
                    keep = old_len if end < old_len else min(old_len, offset)
                    if keep:
                        self._load_into(inode, index, old, 0, keep, view)
                    view[keep:offset] = bytes(max(0, offset - keep))  # a gap reads as zeros
                view[offset:end] = data
                tail = align_up(new_len) - new_len
                if tail:
                    view[new_len : new_len + tail] = bytes(tail)  # no stale bytes in the slot's padding
                return self._commit(key, old, view, new_len)
            finally:
                del view
                self.buffers.release(buf)

    def truncate(self, inode: int, index: int, length: int) -> ChunkRecord | None:
        """Shorten the chunk to ``length`` bytes (a no-op when it is not longer); 0 removes it."""
        with self._lock(inode, index):
            key = chunk_key(inode, index)
            old = self._current(key)
            if old is None or old.length <= length:
                return old
            if length == 0:
                self.meta.delete(key)
                self._remember(key, None)
                self._account(-1, -old.length)
                self.slots.free(old.cls, old.slot, release=True)
                return None
            buf = self.buffers.acquire(align_up(length))
            try:
                view = memoryview(buf)
                self._load_into(inode, index, old, 0, length, view)
                tail = align_up(length) - length
                if tail:
                    view[length : length + tail] = bytes(tail)
                return self._commit(key, old, view, length)
            finally:
                del view
                self.buffers.release(buf)

    def _commit(self, key: bytes, old: ChunkRecord | None, view: memoryview, length: int) -> ChunkRecord:
        """Write the chunk's new content to a fresh slot, flush it, then commit its record; the old slot
        is freed only after that. Called with the chunk's lock held."""
        cls = size_class(length)
        slot = self.slots.allocate(cls)
        try:
            f = self.slots.file(cls)
            f.write_from(view[: align_up(length)], slot << cls)
            f.sync()
            blocks = array.array("I", block_crcs(view[:length])).tobytes()
            rec = ChunkRecord((old.version if old else 0) + 1, length, chunk_checksum(blocks), cls, slot, blocks)
            self.meta.put(key, rec)
        except BaseException:
            self.slots.unallocate(cls, slot)
            raise
        self._remember(key, rec)
        if old is not None:
            self.slots.free(old.cls, old.slot)
        self._account(0 if old else 1, length - (old.length if old else 0))
        return rec

    def remove_from(self, inode: int, from_index: int) -> int:
        """Remove chunks ``from_index`` onwards of ``inode``; returns how many there were."""
        keys = self.meta.keys(chunk_key(inode, from_index), chunk_key(inode + 1, 0))
        total = 0
        for i in range(0, len(keys), 256):
            batch = keys[i : i + 256]
            # Hold the batch's chunk locks (in stripe order, as no writer holds more than one) so no
            # update of these chunks interleaves with their removal.
            locks = [self._locks[s] for s in sorted({_stripe(*split_key(k)) for k in batch})]
            for lock in locks:
                lock.acquire()
            try:
                removed = self.meta.delete_keys(batch)
                for key, rec in removed:
                    self._remember(key, None)
                    self.slots.free(rec.cls, rec.slot, release=True)
            finally:
                for lock in reversed(locks):
                    lock.release()
            self._account(-len(removed), -sum(rec.length for _, rec in removed))
            total += len(removed)
        return total

    def _account(self, chunks: int, nbytes: int) -> None:
        with self._stats_lock:
            self.chunk_count += chunks
            self.used_bytes += nbytes

    def close(self) -> None:
        self.slots.close()
        self.meta.close()
