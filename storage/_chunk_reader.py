"""The read side of a target's chunk store: committed records (from memory or the metadata), and reads
of committed content that check every 4 KiB block against its CRC32C.

The data plane reads a frame's items in three steps, all within one read epoch of the slot files (a
slot is not reused while a read that located it may still land): ``locate`` each chunk, issue every
``disk_read`` at once (io_uring), then ``verify`` what landed. ``read_direct`` and ``load`` do the
three for one chunk.
"""

from __future__ import annotations

import logging
import os
import struct
import threading
from collections.abc import Callable

from fs3._checksum import CRC_BLOCK, crc32c
from fs3._errors import ChecksumMismatch, FS3Error, Status

from ._buffers import BufferPool, Lease
from ._chunk_meta import ChunkMetaStore, ChunkRecord, chunk_key, split_key
from ._direct_io import ALIGN, align_up
from ._record_cache import ABSENT, RecordCache
from ._slots import SlotFiles

log = logging.getLogger(__name__)

LOCK_STRIPES = 1024
_U32 = struct.Struct("=I")  # one block CRC, in the native order the blocks were packed in


def _stripe(inode: int, index: int) -> int:
    return (inode * 1_000_003 + index) % LOCK_STRIPES


class ChunkPending(FS3Error):
    """The chunk has an update in flight on this replica: ask another one."""

    status_default = Status.CHUNK_PENDING


class ChunkReader:
    """Reads of one target's committed chunks; ``ChunkStore`` (storage/_chunk_store.py) adds the write
    side and sets up the state declared here. Thread-safe: lookups need no lock; a cache miss takes
    the chunk's lock (one of ``LOCK_STRIPES``), as every change of the chunk does."""

    name: str
    buffers: BufferPool
    meta: ChunkMetaStore
    slots: SlotFiles
    records: RecordCache
    corruptions: int
    on_corrupt: Callable[[int, int], object] | None  # called with (inode, index) when a read finds damage
    _pending: dict[bytes, ChunkRecord]  # pending versions (staged, not yet committed by the chain)
    _locks: list[threading.Lock]
    _stats_lock: threading.Lock

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
        rec = self.records.entries.get(key)
        if rec is not None:
            return None if rec is ABSENT else rec
        with lock:
            rec = self._current(key)
            self.records.remember(key, ABSENT if rec is None else rec)
        return rec

    def _current(self, key: bytes) -> ChunkRecord | None:
        # With the chunk's lock held (so not through _record, which takes it).
        rec = self.records.known(key)
        if rec is None:
            return self.meta.get(key)
        return None if rec is ABSENT else rec

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
        lead = offset % ALIGN
        with self.buffers.lease(align_up(lead + length)) as buf:
            n, rec = self.read_direct(inode, index, offset, length, memoryview(buf))
            return bytes(memoryview(buf)[lead : lead + n]), rec

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
        rec = self.records.entries.get(key)
        if rec is None:
            rec = self._record(key, self._lock(inode, index))
        if rec is None or rec is ABSENT:
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

    def load_damaged(self, inode: int, index: int, rec: ChunkRecord) -> Lease:
        """The chunk's bytes as they are on disk, unverified (a lease, as ``load``): for passing a chunk
        that is damaged on every replica on to a syncing member as it is, with the block CRCs it was
        written with, so that it fails its checksum there too instead of reading as a hole."""
        lease = self.buffers.lease(align_up(max(rec.length, 1)))
        with lease as buf:
            epoch = self.slots.begin_read()
            try:
                if rec.length:
                    fd, view, at = self.disk_read(rec, 0, rec.length, memoryview(buf))
                    os.preadv(fd, [view], at)
            finally:
                self.slots.end_read(epoch)
            return lease.hand_over()

    def load(self, inode: int, index: int, rec: ChunkRecord) -> Lease:
        """The whole verified content of version ``rec`` of the chunk, in a leased pooled buffer (``with
        store.load(...) as buf:``). Raises ``ChecksumMismatch`` for damaged data."""
        lease = self.buffers.lease(align_up(max(rec.length, 1)))
        with lease as buf:  # given back should the read fail
            epoch = self.slots.begin_read()
            try:
                if rec.length:
                    self._load_into(inode, index, rec, 0, rec.length, memoryview(buf))
            finally:
                self.slots.end_read(epoch)
            return lease.hand_over()
