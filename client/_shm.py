"""The client's shared-memory region: where storage nodes on the same host put the chunks it reads (with
O_DIRECT, straight from disk) and take the chunks it writes, as 3FS's USRBIO does.

The region is a file in /dev/shm created by this process; its first page carries a random nonce that a
storage node reads back to prove it maps the same memory (the same host, the same /dev/shm). The rest is
handed out in page-aligned pieces for requests in flight.

The name must stay while the client lives (a storage node that restarts maps it again), so a process
that dies without closing its client (kill -9) cannot remove it itself: a small watcher process, started
with the region, removes it as soon as its owner exits, and leaves when the client closes the region.
"""

from __future__ import annotations

import asyncio
import bisect
import mmap
import os
import secrets
import subprocess
import sys

from fs3._wire import ALIGN

DEFAULT_SIZE = 64 << 20

# The watcher: waits for its owner to exit (a pidfd turns readable; without one, its parent pid changes),
# then removes the region. Run as `python -I -S`: no site packages, starts in a few milliseconds.
_WATCHER = """
import os, select, sys
owner, path = int(sys.argv[1]), sys.argv[2]
try:
    fd = os.pidfd_open(owner)
except (AttributeError, OSError):
    import time
    while os.getppid() == owner:
        time.sleep(0.2)
else:
    select.select([fd], [], [])
try:
    os.unlink(path)
except OSError:
    pass
"""


def _watch(path: str) -> subprocess.Popen | None:
    """A process that removes ``path`` once this one exits, however it exits (None: none could start)."""
    if not sys.executable:
        return None
    try:
        return subprocess.Popen([sys.executable, "-I", "-S", "-c", _WATCHER, str(os.getpid()), path],
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                close_fds=True, start_new_session=True)  # (a Ctrl-C at the terminal is not for it)
    except OSError:
        return None


def _remove_stale_regions() -> None:
    """Remove regions left by processes that died without cleaning up (names carry the pid)."""
    try:
        names = os.listdir("/dev/shm")
    except OSError:
        return
    for name in names:
        parts = name.split("-")
        if len(parts) != 3 or parts[0] != "fs3" or not parts[1].isdigit():
            continue
        pid = int(parts[1])
        if pid != os.getpid() and not os.path.exists(f"/proc/{pid}"):
            try:
                os.unlink(f"/dev/shm/{name}")
            except OSError:
                pass


class ShmRegion:
    def __init__(self, size: int = DEFAULT_SIZE):
        _remove_stale_regions()
        self.size = max(size, 4 * ALIGN) // ALIGN * ALIGN
        self.name = f"fs3-{os.getpid()}-{secrets.token_hex(8)}"
        self.path = f"/dev/shm/{self.name}"
        self._pid = os.getpid()
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        try:
            os.ftruncate(fd, self.size)
            self.map = mmap.mmap(fd, self.size)
        finally:
            os.close(fd)
        self.nonce = secrets.token_bytes(16)
        self.map[:16] = self.nonce
        self._watcher = _watch(self.path)
        self.view = memoryview(self.map)
        self._free: list[tuple[int, int]] = [(ALIGN, self.size - ALIGN)]  # (start, length), sorted
        self._waiters: list[asyncio.Future] = []
        self.closed = False

    @property
    def capacity(self) -> int:
        """The largest single reservation the region can ever satisfy."""
        return self.size - ALIGN

    def _take(self, n: int) -> int | None:
        for i, (start, length) in enumerate(self._free):
            if length >= n:
                if length == n:
                    del self._free[i]
                else:
                    self._free[i] = (start + n, length - n)
                return start
        return None

    def try_alloc(self, n: int) -> int | None:
        """Reserve ``n`` bytes now, or None when the region has no room."""
        return self._take(-(-n // ALIGN) * ALIGN)

    async def alloc(self, n: int) -> int:
        """Reserve ``n`` bytes (rounded up to pages); waits while the region is full."""
        n = -(-n // ALIGN) * ALIGN
        if n > self.capacity:
            raise ValueError(f"reservation of {n} bytes exceeds the shared region ({self.capacity})")
        while True:
            start = self._take(n)
            if start is not None:
                return start
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            await waiter

    def free(self, start: int, n: int) -> None:
        n = -(-n // ALIGN) * ALIGN
        i = bisect.bisect_left(self._free, (start, 0))
        self._free.insert(i, (start, n))
        # Merge with the neighbours.
        if i + 1 < len(self._free) and start + n == self._free[i + 1][0]:
            self._free[i] = (start, n + self._free[i + 1][1])
            del self._free[i + 1]
        if i > 0 and self._free[i - 1][0] + self._free[i - 1][1] == start:
            self._free[i - 1] = (self._free[i - 1][0], self._free[i - 1][1] + self._free[i][1])
            del self._free[i]
        waiters, self._waiters = self._waiters, []
        for w in waiters:
            if not w.done():
                w.set_result(None)

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self._pid == os.getpid():  # (a forked child's copy is its parent's to remove)
            try:
                os.unlink(self.path)
            except OSError:
                pass
            if self._watcher is not None:
                self._watcher.terminate()
                try:
                    self._watcher.wait(1.0)
                except subprocess.TimeoutExpired:
                    pass
        self.view.release()
        try:
            self.map.close()
        except BufferError:
            pass
