"""The storage node's data plane: chunk reads and writes over the framed binary protocol (fs3/_wire.py)
on an asyncio (uvloop) loop, beside gRPC, which keeps every control call.

A connection authenticates with a token meta signed, then negotiates its transport. With shared memory
(client on the same host) the node reads chunks with O_DIRECT straight into the client's region and
replies with results only; over TCP the data follows the results in the reply. Disk work runs in a
thread pool, one batch per task, with many frames in flight per connection.

Nothing a peer sends can take the node down: a frame that breaks the protocol is answered with an ERROR
frame and the connection is closed; a bad item in a good frame fails that item alone.
"""

from __future__ import annotations

import asyncio
import logging
import mmap
import os
import re
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from fs3 import _token, _wire
from fs3._checksum import crc32c
from fs3._errors import FS3Error, Status
from fs3._frames import FrameReader
from fs3._metrics import OpCounters
from fs3._transports import local_offer

from . import _uring
from ._buffers import BufferPool
from ._replication import Replicator
from ._routing import READ, UPDATE, WRITE, NodeRouting
from ._target import Target

log = logging.getLogger(__name__)

_SHM_NAME = re.compile(r"^fs3-[A-Za-z0-9_.-]{1,80}$")
_OP_NAMES = {_wire.READ: "read", _wire.WRITE: "write", _wire.UPDATE: "update"}
_REQUESTS = frozenset({_wire.HELLO, _wire.READ, _wire.WRITE, _wire.UPDATE})  # frame types a peer may send
MAX_FRAMES_IN_FLIGHT = 64  # per connection; reading pauses beyond this
# Small reads run on the event loop itself when the disk answers fast (an executor hop costs more than
# an NVMe read); a slow disk (recent reads slower than this per frame) sends them to the thread pool.
INLINE_BUDGET = 0.002        # seconds a frame may block the loop
INLINE_MAX_BYTES = 256 << 10
_ALIGNED_LEAD = {_wire.WRITE: _wire.ALIGN - _wire.WRITE_ITEM.size, _wire.UPDATE: _wire.ALIGN - _wire.UPDATE_ITEM.size}
PARALLEL_READS = 4           # disk threads one large READ frame is spread over
RECEIVE_BUFFER = 256 << 10   # frames arrive here, several per system call
DIRECT_PAYLOAD = 64 << 10    # payloads this large are received straight into a buffer of their own


@dataclass
class DataPlaneStats:
    connections: int = 0
    refused: int = 0
    reads: int = 0
    read_bytes: int = 0
    writes: int = 0
    write_bytes: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    ops: OpCounters = field(default_factory=OpCounters)  # per frame type: latency, items, bytes, errors
    started_ns: int = field(default_factory=time.time_ns)

    def count_error(self, status: int, op: str = "") -> None:
        name = Status(status).name if status in Status._value2member_map_ else str(status)
        self.errors[name] = self.errors.get(name, 0) + 1
        if op:
            self.ops.get(op).errors += 1


@dataclass
class DataPlaneContext:
    """What the data plane needs from the node."""

    targets: dict[int, Target]
    routing: NodeRouting
    secret: Callable[[], bytes]        # the cluster secret (empty until registered)
    node_id: Callable[[], int]
    executor: ThreadPoolExecutor
    buffers: BufferPool
    replicator: Replicator | None = None
    main_loop: asyncio.AbstractEventLoop | None = None  # where chain updates run (their locks live there)
    fenced: Callable[[], bool] = lambda: False  # True while the node's lease with the manager has lapsed
    shm_enabled: bool = True
    stats: DataPlaneStats = field(default_factory=DataPlaneStats)
    read_latency: float = 0.0  # moving average of seconds per read item, measured on every READ frame
    pooled_frames: int = 0     # small READ frames sent to the thread pool because the disk was slow


class _SharedRegion:
    """A client's shared-memory region, mapped by this node for the life of the connection."""

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


class _Frame:
    __slots__ = ("header", "payload", "pooled")

    def __init__(self, header: _wire.Header, payload, pooled):
        self.header = header
        self.payload = payload
        self.pooled = pooled


class DataConnection(asyncio.BufferedProtocol):
    def __init__(self, ctx: DataPlaneContext):
        self.ctx = ctx
        self.loop = asyncio.get_running_loop()
        self.transport: asyncio.Transport | None = None
        self.peer = "?"
        self._frames = FrameReader(_wire.FRAMING, RECEIVE_BUFFER, max_head=RECEIVE_BUFFER - _wire.HEADER_SIZE,
                                   head=self._head, place=self._place)
        self._authenticated = False
        self.role = 0
        self.transport_kind = 0
        self.shm: _SharedRegion | None = None
        self._in_flight = 0
        self._paused = False
        self._closing = False
        self._tasks: set[asyncio.Task] = set()
        self._eof = False
        self._held: list = []  # pooled buffers still referenced by the transport's write buffer
        self._read_targets: dict[tuple[int, int], tuple[Target, int]] = {}  # checked at a routing version

    # -- asyncio.BufferedProtocol ------------------------------------------------------------------

    def connection_made(self, transport):
        self.transport = transport
        peer = transport.get_extra_info("peername")
        self.local = not isinstance(peer, tuple)  # a Unix socket: the peer is on this host
        self.peer = "local" if self.local else f"{peer[0]}:{peer[1]}"
        self.ctx.stats.connections += 1

    def get_buffer(self, sizehint: int):
        return self._frames.get_buffer()

    def buffer_updated(self, nbytes: int) -> None:
        """Frames arrive into the reader's buffer, several per system call; each small payload is copied
        out whole, a large one (a TCP write's data) goes on to a buffer of its own."""
        frames = self._frames
        try:
            frames.buffer_updated(nbytes)
            while not self._closing and (frame := frames.next_frame()) is not None:
                if frame.placed is None:
                    self._dispatch(_Frame(frame.header, memoryview(frame.payload), None))
                else:
                    pview, pooled = frame.placed
                    self._dispatch(_Frame(frame.header, pview, pooled))
        except _wire.ProtocolError as exc:
            self._fail(exc.status, str(exc))

    def _head(self, header: _wire.Header, buffered: int) -> int:
        """Refuse what must not come before its payload does; a large payload not yet here is received
        into a buffer of its own (0 bytes buffered)."""
        if not self._authenticated and header.type != _wire.HELLO:
            raise _wire.ProtocolError("unauthenticated: HELLO with a token first", Status.PERMISSION_DENIED)
        if header.type not in _REQUESTS:
            raise _wire.ProtocolError(f"frame type {header.type} is not a request")
        if header.length <= buffered or header.length < DIRECT_PAYLOAD:
            return header.length
        return 0

    def _place(self, header: _wire.Header, _head: bytes) -> tuple[list, tuple]:
        """A large payload's buffer, placed so that the data after a WRITE or UPDATE item starts on a
        page boundary: it can go to disk with O_DIRECT uncopied."""
        lead = _ALIGNED_LEAD.get(header.type, 0)
        pooled = self.ctx.buffers.acquire(lead + header.length + _wire.ALIGN)
        pview = memoryview(pooled)[lead : lead + header.length]
        return [pview], (pview, pooled)

    def eof_received(self):
        # The peer is done sending; answer what is in flight, then close.
        self._eof = True
        if not self._tasks:
            self.transport.close()
        return True

    def connection_lost(self, exc):
        self._closing = True
        placed = self._frames.close()
        if placed is not None:  # a large payload was still arriving
            pview, pooled = placed
            pview.release()
            self.ctx.buffers.release(pooled)
        for task in self._tasks:
            task.cancel()
        if self.shm is not None and not self._tasks:
            self.shm.close()
            self.shm = None

    def pause_writing(self):
        pass

    def resume_writing(self):
        self._release_held()

    # -- frames ------------------------------------------------------------------------------------

    def _fail(self, status: int, message: str) -> None:
        """A connection-level error: tell the peer why, then close."""
        self.ctx.stats.refused += 1
        self.ctx.stats.count_error(status)
        log.info("data plane: closing connection from %s: %s", self.peer, message)
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(_wire.encode_error(status, message))
            self.transport.close()
        self._closing = True

    def _dispatch(self, frame: _Frame) -> None:
        if self._closing:
            self._release(frame)
            return
        if frame.header.type == _wire.HELLO:
            try:
                self._hello(bytes(frame.payload))
            finally:
                self._release(frame)
            return
        if self._inline(frame.header):
            # Fast disk, small frame: answer now, without a task or a thread hop.
            started = time.perf_counter()
            try:
                reply, held = self._read(frame, inline=True)
            except _wire.ProtocolError as exc:
                self._release(frame)
                self._fail(exc.status, str(exc))
                return
            except Exception as exc:  # as in _serve: answered and closed, never left hanging
                log.exception("data plane: serving a read frame from %s failed", self.peer)
                self._release(frame)
                self._fail(Status.INTERNAL, f"internal error serving a read frame: {exc}")
                return
            self._release(frame)
            self.ctx.stats.ops.observe("read", time.perf_counter() - started, frame.header.count)
            self._reply(reply, held)
            return
        self._in_flight += 1
        if self._in_flight >= MAX_FRAMES_IN_FLIGHT and not self._paused:
            self.transport.pause_reading()
            self._paused = True
        task = self.loop.create_task(self._serve(frame))
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task) -> None:
        self._tasks.discard(task)
        self._in_flight -= 1
        if self._paused and self._in_flight < MAX_FRAMES_IN_FLIGHT // 2 and not self._closing:
            self.transport.resume_reading()
            self._paused = False
        if not task.cancelled() and task.exception() is not None:
            log.error("data plane request failed", exc_info=task.exception())
        if self._eof and not self._tasks and not self.transport.is_closing():
            self.transport.close()
        if self._closing and not self._tasks and self.shm is not None:
            self.shm.close()
            self.shm = None

    def _release(self, frame: _Frame) -> None:
        if frame.pooled is not None:
            frame.payload.release()
            self.ctx.buffers.release(frame.pooled)

    def _hello(self, payload: bytes) -> None:
        if self._authenticated:
            raise _wire.ProtocolError("HELLO sent twice")
        hello = _wire.decode_hello(payload)
        try:
            self.role = _token.verify(self.ctx.secret(), hello.token).role
        except ValueError as exc:
            raise _wire.ProtocolError(f"permission denied: {exc}", Status.PERMISSION_DENIED) from None
        offer, reasons = local_offer(shm=self.ctx.shm_enabled)
        if offer & _wire.TRANSPORT_SHM and hello.offer & _wire.TRANSPORT_SHM:
            try:
                self.shm = _SharedRegion(hello.shm_name, hello.shm_size, hello.shm_nonce)
            except (OSError, ValueError) as exc:
                offer &= ~_wire.TRANSPORT_SHM
                reasons[_wire.TRANSPORT_SHM] = f"unavailable (not on the same host: {exc})"
        chosen = _wire.negotiate(hello.offer, offer, reasons)
        if chosen != _wire.TRANSPORT_SHM and self.shm is not None:
            self.shm.close()
            self.shm = None
        self._authenticated = True
        self.transport_kind = chosen
        self.transport.write(_wire.encode_welcome(_wire.Welcome(chosen, self.ctx.node_id(), reasons)))
        log.debug("data plane: %s connected (%s) via %s", self.peer, hello.client, _wire.TRANSPORT_NAMES[chosen])

    def _inline(self, header: _wire.Header) -> bool:
        if header.type != _wire.READ or header.count == 0:
            return False
        ctx = self.ctx
        if header.count * ctx.read_latency > INLINE_BUDGET:
            ctx.pooled_frames += 1
            return False
        return header.count * 4096 <= INLINE_MAX_BYTES  # a lower bound: checked exactly in _read

    async def _serve(self, frame: _Frame) -> None:
        header = frame.header
        started = time.perf_counter()
        try:
            if header.type == _wire.READ and header.count > 1:
                reply, held = await self._read_parallel(frame)
            elif header.type == _wire.READ:
                reply, held = await self.loop.run_in_executor(self.ctx.executor, self._read, frame)
            else:
                work = self._write(frame) if header.type == _wire.WRITE else self._update(frame)
                if self.ctx.main_loop is not None and self.loop is not self.ctx.main_loop:
                    work = asyncio.wrap_future(asyncio.run_coroutine_threadsafe(work, self.ctx.main_loop))
                reply, held = await work
        except _wire.ProtocolError as exc:
            self._release(frame)
            self._fail(exc.status, str(exc))
            return
        except Exception as exc:  # a bug or an unexpected failure: say so and close, never leave it unanswered
            log.exception("data plane: serving a %s frame from %s failed", _OP_NAMES.get(header.type, "?"), self.peer)
            self._release(frame)
            self._fail(Status.INTERNAL, f"internal error serving a {_OP_NAMES.get(header.type, '?')} frame: {exc}")
            return
        self._release(frame)
        op = _OP_NAMES.get(header.type)
        if op:
            self.ctx.stats.ops.observe(op, time.perf_counter() - started, header.count)
        self._reply(reply, held)

    def _reply(self, reply: list, held: list) -> None:
        if self.transport.is_closing():
            for buf in held:
                self.ctx.buffers.release(buf)
            return
        for part in reply:
            self.transport.write(part)
        if held:
            # The transport may still reference the data we handed it: keep the buffers until it
            # has drained its write buffer.
            self._held.extend(held)
            if self.transport.get_write_buffer_size() == 0:
                self._release_held()

    def _release_held(self) -> None:
        held, self._held = self._held, []
        for buf in held:
            self.ctx.buffers.release(buf)

    def _target(self, chain_id: int, chain_version: int, *, role: str = READ, fenced_checked: bool = False) -> Target:
        if not fenced_checked and self.ctx.fenced():
            raise FS3Error("this storage node has lost contact with the cluster manager and serves nothing "
                           "until it is back", status=Status.TARGET_NOT_SERVING)
        if role == READ:
            cached = self._read_targets.get((chain_id, chain_version))
            if cached is not None and cached[1] == self.ctx.routing.version:
                return cached[0]
        target_id = self.ctx.routing.local_target(chain_id, chain_version, role=role)
        target = self.ctx.targets.get(target_id)
        if target is None:
            raise FS3Error(f"target {target_id} is not on this node", status=Status.TARGET_NOT_FOUND)
        if role == READ:
            self._read_targets[(chain_id, chain_version)] = (target, self.ctx.routing.version)
        return target

    # -- reads (in the executor) -------------------------------------------------------------------

    def _parse_read(self, frame: _Frame) -> tuple[list[_wire.ReadItem], int]:
        """A READ frame's items and the bytes they ask for."""
        header = frame.header
        if header.length != header.count * _wire.READ_ITEM.size or not 0 < header.count <= _wire.MAX_ITEMS:
            raise _wire.ProtocolError("malformed READ frame (item count and length disagree)")
        items = _wire.unpack_reads(frame.payload)
        asked = sum([item.length for item in items])
        if asked > _wire.MAX_READ_BYTES:
            raise _wire.ProtocolError(f"READ asks for more than {_wire.MAX_READ_BYTES} bytes")
        return items, asked

    def _read(self, frame: _Frame, inline: bool = False):
        """Serve a whole READ frame in this thread; returns the reply's parts and the buffers it holds."""
        items, asked = self._parse_read(frame)
        started = time.perf_counter()
        results, data, held = self._read_items(items)
        if not inline or asked <= INLINE_MAX_BYTES:
            self._note_latency((time.perf_counter() - started) / len(items))
        return self._read_reply(frame.header, results, data), held

    def _note_latency(self, per_item: float) -> None:
        """Fold one frame's seconds per item into the estimate that decides where small frames run. Frames
        served on the pool count too, so a disk that speeds up brings reads back to the loop."""
        lat = self.ctx.read_latency
        self.ctx.read_latency = 0.9 * lat + 0.1 * per_item if lat else per_item

    async def _read_parallel(self, frame: _Frame):
        """Serve a READ frame of large items on several disk threads at once."""
        items, asked = self._parse_read(frame)
        parts = min(PARALLEL_READS, len(items))
        step = -(-len(items) // parts)
        groups = [items[i : i + step] for i in range(0, len(items), step)]
        started = time.perf_counter()
        outcomes = await asyncio.gather(
            *(self.loop.run_in_executor(self.ctx.executor, self._read_items, g) for g in groups)
        )
        if asked <= INLINE_MAX_BYTES:  # a frame that could have run inline: what would it have cost?
            self._note_latency((time.perf_counter() - started) / len(items))
        results = bytearray()
        data: list = []
        held: list = []
        for r, d, h in outcomes:
            results += r
            data += d
            held += h
        return self._read_reply(frame.header, results, data), held

    def _read_reply(self, header: _wire.Header, results: bytearray, data: list) -> list:
        inline = sum(len(d) for d in data)  # over shared memory the data is already in place: none
        head = _wire.pack_header(_wire.READ_REPLY, header.count, header.req_id, len(results) + inline)
        return [head + bytes(results), *data]

    def _read_items(self, items: list[_wire.ReadItem]):
        """Read each item: into the client's shared memory, or into pooled buffers sent after the
        results (TCP). Returns the packed results, the data views to send, and the buffers they use.
        The items share one read epoch per store (slots they read are not reused meanwhile)."""
        result_size = _wire.READ_RESULT.size
        pack_result = _wire.READ_RESULT.pack_into
        results = bytearray(len(items) * result_size)
        data: list[memoryview] = []
        held: list = []
        shm = self.shm if self.transport_kind == _wire.TRANSPORT_SHM else None
        stats = self.ctx.stats
        if self.ctx.fenced():  # every item fails alike
            for i in range(len(items)):
                pack_result(results, i * result_size, Status.TARGET_NOT_SERVING, 0, 0, 0, 0)
                stats.count_error(Status.TARGET_NOT_SERVING, "read")
            return results, data, held
        epochs: dict = {}
        reads: list = []   # the disk reads of this frame, issued together
        landed: list = []  # per read: (item number, store, inode, index, record, offset, bytes, lead)
        statuses = [0] * len(items)
        records: list = [None] * len(items)
        total = 0
        try:
            for i, (chain_id, chain_version, inode, index, offset, length, shm_offset) in enumerate(items):
                try:
                    store = self._target(chain_id, chain_version, fenced_checked=True).store
                    lead = offset % _wire.ALIGN
                    if shm is not None:  # the reservation is checked whatever the chunk holds
                        region = shm.span(shm_offset, _wire.shm_span(offset, length))
                    if store not in epochs:
                        epochs[store] = store.slots.begin_read()
                    rec, n = store.locate(inode, index, offset, length)
                    if rec is None:
                        statuses[i] = Status.CHUNK_NOT_FOUND
                        continue
                    records[i] = rec
                    if not n:
                        continue
                    if shm is not None:
                        dest = region
                    else:
                        buf = self.ctx.buffers.acquire(_wire.shm_span(offset, n))
                        held.append(buf)
                        dest = memoryview(buf)
                    reads.append(store.disk_read(rec, offset, n, dest))
                    landed.append((i, store, inode, index, rec, offset, n, lead))
                except FS3Error as exc:
                    statuses[i] = int(exc.status)
                    stats.count_error(statuses[i], "read")
                except IndexError:
                    statuses[i] = Status.INVALID_ARGUMENT
                    stats.count_error(statuses[i], "read")
            got = _uring.read_all([(fd, view, at) for fd, view, at in reads], errors="return")
            sizes = [0] * len(items)
            for (i, store, inode, index, rec, offset, n, lead), (_fd, view, _at), g in zip(landed, reads, got,
                                                                                         strict=True):
                if g < 0:  # this replica's disk failed the read: the client reads another replica
                    log.error("target %s: reading chunk %d:%d failed: %s", store.name, inode, index,
                              os.strerror(-g))
                    statuses[i] = Status.DISK_ERROR
                    stats.count_error(statuses[i], "read")
                    continue
                try:
                    store.verify(inode, index, rec, offset, n, view, g)
                except FS3Error as exc:
                    statuses[i] = int(exc.status)
                    stats.count_error(statuses[i], "read")
                    continue
                sizes[i] = n
                total += n
                if shm is None:
                    data.append(view[lead : lead + n])
        finally:
            for store, epoch in epochs.items():
                store.slots.end_read(epoch)
        for i, status in enumerate(statuses):
            rec = records[i]
            if status or rec is None:
                pack_result(results, i * result_size, status, 0, 0, 0, 0)
            else:
                pack_result(results, i * result_size, 0, 0, sizes[i], rec.version & 0xFFFFFFFF, rec.length)
        stats.reads += len(items)
        stats.read_bytes += total
        stats.ops.get("read").bytes += total
        return results, data, held

    # -- writes: a client's at the head, forwarded updates along the chain -------------------------

    @staticmethod
    def _aligned_data(frame: _Frame, item_size: int, length: int, extra: int = 0):
        """The frame's inline data as a page-aligned buffer with room to the next 4 KiB, when the
        receive path placed it so (large frames); else None. Whatever follows the data (``extra``
        bytes) must be read before the buffer's tail is zeroed."""
        if frame.pooled is None or not length:
            return None
        start = _wire.ALIGN
        if len(frame.pooled) < start + -(-length // _wire.ALIGN) * _wire.ALIGN:
            return None
        if frame.header.length != item_size + length + extra:
            return None
        view = memoryview(frame.pooled)
        return view[start : start + -(-length // _wire.ALIGN) * _wire.ALIGN]

    async def _write(self, frame: _Frame):
        header, payload = frame.header, frame.payload
        size = _wire.WRITE_ITEM.size
        if header.count != 1 or header.length < size:
            raise _wire.ProtocolError("malformed WRITE frame")
        item = _wire.WriteItem.unpack_from(payload)
        length = item.length
        status, version, chunk_len, checksum = 0, 0, 0, 0
        try:
            aligned = None
            if header.length == size + length:  # the data follows the item (any transport)
                data = payload[size:]
                aligned = self._aligned_data(frame, size, length)
            elif header.length == size and self.transport_kind == _wire.TRANSPORT_SHM:  # data in shared memory
                try:
                    aligned = self.shm.span(item.shm_offset, _wire.shm_span(0, length))
                except IndexError:
                    raise FS3Error("shared-memory range out of bounds", status=Status.INVALID_ARGUMENT) from None
                data = aligned[:length]
            else:
                raise _wire.ProtocolError("WRITE length does not match its data")
            if header.flags & _wire.FLAG_NO_CRC:
                if aligned is None:
                    raise _wire.ProtocolError("an unchecked WRITE is allowed over shm only")
            elif crc32c(data) != item.crc:
                raise FS3Error("write data failed its CRC32C in transit", status=Status.INVALID_ARGUMENT)
            target = self._target(item.chain_id, item.chain_version, role=WRITE)
            # Over shared memory a whole-chunk write may go to disk straight from the client's region:
            # a client that changed those bytes mid-write would only damage its own write (caught by the
            # block checksums on every later read).
            rec = await self.ctx.replicator.client_write(target, item, data, aligned=aligned)
            version, chunk_len, checksum = rec.version, rec.length, rec.crc
            self.ctx.stats.writes += 1
            self.ctx.stats.write_bytes += length
            self.ctx.stats.ops.get("write").bytes += length
        except FS3Error as exc:
            status = int(exc.status)
            self.ctx.stats.count_error(status, "write")
            if status not in (Status.STALE_CHAIN_VERSION, Status.TARGET_NOT_SERVING):
                log.info("write of chunk %d:%d failed: %s", item.inode, item.index, exc)
        body = _wire.WriteResult(status, version & 0xFFFFFFFF, chunk_len, checksum).pack()
        return [_wire.pack_header(_wire.WRITE_REPLY, 1, header.req_id, len(body)) + body], []

    async def _update(self, frame: _Frame):
        header, payload = frame.header, frame.payload
        size = _wire.UPDATE_ITEM.size
        if self.role != _token.ROLE_NODE:
            raise _wire.ProtocolError("permission denied: only storage nodes forward updates", Status.PERMISSION_DENIED)
        if header.count != 1 or header.length < size:
            raise _wire.ProtocolError("malformed UPDATE frame")
        item = _wire.UpdateItem.unpack_from(payload)
        length = item.length
        nblocks = -(-length // 4096) * 4 if header.flags & _wire.FLAG_BLOCKS else 0
        if header.length != size + length + nblocks:
            raise _wire.ProtocolError("UPDATE length does not match its data")
        status, committed, checksum = 0, 0, 0
        try:
            data = payload[size : size + length]
            blocks = bytes(payload[size + length :]) if nblocks else None
            unchecked = header.flags & _wire.FLAG_NO_CRC and self.local  # never left this host's memory
            if length and not unchecked and crc32c(data) != item.crc:
                raise FS3Error("update data failed its CRC32C in transit", status=Status.INVALID_ARGUMENT)
            target = self._target(item.chain_id, item.chain_version, role=UPDATE)
            committed, checksum = await self.ctx.replicator.apply_update(
                target, item, data, header.flags,
                aligned=self._aligned_data(frame, size, length, extra=nblocks), blocks=blocks,
            )
            self.ctx.stats.ops.get("update").bytes += length
        except FS3Error as exc:
            status = int(exc.status)
            self.ctx.stats.count_error(status, "update")
        body = _wire.UpdateResult(status, committed, checksum).pack()
        return [_wire.pack_header(_wire.UPDATE_REPLY, 1, header.req_id, len(body)) + body], []


class DataServer:
    """Listens for data-plane connections and spreads them over ``loops`` event loops, each in its own
    thread: a loop reading a fast disk inline blocks while the disk answers, so a second loop keeps a
    second read in flight (the GIL is released while each waits on its disk)."""

    def __init__(self, ctx: DataPlaneContext, host: str, port: int = 0, *, loops: int = 1):
        self.ctx = ctx
        self.host = host
        self.port = port
        self._loops: list[asyncio.AbstractEventLoop] = []
        self._threads: list[threading.Thread] = []
        self._sock: socket.socket | None = None
        self._local: socket.socket | None = None
        self._accepting: list = []
        self._next = 0
        self._count = max(1, loops)

    def start(self, new_loop) -> int:
        """Bind, start the loops, accept connections; returns the bound port."""
        self._sock = socket.create_server((self.host, self.port), backlog=1024, reuse_port=False)
        self._sock.setblocking(False)
        self.port = self._sock.getsockname()[1]
        for i in range(self._count):
            loop = new_loop()
            thread = threading.Thread(target=loop.run_forever, name=f"data-plane-{i}", daemon=True)
            thread.start()
            self._loops.append(loop)
            self._threads.append(thread)
        self._accepting.append(asyncio.run_coroutine_threadsafe(self._accept(self._sock), self._loops[0]))
        return self.port

    @property
    def main_loop(self) -> asyncio.AbstractEventLoop:
        return self._loops[0]

    def listen_local(self, name: str) -> str:
        """Also accept clients on this host over the abstract Unix socket ``name`` (cheaper than
        loopback TCP; invisible outside this network namespace). Returns the name, or "" where the
        platform has no abstract sockets."""
        if not hasattr(socket, "AF_UNIX") or not socket.gethostname() or os.uname().sysname != "Linux":
            return ""
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.bind("\0" + name)
        except OSError as exc:
            sock.close()
            log.warning("data plane: no local socket (%s); clients on this host use TCP", exc)
            return ""
        sock.listen(1024)
        sock.setblocking(False)
        self._local = sock
        self._accepting.append(asyncio.run_coroutine_threadsafe(self._accept(sock), self._loops[0]))
        return name

    async def _accept(self, listener: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        while True:
            conn, _ = await loop.sock_accept(listener)
            if conn.family != socket.AF_UNIX:
                conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            target = self._loops[self._next % len(self._loops)]
            self._next += 1
            asyncio.run_coroutine_threadsafe(
                target.connect_accepted_socket(lambda: DataConnection(self.ctx), conn), target
            )

    def stop(self) -> None:
        for accepting in self._accepting:
            accepting.cancel()
        for loop in self._loops:
            loop.call_soon_threadsafe(loop.stop)
        for thread in self._threads:
            thread.join(timeout=10)
        for sock in (self._sock, self._local):
            if sock is not None:
                sock.close()
