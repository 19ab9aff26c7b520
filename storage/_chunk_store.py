"""The chunk store of one target: copy-on-write chunk updates over slot files, checksummed reads.

Every update writes the chunk's complete new content to a fresh slot with O_DIRECT, flushes it, then
commits the chunk's new record (version + 1, length, CRC32C of the chunk and of each 4 KiB block); the
old slot is freed only after that commit. Every read checks the CRCs of the blocks it touches and never
returns data that fails them.
"""

from __future__ import annotations

import array
import logging
import threading
from pathlib import Path

from fs3._checksum import CRC_BLOCK, block_crcs, crc32c
from fs3._errors import ChecksumMismatch, InvalidArgument

from ._chunk_meta import ChunkMetaStore, ChunkRecord, chunk_key, split_key
from ._direct_io import ALIGN, align_down, align_up, aligned_buffer
from ._slots import MAX_CLASS, SlotFiles, size_class

log = logging.getLogger(__name__)

MAX_CHUNK = 1 << MAX_CLASS
_LOCK_STRIPES = 1024


def _stripe(inode: int, index: int) -> int:
    return (inode * 1_000_003 + index) % _LOCK_STRIPES


def _crc_array(blocks: bytes) -> array.array:
    out = array.array("I")
    out.frombytes(blocks)
    return out


class ChunkStore:
    def __init__(self, root: Path, *, direct: bool = True, name: str = ""):
        self.root = root
        self.name = name or str(root)
        root.mkdir(parents=True, exist_ok=True)
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

    # -- reads -------------------------------------------------------------------------------------

    def query(self, inode: int, index: int) -> ChunkRecord | None:
        return self.meta.get(chunk_key(inode, index))

    def read(self, inode: int, index: int, offset: int, length: int) -> tuple[bytes, ChunkRecord | None]:
        """Up to ``length`` bytes at ``offset`` of the chunk's committed content (fewer where the chunk
        ends); ``(b"", None)`` for a chunk that does not exist."""
        epoch = self.slots.begin_read()
        try:
            rec = self.meta.get(chunk_key(inode, index))
            if rec is None:
                return b"", None
            end = min(offset + length, rec.length)
            if offset >= end:
                return b"", rec
            buf, start = self._load(inode, index, rec, offset, end)
            return bytes(memoryview(buf)[offset - start : end - start]), rec
        finally:
            self.slots.end_read(epoch)

    def _load(self, inode: int, index: int, rec: ChunkRecord, lo: int, hi: int):
        """An aligned buffer holding the verified bytes [align_down(lo), hi) of the chunk, and that
        aligned start. Bytes past ``hi`` up to the block end are whatever the slot holds."""
        start, stop = align_down(lo, CRC_BLOCK), align_up(hi, ALIGN)
        buf = aligned_buffer(stop - start)
        view = memoryview(buf)[: stop - start]
        f = self.slots.file(rec.cls)
        got = f.read_into(view, (rec.slot << rec.cls) + start)
        crcs = _crc_array(rec.blocks)
        for b in range(start // CRC_BLOCK, -(-hi // CRC_BLOCK)):
            b_lo = b * CRC_BLOCK - start
            b_hi = min((b + 1) * CRC_BLOCK, rec.length) - start
            if got < b_hi or crc32c(view[b_lo:b_hi]) != crcs[b]:
                self._corrupt(inode, index, rec, b)
        return buf, start

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

    def write(self, inode: int, index: int, offset: int, data, chunk_size: int) -> ChunkRecord:
        """Write ``data`` at ``offset`` of the chunk (creating it); bytes between the old end and
        ``offset`` read as zeros. Returns the new committed record."""
        data = memoryview(data).cast("B")
        end = offset + len(data)
        if offset < 0 or end > min(chunk_size, MAX_CHUNK):
            raise InvalidArgument(
                f"Invalid argument: write of {len(data)} bytes at {offset} overflows a {chunk_size}-byte chunk"
            )
        with self._lock(inode, index):
            key = chunk_key(inode, index)
            old = self.meta.get(key)
            old_len = old.length if old else 0
            new_len = max(old_len, end)
            buf = aligned_buffer(new_len)
            view = memoryview(buf)
            if old is not None and (offset > 0 or end < old_len):
                keep = min(old_len, offset) if end >= old_len else old_len
                if keep:
                    loaded, _ = self._load(inode, index, old, 0, keep)
                    view[:keep] = memoryview(loaded)[:keep]
                    view[keep:offset] = bytes(max(0, offset - keep))  # gap (and stale tail) reads as zeros
            view[offset:end] = data
            return self._commit(key, old, view, new_len)

    def truncate(self, inode: int, index: int, length: int) -> ChunkRecord | None:
        """Shorten the chunk to ``length`` bytes (a no-op when it is not longer); 0 removes it."""
        with self._lock(inode, index):
            key = chunk_key(inode, index)
            old = self.meta.get(key)
            if old is None or old.length <= length:
                return old
            if length == 0:
                self.meta.delete(key)
                self._account(-1, -old.length)
                self.slots.free(old.cls, old.slot, release=True)
                return None
            loaded, _ = self._load(inode, index, old, 0, length)
            buf = aligned_buffer(length)
            view = memoryview(buf)
            view[:length] = memoryview(loaded)[:length]
            return self._commit(key, old, view, length)

    def _commit(self, key: bytes, old: ChunkRecord | None, view: memoryview, length: int) -> ChunkRecord:
        content = view[:length]
        cls = size_class(length)
        slot = self.slots.allocate(cls)
        try:
            f = self.slots.file(cls)
            f.write_from(view[: align_up(length)], slot << cls)
            f.sync()
            blocks = array.array("I", block_crcs(content)).tobytes()
            rec = ChunkRecord((old.version if old else 0) + 1, length, crc32c(content), cls, slot, blocks)
            self.meta.put(key, rec)
        except BaseException:
            self.slots.unallocate(cls, slot)
            raise
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
                for _, rec in removed:
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
