"""A requester's shared-memory region, mapped by the node for the life of its data-plane connection: the
shm transport's reads land in it and its writes are taken from it."""

from __future__ import annotations

import mmap
import os
import re

from fs3 import _wire

_SHM_NAME = re.compile(r"^fs3-[A-Za-z0-9_.-]{1,80}$")


class SharedRegion:
    """A client's ``/dev/shm/<name>`` region, opened only if the client's 16-byte nonce is at its start
    (so a node never maps a region that is not that client's)."""

    def __init__(self, name: str, size: int, nonce: bytes):
        if not _SHM_NAME.match(name):
            raise ValueError("invalid shared-memory name")
        fd = os.open(f"/dev/shm/{name}", os.O_RDWR | os.O_NOFOLLOW | os.O_CLOEXEC)
        try:
            st = os.fstat(fd)
            if st.st_size != size or size < _wire.ALIGN * 2:
                raise ValueError("shared-memory size does not match")
            self.map = mmap.mmap(fd, size)
        finally:
            os.close(fd)
        if self.map[:16] != nonce.ljust(16, b"\0")[:16]:
            self.map.close()
            raise ValueError("shared-memory probe does not match (not the client's region)")
        self.view = memoryview(self.map)
        self.size = size

    def span(self, offset: int, length: int) -> memoryview:
        if offset % _wire.ALIGN or offset < _wire.ALIGN or offset + length > self.size:
            raise IndexError("shared-memory range out of bounds or misaligned")
        return self.view[offset : offset + length]

    def close(self) -> None:
        self.view.release()
        try:
            self.map.close()
        except BufferError:
            pass
