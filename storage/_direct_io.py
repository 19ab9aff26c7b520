"""Direct I/O: files opened with O_DIRECT and the aligned buffers it needs.

Chunk data bypasses the page cache: training reads are random and never reused, so caching them only
evicts what else the machine needs. Where the file system refuses O_DIRECT (some tmpfs, FUSE mounts),
files open buffered and ``DirectFile.direct`` says so; the caller reports it once.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import mmap
import os

ALIGN = 4096

_FALLOC_FL_KEEP_SIZE = 0x01
_FALLOC_FL_PUNCH_HOLE = 0x02
_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
_fallocate = getattr(_libc, "fallocate", None)
if _fallocate is not None:
    _fallocate.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_long, ctypes.c_long]
    _fallocate.restype = ctypes.c_int


def align_up(n: int, align: int = ALIGN) -> int:
    return -(-n // align) * align


def align_down(n: int, align: int = ALIGN) -> int:
    return n // align * align


def aligned_buffer(size: int) -> mmap.mmap:
    """A zero-filled, page-aligned buffer of ``align_up(size)`` bytes, usable for O_DIRECT."""
    return mmap.mmap(-1, max(ALIGN, align_up(size)))


class DirectFile:
    """A file for aligned positional I/O, with O_DIRECT where the file system allows it."""

    def __init__(self, path: str | os.PathLike, *, direct: bool = True):
        flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0)
        self.direct = False
        if direct and hasattr(os, "O_DIRECT"):
            try:
                self.fd = os.open(path, flags | os.O_DIRECT, 0o600)
                self.direct = True
                return
            except OSError as exc:
                if exc.errno not in (errno.EINVAL, errno.EOPNOTSUPP):
                    raise
        self.fd = os.open(path, flags, 0o600)

    def size(self) -> int:
        return os.fstat(self.fd).st_size

    def write_from(self, buf, offset: int) -> None:
        view = memoryview(buf)
        done = 0
        while done < len(view):
            done += os.pwritev(self.fd, [view[done:]], offset + done)

    def sync(self) -> None:
        os.fdatasync(self.fd)

    def reserve(self, offset: int, length: int) -> None:
        """Allocate disk space now, so running out of it fails a write before it is acknowledged."""
        os.posix_fallocate(self.fd, offset, length)

    def release(self, offset: int, length: int) -> None:
        """Give the disk space of a freed range back to the file system (best effort)."""
        if _fallocate is not None:
            _fallocate(self.fd, _FALLOC_FL_PUNCH_HOLE | _FALLOC_FL_KEEP_SIZE, offset, length)

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
