"""An fs3 file as a Python binary file: read, readinto, write, seek, tell, context manager.

``File`` is the raw (unbuffered) layer; ``Client.open`` wraps it in ``io.BufferedReader`` /
``BufferedWriter`` / ``BufferedRandom`` (and ``TextIOWrapper`` for text modes) as the built-in ``open``
does. Large reads and writes pass straight through to the chunk I/O, split per chunk and sent in
parallel.
"""

from __future__ import annotations

import io
import threading
from typing import TYPE_CHECKING

from fs3.proto import meta_pb2

if TYPE_CHECKING:
    from ._client import Client


class File(io.RawIOBase):
    def __init__(
        self,
        client: Client,
        path: str,
        inode: meta_pb2.Inode,
        session: int,
        *,
        mode: str,
        readable: bool,
        writable: bool,
        append: bool,
    ):
        super().__init__()
        self._client = client
        self.name = path
        self.mode = mode
        self.inode = inode
        self._session = session
        self._readable = readable
        self._writable = writable
        self._append = append
        self._pos = 0
        self._length = inode.length
        self._wrote = False
        self._written_end = 0
        self._lock = threading.Lock()

    # -- io.RawIOBase ------------------------------------------------------------------------------

    def readable(self) -> bool:
        return self._readable

    def writable(self) -> bool:
        return self._writable

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        self._checkClosed()
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        self._checkClosed()
        if whence == io.SEEK_SET:
            pos = offset
        elif whence == io.SEEK_CUR:
            pos = self._pos + offset
        elif whence == io.SEEK_END:
            pos = self._length + offset
        else:
            raise ValueError(f"invalid whence ({whence}, should be 0, 1 or 2)")
        if pos < 0:
            raise OSError(22, "Invalid argument: negative seek position")
        self._pos = pos
        return pos

    def readinto(self, buffer) -> int:
        self._checkClosed()
        if not self._readable:
            raise io.UnsupportedOperation("File not open for reading")
        out = memoryview(buffer).cast("B")
        with self._lock:
            n = max(0, min(len(out), self._length - self._pos))
            if n:
                self._client._chunks.read(self.inode, self._pos, out[:n])
                self._pos += n
            return n

    def readall(self) -> bytes:
        self._checkClosed()
        buf = bytearray(max(0, self._length - self._pos))
        n = self.readinto(buf)
        del buf[n:]
        return bytes(buf)

    def write(self, data) -> int:
        self._checkClosed()
        if not self._writable:
            raise io.UnsupportedOperation("File not open for writing")
        view = memoryview(data).cast("B")
        if not len(view):
            return 0
        with self._lock:
            if self._append:
                self._pos = self._length
            self._client._chunks.write(self.inode, self._pos, view)
            self._pos += len(view)
            self._wrote = True
            self._written_end = max(self._written_end, self._pos)
            self._length = max(self._length, self._pos)
        return len(view)

    def truncate(self, size: int | None = None) -> int:
        self._checkClosed()
        if not self._writable:
            raise io.UnsupportedOperation("File not open for writing")
        size = self._pos if size is None else size
        with self._lock:
            self.inode = self._client._truncate_inode(self.name, size)
            self._length = size
            self._written_end = min(self._written_end, size)
        return size

    def fileno(self) -> int:
        raise io.UnsupportedOperation("fs3 files have no file descriptor")

    def close(self) -> None:
        if self.closed:
            return
        try:
            if self._session:
                self.inode = self._client._close_session(self.inode, self._session, self._wrote, self._written_end)
        finally:
            super().close()

    @property
    def size(self) -> int:
        """The file's length as this handle sees it."""
        return self._length

    def __repr__(self) -> str:
        return f"<fs3.File name={self.name!r} mode={self.mode!r} closed={self.closed}>"
