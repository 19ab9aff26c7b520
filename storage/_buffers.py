"""A pool of page-aligned buffers for O_DIRECT I/O.

Fresh anonymous memory costs a page fault per 4 KiB on first touch (about 0.8 ms per MiB here, more than
reading it from disk), so buffers are kept and reused: one free list per power-of-two size.
"""

from __future__ import annotations

import asyncio
import mmap
import threading

from ._direct_io import ALIGN


class Lease:
    """A pooled buffer on loan from its pool: ``with pool.lease(n) as buf:`` gives it back on exit,
    however the block ends but by a cancellation (then the buffer is dropped, since something given up
    on may still be using it). A function that fills a buffer for its caller returns
    ``lease.hand_over()`` from inside its ``with``, after everything that may fail: the caller then
    holds the lease (and gives the buffer back), while the function's own ``with`` gives it back should
    the filling fail."""

    __slots__ = ("pool", "buf")

    def __init__(self, pool: BufferPool, buf: mmap.mmap | None):
        self.pool = pool
        self.buf = buf  # None once given back or handed over

    def __enter__(self) -> mmap.mmap:
        assert self.buf is not None, "a lease used after it ended"
        return self.buf

    def __exit__(self, exc_type, _exc, _tb) -> None:
        buf = self.buf
        if buf is not None:
            self.buf = None
            if exc_type is not None and issubclass(exc_type, asyncio.CancelledError):
                # Given up mid-way: a transport may still be sending from the buffer, or a frame
                # reader filling it with a reply that was on its way. Not back to the pool, where
                # another request would get it: dropped, for the garbage collector once they let go.
                return
            self.pool.release(buf)

    def hand_over(self) -> Lease:
        """The same buffer on a new lease (for the caller); this one then gives nothing back."""
        buf, self.buf = self.buf, None
        return Lease(self.pool, buf)


class BufferPool:
    """Page-aligned buffers by power-of-two size, kept for reuse up to ``max_cached`` bytes in all.
    Thread-safe. Scoped use goes through ``lease``; ``acquire``/``release`` remain for buffers whose
    ownership passes elsewhere (a payload received into one, a reply held until the transport drains)."""

    def __init__(self, max_cached: int = 256 << 20):
        self._free: dict[int, list[mmap.mmap]] = {}
        self._cached = 0
        self._max_cached = max_cached
        self._lock = threading.Lock()

    @staticmethod
    def _size_for(n: int) -> int:
        return max(ALIGN, 1 << (max(n, 1) - 1).bit_length())

    def acquire(self, n: int) -> mmap.mmap:
        """An aligned buffer of at least ``n`` bytes (contents undefined); give it back with release."""
        size = self._size_for(n)
        with self._lock:
            free = self._free.get(size)
            if free:
                self._cached -= size
                return free.pop()
        return mmap.mmap(-1, size)

    def lease(self, n: int) -> Lease:
        """An aligned buffer of at least ``n`` bytes (contents undefined), given back when the lease ends."""
        return Lease(self, self.acquire(n))

    def release(self, buf: mmap.mmap) -> None:
        size = len(buf)
        with self._lock:
            if self._cached + size <= self._max_cached:
                self._free.setdefault(size, []).append(buf)
                self._cached += size
                return
        try:
            buf.close()
        except BufferError:  # still exported by a memoryview somewhere: let the GC have it
            pass
