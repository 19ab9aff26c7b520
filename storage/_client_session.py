"""One requester's data-plane connection to a storage node: a client, or a chain predecessor forwarding
updates. It receives frames through the shared reader (fs3/_frames.py), authenticates the HELLO and
negotiates the transport, sends each request down the read path or the write path, and writes replies.

Backpressure both ways: with ``MAX_FRAMES_IN_FLIGHT`` requests being served the session stops reading
until half of them are answered, and while the transport's write buffer is above its high-water mark
(a peer that does not read its replies) it stops reading too, so neither can grow the node's memory
without bound. Frames already received wait in the reader meanwhile.

Nothing a peer sends can take the node down: a frame that breaks the protocol is answered with an ERROR
frame and the connection is closed; a bad item in a good frame fails that item alone. Before its HELLO
is accepted a peer costs the node little: a HELLO is refused by its header when larger than
``_wire.MAX_HELLO``, the receive buffer stays at ``HELLO_BUFFER`` until then, and a connection that has
not authenticated within its handshake deadline is told so and closed.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from fs3 import _token, _wire
from fs3._errors import Status
from fs3._frames import Frame, FrameReader
from fs3._transports import local_offer

from . import _read_path, _write_path
from ._data_context import DataPlaneContext, Request
from ._grants import Grants
from ._shared_region import SharedRegion

log = logging.getLogger(__name__)

_OP_NAMES = {_wire.READ: "read", _wire.WRITE: "write", _wire.UPDATE: "update"}
_REQUESTS = frozenset({_wire.HELLO, _wire.GRANT, _wire.READ, _wire.WRITE, _wire.UPDATE})  # frame types a peer may send
MAX_FRAMES_IN_FLIGHT = 64  # per connection; reading pauses beyond this
RECEIVE_BUFFER = 256 << 10   # frames arrive here, several per system call (once authenticated)
HELLO_BUFFER = 8 << 10       # the receive buffer until then: a maximal HELLO fits
HANDSHAKE_DEADLINE = 10.0    # seconds a connection has to send an acceptable HELLO
DIRECT_PAYLOAD = 64 << 10    # payloads this large are received straight into a buffer of their own
DRAIN_CHECK = 0.002          # first look again at a write buffer not yet drained (seconds, doubling)


class ClientSession(asyncio.BufferedProtocol):
    """A data-plane connection as the node serves it (one per requester connection, on the loop that
    accepted it). ``role`` and ``transport_kind`` are set by the HELLO; ``shm`` is the requester's
    shared-memory region when that transport was chosen. ``handshake_deadline``: seconds the peer has to
    send an acceptable HELLO (default ``HANDSHAKE_DEADLINE``), counted from ``accepted`` (the monotonic
    time the listener accepted the connection: a TLS handshake before it counts; default: when the
    session starts); ``on_lost`` is called once the connection is gone (the listener counts its
    connections)."""

    def __init__(self, ctx: DataPlaneContext, *, handshake_deadline: float | None = None,
                 on_lost: Callable[[], None] | None = None, accepted: float | None = None):
        self.ctx = ctx
        self.loop = asyncio.get_running_loop()
        self.transport: asyncio.Transport | None = None
        self.peer = "?"
        self.local = False
        # Small until the HELLO is accepted: an unauthenticated peer must not cost the node much memory.
        self._frames = FrameReader(_wire.FRAMING, HELLO_BUFFER, max_head=HELLO_BUFFER - _wire.HEADER_SIZE,
                                   head=self._head, place=self._place)
        self._authenticated = False
        self._deadline = HANDSHAKE_DEADLINE if handshake_deadline is None else handshake_deadline
        self._accepted = accepted
        self._handshake: asyncio.TimerHandle | None = None  # closes the connection unless HELLO comes first
        self._on_lost = on_lost
        self.role = 0
        self.grants: Grants | None = None  # a client's capabilities (set by the HELLO; none for a node)
        self.transport_kind = 0
        self.shm: SharedRegion | None = None
        self._in_flight = 0
        self._busy = False            # MAX_FRAMES_IN_FLIGHT being served
        self.write_paused = False     # the transport's write buffer is above its high-water mark
        self._reading_paused = False
        self._stalled = False         # frames may wait in the reader until reading resumes
        self._closing = False
        self._tasks: set[asyncio.Task] = set()
        self._eof = False
        self._held: list = []  # pooled buffers still referenced by the transport's write buffer
        self._drain_check: asyncio.TimerHandle | None = None  # looks again until the transport drained

    # -- asyncio.BufferedProtocol ------------------------------------------------------------------

    def connection_made(self, transport):
        self.transport = transport
        peer = transport.get_extra_info("peername")
        self.local = not isinstance(peer, tuple)  # a Unix socket: the peer is on this host
        self.over_ucx = not self.local and peer[0] == "ucx"  # a UCX endpoint (fs3/_ucx.py)
        self.peer = "local" if self.local else f"{peer[0]}:{peer[1]}"
        self.ctx.stats.connections += 1
        self.ctx.sessions.add(self)
        left = self._deadline if self._accepted is None else self._deadline - (time.monotonic() - self._accepted)
        self._handshake = self.loop.call_later(max(0.0, left), self._handshake_expired)

    def _handshake_expired(self) -> None:
        self._handshake = None
        if not self._authenticated:
            self._fail(Status.TIMEOUT, f"no accepted HELLO within {self._deadline:g} s of connecting "
                                       "(the handshake deadline); closing the connection")

    def get_buffer(self, sizehint: int):
        return self._frames.get_buffer()

    def buffer_updated(self, nbytes: int) -> None:
        self._frames.buffer_updated(nbytes)
        self._take_frames()

    def eof_received(self):
        # The peer is done sending; answer what is in flight (and what waits in the reader), then close.
        self._eof = True
        self._maybe_finish()
        return True

    def connection_lost(self, exc):
        self._closing = True
        self.ctx.sessions.discard(self)
        if self._handshake is not None:
            self._handshake.cancel()
            self._handshake = None
        if self._on_lost is not None:
            on_lost, self._on_lost = self._on_lost, None
            on_lost()
        placed = self._frames.close()
        if placed is not None:  # a large payload was still arriving
            pview, pooled = placed
            pview.release()
            self.ctx.buffers.release(pooled)
        self._release_held()  # the transport dropped what it had not sent
        if self._drain_check is not None:
            self._drain_check.cancel()
            self._drain_check = None
        for task in self._tasks:
            task.cancel()
        if self.shm is not None and not self._tasks:
            self.shm.close()
            self.shm = None

    def pause_writing(self):
        # The peer is not reading its replies as fast as they come: read no more requests until it has.
        self.write_paused = True
        self.ctx.stats.write_pauses += 1
        self._set_reading()

    def resume_writing(self):
        self.write_paused = False
        self._release_when_drained()  # (below the low-water mark is not yet all sent)
        self._set_reading()

    # -- receiving ---------------------------------------------------------------------------------

    def _head(self, header: _wire.Header, buffered: int) -> int:
        """Refuse what must not come before its payload does; a large payload not yet here is received
        into a buffer of its own (0 bytes buffered)."""
        if not self._authenticated and header.type != _wire.HELLO:
            raise _wire.ProtocolError("unauthenticated: HELLO with a token first", Status.PERMISSION_DENIED)
        if header.type not in _REQUESTS:
            raise _wire.ProtocolError(f"frame type {header.type} is not a request")
        if header.type == _wire.HELLO and header.length > _wire.MAX_HELLO:  # before its payload is taken
            raise _wire.ProtocolError(f"HELLO of {header.length} bytes (at most {_wire.MAX_HELLO})")
        if header.length <= buffered or header.length < DIRECT_PAYLOAD:
            return header.length
        return 0

    def _place(self, header: _wire.Header, _head: bytes) -> tuple[list, tuple]:
        """A large payload's buffer, placed so that the data after a WRITE or UPDATE item starts on a
        page boundary: it can go to disk with O_DIRECT uncopied."""
        lead = _write_path.ALIGNED_LEAD.get(header.type, 0)
        # Not a lease: the frame reader fills it, and the request it becomes owns it until served
        # (``Request.release``), or ``connection_lost`` gives it back when the payload never completes.
        pooled = self.ctx.buffers.acquire(lead + header.length + _wire.ALIGN)
        pview = memoryview(pooled)[lead : lead + header.length]
        return [pview], (pview, pooled)

    def _take_frames(self) -> None:
        """Serve the frames received, until reading is paused (the rest wait in the reader)."""
        frames = self._frames
        try:
            while not self._closing:
                if self._reading_paused:
                    self._stalled = True
                    return
                frame = frames.next_frame()
                if frame is None:
                    break
                self._dispatch(_request(frame))
        except _wire.ProtocolError as exc:
            self._fail(exc.status, str(exc))
        self._stalled = False
        self._maybe_finish()

    def _set_reading(self) -> None:
        """Pause or resume reading for whichever reason holds now; frames that waited are taken next."""
        paused = self._busy or self.write_paused
        if paused == self._reading_paused or self._closing or self.transport.is_closing():
            return
        self._reading_paused = paused
        if paused:
            self.transport.pause_reading()
        else:
            self.transport.resume_reading()
            if self._stalled:
                self.loop.call_soon(self._take_frames)

    @property
    def reading_paused(self) -> bool:
        """Whether the session has stopped reading requests (too many in flight, or replies unread)."""
        return self._reading_paused

    def _maybe_finish(self) -> None:
        if self._eof and not self._tasks and not self._stalled and not self.transport.is_closing():
            self.transport.close()

    # -- serving -----------------------------------------------------------------------------------

    def _fail(self, status: int, message: str) -> None:
        """A connection-level error: tell the peer why, then close."""
        self.ctx.stats.refused += 1
        self.ctx.stats.count_error(status)
        log.info("data plane: closing connection from %s: %s", self.peer, message)
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(_wire.encode_error(status, message))
            self.transport.close()
        self._closing = True

    @property
    def _region(self) -> SharedRegion | None:
        """The requester's shared memory, when the connection uses it."""
        return self.shm if self.transport_kind == _wire.TRANSPORT_SHM else None

    def _dispatch(self, request: Request) -> None:
        if self._closing:
            request.release(self.ctx.buffers)
            return
        if request.header.type == _wire.HELLO:
            try:
                self._hello(bytes(request.payload))
            finally:
                request.release(self.ctx.buffers)
            return
        if request.header.type == _wire.GRANT:  # taken in order: the frames after it rely on it
            try:
                if self.grants is not None:
                    self.grants.take(request.payload, request.header.count, time.time())
            finally:
                request.release(self.ctx.buffers)
            return
        if _read_path.runs_inline(self.ctx, request.header):
            # Fast disk, small frame: answer now, without a task or a thread hop.
            started = time.perf_counter()
            try:
                try:
                    reply, held = _read_path.serve(self.ctx, request, self._region, self.grants, inline=True)
                finally:
                    request.release(self.ctx.buffers)  # served (or refused): its payload is read no more
            except _wire.ProtocolError as exc:
                self._fail(exc.status, str(exc))
                return
            except Exception as exc:  # as in _serve: answered and closed, never left hanging
                log.exception("data plane: serving a read frame from %s failed", self.peer)
                self._fail(Status.INTERNAL, f"internal error serving a read frame: {exc}")
                return
            self.ctx.stats.ops.observe("read", time.perf_counter() - started, request.header.count)
            self._reply(reply, held)
            return
        self._in_flight += 1
        if self._in_flight >= MAX_FRAMES_IN_FLIGHT and not self._busy:
            self._busy = True
            self._set_reading()
        task = self.loop.create_task(self._serve(request))
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task) -> None:
        self._tasks.discard(task)
        self._in_flight -= 1
        if self._busy and self._in_flight < MAX_FRAMES_IN_FLIGHT // 2:
            self._busy = False
            self._set_reading()
        if not task.cancelled() and task.exception() is not None:
            log.error("data plane request failed", exc_info=task.exception())
        self._maybe_finish()
        if self._closing and not self._tasks and self.shm is not None:
            self.shm.close()
            self.shm = None

    def _hello(self, payload: bytes) -> None:
        if self._authenticated:
            raise _wire.ProtocolError("HELLO sent twice")
        hello = _wire.decode_hello(payload)
        try:
            claims = _token.verify(self.ctx.secret(), hello.token)
        except ValueError as exc:
            raise _wire.ProtocolError(f"permission denied: {exc}", Status.PERMISSION_DENIED) from None
        self.role = claims.role
        if claims.role != _token.ROLE_NODE:
            self.grants = Grants(self.ctx.capability_keys, claims.uid)
        offer, reasons = local_offer(shm=self.ctx.shm_enabled, ucx="" if self.over_ucx else None)
        if offer & _wire.TRANSPORT_SHM and hello.offer & _wire.TRANSPORT_SHM:
            try:
                self.shm = SharedRegion(hello.shm_name, hello.shm_size, hello.shm_nonce)
            except (OSError, ValueError) as exc:
                offer &= ~_wire.TRANSPORT_SHM
                reasons[_wire.TRANSPORT_SHM] = f"unavailable (not on the same host: {exc})"
        chosen = _wire.negotiate(hello.offer, offer, reasons)
        if chosen != _wire.TRANSPORT_SHM and self.shm is not None:
            self.shm.close()
            self.shm = None
        self._authenticated = True
        if self._handshake is not None:
            self._handshake.cancel()
            self._handshake = None
        self._frames.grow(RECEIVE_BUFFER, max_head=RECEIVE_BUFFER - _wire.HEADER_SIZE)
        self.transport_kind = chosen
        self.transport.write(_wire.encode_welcome(_wire.Welcome(chosen, self.ctx.node_id(), reasons)))
        log.debug("data plane: %s connected (%s) via %s", self.peer, hello.client, _wire.TRANSPORT_NAMES[chosen])

    async def _serve(self, request: Request) -> None:
        header = request.header
        ctx = self.ctx
        started = time.perf_counter()
        # The request's buffer is given back in each outcome below, not in a ``finally``: a serve
        # cancelled (the connection lost) may still have a disk thread or the main loop reading the
        # payload, so its buffer is left to the garbage collector rather than reused under it.
        try:
            if header.type == _wire.READ and header.count > 1:
                reply, held = await _read_path.serve_parallel(ctx, request, self._region, self.grants)
            elif header.type == _wire.READ:
                reply, held = await self.loop.run_in_executor(ctx.executor, _read_path.serve, ctx, request,
                                                              self._region, self.grants)
            else:
                if header.type == _wire.WRITE:
                    work = _write_path.serve_write(ctx, request, self._region, self.grants)
                else:
                    work = _write_path.serve_update(ctx, request, role=self.role, local=self.local)
                if ctx.main_loop is not None and self.loop is not ctx.main_loop:
                    work = asyncio.wrap_future(asyncio.run_coroutine_threadsafe(work, ctx.main_loop))
                reply, held = await work
        except _wire.ProtocolError as exc:
            request.release(ctx.buffers)
            self._fail(exc.status, str(exc))
            return
        except Exception as exc:  # a bug or an unexpected failure: say so and close, never leave it unanswered
            log.exception("data plane: serving a %s frame from %s failed", _OP_NAMES.get(header.type, "?"), self.peer)
            request.release(ctx.buffers)
            self._fail(Status.INTERNAL, f"internal error serving a {_OP_NAMES.get(header.type, '?')} frame: {exc}")
            return
        request.release(ctx.buffers)
        op = _OP_NAMES.get(header.type)
        if op:
            ctx.stats.ops.observe(op, time.perf_counter() - started, header.count)
        self._reply(reply, held)

    def _reply(self, reply: list, held: list) -> None:
        # ``held``: pooled buffers the reply's data parts point into. Not leases: the transport may
        # still reference them after this returns, so they are given back once it has drained.
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
            self._release_when_drained()

    def _release_when_drained(self) -> None:
        """Give the held buffers back once the transport has sent everything. The transport says when
        its buffer falls below the low-water mark, not when it is empty: until then, look again after a
        growing delay, so that a connection gone idle does not keep megabytes out of the pool."""
        if self._held and self._drain_check is None:
            self._drain_tick(DRAIN_CHECK)

    def _drain_tick(self, delay: float) -> None:
        self._drain_check = None
        if not self._held or self.transport is None or self.transport.is_closing():
            return
        if self.transport.get_write_buffer_size() == 0:
            self._release_held()
        elif not self.write_paused:  # (while paused, resume_writing comes first)
            self._drain_check = self.loop.call_later(delay, self._drain_tick, min(delay * 2, 0.5))

    def _release_held(self) -> None:
        held, self._held = self._held, []
        for buf in held:
            self.ctx.buffers.release(buf)


def _request(frame: Frame) -> Request:
    """The request a received frame makes: a small payload as a view of its bytes, a large one with the
    pooled buffer it was received into."""
    if frame.placed is None:
        return Request(frame.header, memoryview(frame.payload))
    pview, pooled = frame.placed
    return Request(frame.header, pview, pooled)
