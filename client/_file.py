"""An fs3 file as a Python binary file: read, readinto, write, seek, tell, context manager.

``File`` is the raw (unbuffered) layer over an ``AsyncFile`` run on the client's event loop;
``Client.open`` wraps it in ``io.BufferedReader`` / ``BufferedWriter`` / ``BufferedRandom`` (and
``TextIOWrapper`` for text modes) as the built-in ``open`` does, with ``pread`` and ``pwrite`` added
(positional, the position stays; safe from several threads at once). Writes are write-behind (see
``AsyncFile``): ``flush()`` and ``close()`` wait for them and raise what failed.
"""

from __future__ import annotations

import io
import threading
from typing import TYPE_CHECKING

from ._async_file import AsyncFile

if TYPE_CHECKING:
    from ._client import Client


class File(io.RawIOBase):
    def __init__(self, client: Client, afile: AsyncFile):
        super().__init__()
        self._client = client
        self._afile = afile
        self.name = afile.name
        self.mode = afile.mode
        self._lock = threading.Lock()

    @property
    def inode(self):
        return self._afile.inode

    @property
    def size(self) -> int:
        """The file's length as this handle sees it."""
        return self._afile.size

    def readable(self) -> bool:
        return self._afile.readable()

    def writable(self) -> bool:
        return self._afile.writable()

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        self._checkClosed()
        return self._afile.tell()

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        self._checkClosed()
        return self._afile.seek(offset, whence)

    def readinto(self, buffer) -> int:
        self._checkClosed()
        with self._lock:
            return self._client._run(self._afile.readinto(buffer))

    def readall(self) -> bytes:
        self._checkClosed()
        with self._lock:
            return self._client._run(self._afile.read())

    def write(self, data) -> int:
        self._checkClosed()
        with self._lock:
            return self._client._run(self._afile.write(data))

    def flush(self) -> None:
        if self.closed:
            return
        with self._lock:
            if not self._afile.settled:  # (a write's task records its failure before it leaves the set)
                self._client._run(self._afile.flush())

    def pread(self, size: int, offset: int) -> bytes:
        """Up to ``size`` bytes from ``offset``; the position stays. Threads may call ``pread`` and
        ``pwrite`` at once (they do not take turns with each other, only on the event loop)."""
        self._checkClosed()
        return self._client._run(self._afile.pread(size, offset))

    def pwrite(self, data, offset: int) -> int:
        """Write ``data`` at ``offset`` (write-behind, like ``write``); the position stays."""
        self._checkClosed()
        return self._client._run(self._afile.pwrite(data, offset))

    def truncate(self, size: int | None = None) -> int:
        self._checkClosed()
        with self._lock:
            return self._client._run(self._afile.truncate(size))

    def fileno(self) -> int:
        raise io.UnsupportedOperation("fs3 files have no file descriptor")

    def commit(self) -> None:
        """See ``AsyncFile.commit``."""
        with self._lock:
            self._client._run(self._afile.commit())

    def close_as(self, path: str) -> None:
        """See ``AsyncFile.close_as``: close, renamed to ``path`` in the same meta call."""
        self._checkClosed()
        try:
            with self._lock:
                self._client._run(self._afile.close_as(path))
        finally:
            if self._afile.closed:  # (closed under its own name, should the rename have been refused)
                super().close()

    def close(self) -> None:
        if self.closed:
            return
        if self._client._loop.on_loop():  # dropped unclosed, and collected on the client's own thread
            self._client._loop.loop.create_task(self._afile.close())  # (it ends the session soon after)
            super().close()
            return
        try:
            with self._lock:
                self._client._run(self._afile.close())
        finally:
            super().close()

    def __repr__(self) -> str:
        return f"<fs3.File name={self.name!r} mode={self.mode!r} closed={self.closed}>"



def _pread(f: io.BufferedIOBase, size: int, offset: int) -> bytes:
    if f.writable():  # this file's buffered writes first
        f.flush()
    return f.raw.pread(size, offset)  # type: ignore[attr-defined]


def _pwrite(f: io.BufferedIOBase, data, offset: int) -> int:
    f.flush()
    n = f.raw.pwrite(data, offset)  # type: ignore[attr-defined]
    if f.readable():  # drop read-ahead that may hold the bytes just replaced
        pos = f.tell()
        f.seek(0, io.SEEK_END)
        f.seek(pos)
    return n


class BufferedReader(io.BufferedReader):
    """``io.BufferedReader`` with ``pread`` (the position stays; several threads may call it)."""

    def pread(self, size: int, offset: int) -> bytes:
        return _pread(self, size, offset)


class BufferedWriter(io.BufferedWriter):
    """``io.BufferedWriter`` with ``pwrite`` (the buffer is flushed first; the position stays)."""

    def pwrite(self, data, offset: int) -> int:
        return _pwrite(self, data, offset)


class BufferedRandom(io.BufferedRandom):
    """``io.BufferedRandom`` with ``pread`` and ``pwrite`` (see ``BufferedReader``, ``BufferedWriter``)."""

    def pread(self, size: int, offset: int) -> bytes:
        return _pread(self, size, offset)

    def pwrite(self, data, offset: int) -> int:
        return _pwrite(self, data, offset)
