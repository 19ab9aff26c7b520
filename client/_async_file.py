"""An open fs3 file for asyncio code; the sync ``File`` drives one of these.

Writes are write-behind: ``write`` copies the data out of the caller's buffer, sends each chunk piece to
its chain's head and returns while the pieces are in flight (at most ``WINDOW`` bytes of them), so
sequential writes keep every storage node busy. Writes to the same chunk are sent in order. A failed
write surfaces at the next ``write``, ``flush`` or ``close``, and ``close`` waits for every write before it
settles the file's length with meta. Reads first wait for this file's own writes.
"""

from __future__ import annotations

import asyncio
import io
from typing import TYPE_CHECKING

from fs3._capability import WRITE
from fs3._errors import InvalidArgument
from fs3._layout import slices
from fs3._paths import normalize
from fs3.proto import meta_pb2

from ._chunk_io import plan_reads

if TYPE_CHECKING:
    from ._async_client import AsyncClient

WINDOW = 64 << 20  # bytes of writes in flight per file (over shm also bounded by the shared region)


class AsyncFile:
    """One open fs3 file for asyncio code (``await client.open(path, mode)``): a position, reads planned
    straight to the storage nodes, and write-behind writes (see the module docstring).

    The file holds a write session at meta while open for writing, which keeps its chunks from being
    reclaimed and lets meta settle its length at ``close``: the length becomes at least the end of what
    this file wrote (close-to-open: a file opened after this close sees every byte). Like a Python file
    object it has one position, so tasks sharing it must take turns, except with ``pread`` and ``pwrite``,
    which leave the position alone; ``client.read_batch`` reads many ranges at once."""

    def __init__(
        self,
        client: AsyncClient,
        path: str,
        inode: meta_pb2.Inode,
        session: int,
        *,
        mode: str,
        readable: bool,
        writable: bool,
        append: bool,
        capabilities: tuple = (),
        shared: bool = False,
    ):
        self._client = client
        self.shared = shared  # another client had it open when opened, and one of the two writes
        self._capabilities = capabilities  # pinned in the client's Capabilities while open
        self.name = path
        self.mode = mode
        self.inode = inode
        self._session = session
        self._readable = readable
        self._writable = writable
        self._append = append
        self._pos = inode.length if append else 0
        client._open_files.opened(inode.id)
        self._own_length = inode.length
        self._wrote = False
        self._written_end = 0
        self._chunks_written: set[int] = set()  # acknowledged, for meta's count of stored bytes
        self._tasks: set[asyncio.Task] = set()
        self._by_chunk: dict[int, asyncio.Task] = {}
        self._in_flight = 0
        self._error: BaseException | None = None
        self._submitting = asyncio.Lock()
        self.closed = False

    # -- position ----------------------------------------------------------------------------------

    def readable(self) -> bool:
        return self._readable

    def writable(self) -> bool:
        return self._writable

    def tell(self) -> int:
        self._check_open()
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        self._check_open()
        if whence == io.SEEK_SET:
            pos = offset
        elif whence == io.SEEK_CUR:
            pos = self._pos + offset
        elif whence == io.SEEK_END:
            pos = self._length + offset
        else:
            raise ValueError(f"invalid whence ({whence}, should be 0, 1 or 2)")
        if pos < 0:
            raise InvalidArgument("Invalid argument: negative seek position", path=self.name)
        self._pos = pos
        return pos

    @property
    def size(self) -> int:
        """The file's length as this handle sees it."""
        return self._length

    @property
    def _length(self) -> int:
        """The length this handle knows: at open, what meta said; then its own writes and every
        acknowledged write of this client's other open files of the inode."""
        return max(self._own_length, self._client._open_files.end(self.inode.id))

    @_length.setter
    def _length(self, value: int) -> None:
        self._own_length = value

    def learn_length(self, size: int) -> None:
        """Meta says the file is ``size`` long now (another client wrote it; the mount asks after taking
        a lock): this handle knows that length, or the end of its own acknowledged writes past it."""
        self._own_length = max(size, self._written_end) if self._wrote else size

    def _check_open(self) -> None:
        if self.closed:
            raise ValueError("I/O operation on closed file")

    # -- reads -------------------------------------------------------------------------------------

    async def readinto(self, buffer) -> int:
        self._check_open()
        if not self._readable:
            raise io.UnsupportedOperation("File not open for reading")
        if self._tasks:
            await self.flush()
        out = memoryview(buffer).cast("B")
        n = max(0, min(len(out), self._length - self._pos))
        if n:
            await self._client._chunks.read(plan_reads(self.inode, self._pos, out[:n]))
            self._pos += n
        return n

    async def pread(self, size: int, offset: int) -> bytes:
        """Up to ``size`` bytes from ``offset`` without moving the position (``os.pread``); tasks may
        call it (and ``pwrite``) at once."""
        self._check_open()
        if not self._readable:
            raise io.UnsupportedOperation("File not open for reading")
        if offset < 0:
            raise InvalidArgument("Invalid argument: negative offset", path=self.name)
        if self._tasks:
            await self.flush()
        buf = bytearray(max(0, min(size, self._length - offset)))
        if buf:
            await self._client._chunks.read(plan_reads(self.inode, offset, memoryview(buf)))
        return bytes(buf)

    async def read(self, size: int = -1) -> bytes:
        self._check_open()
        left = max(0, self._length - self._pos)
        buf = bytearray(left if size is None or size < 0 else min(size, left))
        n = await self.readinto(buf)
        del buf[n:]
        return bytes(buf)

    # -- writes ------------------------------------------------------------------------------------

    def _raise_pending(self) -> None:
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    async def write(self, data) -> int:
        self._check_open()
        if not self._writable:
            raise io.UnsupportedOperation("File not open for writing")
        self._raise_pending()
        view = memoryview(data).cast("B")
        if not len(view):
            return 0
        if self._append:  # at the end of the file and of every append before it, in any client
            self._pos = await self._client._append_offset(self.inode.id, self._session, len(view))
        await self._submit(view, self._pos)
        self._pos += len(view)
        return len(view)

    async def pwrite(self, data, offset: int) -> int:
        """Write ``data`` at ``offset`` without moving the position (``os.pwrite``); tasks may call it
        (and ``pread``) at once. In append mode it appends, as Linux's pwrite on O_APPEND does."""
        self._check_open()
        if not self._writable:
            raise io.UnsupportedOperation("File not open for writing")
        if self._append:
            return await self.write(data)
        if offset < 0:
            raise InvalidArgument("Invalid argument: negative offset", path=self.name)
        self._raise_pending()
        view = memoryview(data).cast("B")
        if len(view):
            await self._submit(view, offset)
        return len(view)

    async def _submit(self, view: memoryview, pos: int) -> None:
        """Send ``view`` to be written at ``pos`` (write-behind). One caller at a time hands out pieces,
        so writes to one chunk leave in the order they were made."""
        chunks = self._client._chunks
        async with self._submitting:
            for s in slices(pos, len(view), self.inode.layout.chunk_size):
                previous = self._by_chunk.get(s.index)
                if previous is not None and not previous.done():
                    await asyncio.wait([previous])
                while self._tasks and self._in_flight + s.length > WINDOW:
                    await asyncio.wait(self._tasks, return_when=asyncio.FIRST_COMPLETED)
                self._raise_pending()
                prepared = await chunks.prepare_write(
                    self.inode, s.index, s.chunk_offset, view[s.buffer_offset : s.buffer_offset + s.length]
                )
                self._in_flight += s.length
                task = asyncio.ensure_future(self._send(prepared, s.length))
                self._tasks.add(task)
                self._by_chunk[s.index] = task
            self._wrote = True
            self._length = max(self._length, pos + len(view))

    async def _send(self, prepared, length: int) -> None:
        try:
            await self._client._chunks.send_write(prepared)
            # Only acknowledged bytes make the file longer at close: a failed write leaves no length.
            end = prepared.index * prepared.chunk_size + prepared.offset + prepared.length
            self._written_end = max(self._written_end, end)
            self._chunks_written.add(prepared.index)
            self._client._open_files.wrote(self.inode.id, end)  # this client's other files see it
        except BaseException as exc:  # noqa: BLE001 - kept for the next call on this file
            if self._error is None:
                self._error = exc
        finally:
            self._in_flight -= length
            task = asyncio.current_task()
            self._tasks.discard(task)
            if self._by_chunk.get(prepared.index) is task:
                del self._by_chunk[prepared.index]

    @property
    def settled(self) -> bool:
        """No write in flight and no failure to report: ``flush`` would have nothing to do."""
        return not self._tasks and self._error is None

    async def flush(self) -> None:
        """Wait until every write so far is acknowledged (durable on storage); raise the first failure."""
        while self._tasks:
            await asyncio.wait(set(self._tasks))
        self._raise_pending()

    async def truncate(self, size: int | None = None) -> int:
        self._check_open()
        if not self._writable:
            raise io.UnsupportedOperation("File not open for writing")
        await self.flush()
        size = self._pos if size is None else size
        self.inode = await self._client._truncate_inode(self.name, size)
        self._length = size
        self._written_end = min(self._written_end, size)
        self._chunks_written = {i for i in self._chunks_written if i * self.inode.layout.chunk_size < size}
        return size

    async def commit(self) -> None:
        """Make what this file wrote so far visible to every open, in any client (its length and mtime
        at meta, as close does), and stay open: a flush or fsync through the mount. The write session
        goes on, so a file removed meanwhile keeps its data for this descriptor."""
        self._check_open()
        if not self._writable:
            return
        await self.flush()
        if self._session and self._wrote:
            self.inode = await self._client._sessions.commit(self.inode, self._session, self._written_end,
                                                             sorted(self._chunks_written))
            self._wrote = False  # (a close with no write after this one stamps nothing)

    async def close_as(self, path: str) -> None:
        """Close, and rename the file to ``path`` (replacing what is there) in the same meta transaction:
        its bytes appear under ``path`` whole, or not at all, and the close costs no extra round trip
        (a copy written under a temporary name). Should the rename fail (permissions, a directory at
        ``path``, the file renamed meanwhile), the file is still closed under its name and the error
        raised."""
        from ._async_client import request_id  # (the client module imports this one)

        self._check_open()
        if not self._writable or not self._session:
            raise io.UnsupportedOperation("close_as needs a file open for writing")
        await self.flush()
        await self._end((normalize(self.name), normalize(path), request_id()))

    async def close(self) -> None:
        if self.closed:
            return
        await self._end(None)

    async def _end(self, rename) -> None:
        try:
            if self._writable:
                await self.flush()
        finally:
            self.closed = True
            self._client._open_files.closed(self.inode.id)
            for key in self._capabilities:  # the write one ends with the session
                self._client._capabilities.unpin(key, drop=key is not None and key[1] == WRITE,
                                                 session=self._session)
            if self._session and not self._wrote and rename is None:
                self._client._sessions.release(self.inode, self._session)
            elif self._session:
                chunks = sorted(self._chunks_written)
                try:
                    self.inode = await self._client._sessions.close(
                        self.inode, self._session, self._wrote, self._written_end, chunks, rename)
                except Exception:
                    if rename is not None:  # nothing happened at meta: close under the file's own name
                        self.inode = await self._client._sessions.close(
                            self.inode, self._session, self._wrote, self._written_end, chunks)
                    raise

    async def __aenter__(self) -> AsyncFile:
        return self

    async def __aexit__(self, *exc) -> None:
        await self.close()

    def __repr__(self) -> str:
        return f"<fs3.AsyncFile name={self.name!r} mode={self.mode!r} closed={self.closed}>"
