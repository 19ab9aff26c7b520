"""The meta server's framed call listener (fs3/_call_wire.py): the namespace calls of the gRPC
``MetaServicer``, served on an event loop of their own without gRPC's per-call machinery, which costs
several times the work of a metadata operation in Python.

The same servicer methods answer both ways, so authentication, permissions and errors are identical. A
connection authenticates once with HELLO, and every call is authenticated again (a revoked token stops
working). On a local KV store (SQLite), calls run on the loop itself: a read takes tens of
microseconds, and a mutation a few hundred, less than handing it to a thread and back (measured: a
writer thread, or a pool with the store's group commit, served about 30% fewer creates per second on
two cores, the threads' contention for the GIL included). The mutations that arrive in one pass of
the loop, from any connections, are committed together: one transaction, a savepoint per call (a
failed call is rolled back alone), one fsync, and no reply before the commit. The price: reads wait
while a group commits, so a disk whose fsync stalls stalls the namespace calls (as it stalls SQLite
for everyone). Calls that reach storage nodes (truncating an existing file; an open that finds it must
truncate only inside a group leaves the group for the pool), and every call and HELLO on a remote store
(etcd), run on a thread pool, so a network round trip never stalls the loop.

Nothing a peer sends takes the server down: a frame that breaks the protocol is answered with an ERROR
frame and the connection is closed; a bad request in a good frame fails that call alone.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from fs3 import _call_wire as wire
from fs3._auth import AUTH_KEY
from fs3._errors import FS3Error, Status
from fs3._metrics import OpCounters
from fs3._rpc import PATH_KEY, STATUS_KEY

from . import ops

try:
    import uvloop
except ImportError:  # pragma: no cover - uvloop is a dependency on Linux and macOS
    uvloop = None

log = logging.getLogger(__name__)

MAX_CALLS_IN_FLIGHT = 64  # per connection; reading pauses beyond this


class _Aborted(Exception):
    def __init__(self, trailing, details: str):
        super().__init__(details)
        self.status, self.path = int(Status.INTERNAL), None
        for key, value in trailing or ():
            if key == STATUS_KEY:
                self.status = int(value)
            elif key == PATH_KEY:
                self.path = value.decode("utf-8", "surrogateescape")
        self.details = details


class _CallContext:
    """What a servicer method uses of a gRPC context: the caller's metadata and ``abort``."""

    __slots__ = ("_metadata", "_trailing", "_peer")

    def __init__(self, metadata, peer: str):
        self._metadata, self._trailing, self._peer = metadata, (), peer

    def invocation_metadata(self):
        return self._metadata

    def set_trailing_metadata(self, metadata) -> None:
        self._trailing = metadata

    def abort(self, _code, details: str):
        raise _Aborted(self._trailing, details)

    def peer(self) -> str:
        return self._peer


class CallServer:
    """Serves ``servicer``'s namespace methods on ``host``:``port`` (0: any free port)."""

    def __init__(self, servicer, users, counters: OpCounters, kv, *, host: str, port: int = 0,
                 threads: int = 32):
        self.servicer, self.users, self.counters, self.kv = servicer, users, counters, kv
        self.host, self.port = host, port
        self.inline_reads = kv.local_reads  # a local store: calls run on the loop (see above)
        self.executor = ThreadPoolExecutor(threads, thread_name_prefix="meta-call")
        self.loop = uvloop.new_event_loop() if uvloop is not None else asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="meta-calls", daemon=True)
        self._server: asyncio.AbstractServer | None = None
        self._handlers = {name: getattr(servicer, name) for name in wire.METHODS}
        self.connections: set[_CallConnection] = set()
        self._waiting: list[tuple[_CallConnection, int, str, object]] = []  # mutations to commit together

    def start(self) -> int:
        """Listen; returns the bound port."""
        self._thread.start()

        async def listen():
            self._server = await self.loop.create_server(lambda: _CallConnection(self), self.host, self.port)
            return self._server.sockets[0].getsockname()[1]

        try:
            self.port = asyncio.run_coroutine_threadsafe(listen(), self.loop).result(30)
        except BaseException:
            self.stop()
            raise
        return self.port

    def stop(self) -> None:
        if self._thread.is_alive():
            async def close():
                if self._server is not None:
                    self._server.close()
                    for conn in list(self.connections):
                        conn.transport.abort()
            try:
                asyncio.run_coroutine_threadsafe(close(), self.loop).result(10)
            except Exception:  # noqa: BLE001 - stopping: the loop goes either way
                log.exception("closing the meta-call listener")
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(timeout=10)
        self.executor.shutdown(wait=False, cancel_futures=True)

    def route(self, name: str, request) -> str:
        """Where a call runs: "loop" (a read on a local store), "group" (a mutation on a local store,
        committed with the others of its pass of the loop) or "pool" (calls that reach storage nodes,
        and every call on a remote store)."""
        if not self.inline_reads or name == "Truncate":
            return "pool"
        if name == "Open" and request.truncate and ops.names_something(self.servicer.ctx, request.path):
            return "pool"  # truncating an existing file removes its chunks from the storage nodes
        return "loop" if name in wire.READ_ONLY else "group"

    def answer(self, name: str, request, metadata, peer: str) -> bytes:
        """One call's reply frame payload, or raises _Aborted with the error to send."""
        started = time.perf_counter()
        failed = True
        try:
            reply = self._handlers[name](request, _CallContext(metadata, peer))
            failed = False
            return reply.SerializeToString()
        finally:
            self.counters.observe(name, time.perf_counter() - started, error=failed)

    def to_group(self, conn: _CallConnection, req_id: int, name: str, request) -> None:
        """Queue a mutation for the group committed once this pass of the loop has read every
        connection: the mutations that arrived together share one transaction and one fsync."""
        if not self._waiting:
            self.loop.call_soon(self._commit_group)
        self._waiting.append((conn, req_id, name, request))

    def _commit_group(self) -> None:
        group, self._waiting = self._waiting, []
        top_up = getattr(self.servicer.ctx.alloc_inode, "top_up", None)
        if top_up is not None:  # new ids reserved outside the group (see InodeAllocator)
            try:
                top_up(64 * len(group))
            except Exception:  # noqa: BLE001 - the calls then reserve their ids one by one
                log.exception("reserving inode ids")

        def one(conn, name, request):  # each call in a savepoint of its own
            return self.kv.transact(lambda _txn: conn._answer(name, request))

        def run(_txn):
            results = []
            for conn, _req, name, request in group:
                try:
                    results.append(one(conn, name, request))
                except ops.MustLeaveGroup:  # it needs storage nodes: undone here, run on the pool
                    results.append(_LEAVE)
            return results

        try:
            with ops.no_storage_calls():
                results = self.kv.transact(run)
        except Exception as exc:  # noqa: BLE001 - the commit failed: nothing of the group happened
            log.error("committing %d meta calls failed: %s", len(group), exc)
            results = [_Aborted(((STATUS_KEY, str(int(Status.UNAVAILABLE))),),
                                f"the metadata store failed to commit: {exc}") for _ in group]
        for (conn, req_id, name, request), result in zip(group, results, strict=True):
            if result is _LEAVE:
                conn.to_pool(req_id, name, request)
            else:
                conn._send(req_id, result)


_LEAVE = object()


class _CallConnection(asyncio.Protocol):
    def __init__(self, server: CallServer):
        self.server = server
        self.transport: asyncio.Transport | None = None
        self.peer = "?"
        self.buf = bytearray()
        self.metadata = None      # the caller's bearer token once HELLO was accepted
        self.in_flight = 0
        self.paused = False
        self.authenticating = False  # a HELLO's token is being checked on the pool

    def connection_made(self, transport):
        self.transport = transport
        peer = transport.get_extra_info("peername")
        self.peer = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer)
        self.server.connections.add(self)

    def connection_lost(self, exc):
        self.server.connections.discard(self)

    def data_received(self, data: bytes) -> None:
        self.buf += data
        try:
            for frame_type, count, req_id, payload in wire.take_frames(self.buf):
                self._frame(frame_type, count, req_id, payload)
                if self.transport.is_closing() or self.authenticating:
                    return  # (frames behind a HELLO wait for its answer)
        except wire.ProtocolError as exc:
            self._refuse(Status.INVALID_ARGUMENT, str(exc))

    def _refuse(self, status: int, message: str) -> None:
        if not self.transport.is_closing():
            self.transport.write(wire.encode_error(status, message))
            self.transport.close()

    def _frame(self, frame_type: int, count: int, req_id: int, payload: bytes) -> None:
        if self.metadata is None:
            if frame_type != wire.HELLO:
                raise wire.ProtocolError("the connection must start with HELLO")
            self._hello(payload)
            return
        if frame_type != wire.CALL:
            raise wire.ProtocolError(f"unexpected frame type {frame_type} from a client")
        if count >= len(wire.METHODS):
            self._reply_error(req_id, Status.INVALID_ARGUMENT, f"unknown meta method number {count}")
            return
        name = wire.METHODS[count]
        try:
            request = wire.REQUESTS[name].FromString(payload)
        except Exception:  # noqa: BLE001 - protobuf raises DecodeError and others for garbage
            self._reply_error(req_id, Status.INVALID_ARGUMENT, f"malformed {name} request")
            return
        where = self.server.route(name, request)
        if where == "loop":
            self._send(req_id, self._answer(name, request))
            return
        if where == "group":
            self.server.to_group(self, req_id, name, request)
            return
        self.to_pool(req_id, name, request)

    def to_pool(self, req_id: int, name: str, request) -> None:
        self.in_flight += 1
        if self.in_flight >= MAX_CALLS_IN_FLIGHT and not self.paused:
            self.paused = True
            self.transport.pause_reading()
        future = self.server.loop.run_in_executor(self.server.executor, self._answer, name, request)
        future.add_done_callback(lambda f, req_id=req_id: self._done(req_id, f))

    def _hello(self, payload: bytes) -> None:
        if len(payload) > wire.MAX_TOKEN:
            raise wire.ProtocolError("HELLO token too long")
        token = payload.decode(errors="replace")
        metadata = ((AUTH_KEY, f"Bearer {token}"),)
        check = self.server.users.authenticate
        if self.server.inline_reads:
            try:
                check(_CallContext(metadata, self.peer))
            except FS3Error as exc:
                self._refuse(exc.status, exc.strerror or str(exc))
                return
            self._welcome(metadata)
            return
        # A remote store (etcd): the token's lookup is a round trip, which must not stall the loop.
        self.authenticating = True
        self.transport.pause_reading()
        future = self.server.loop.run_in_executor(self.server.executor, check, _CallContext(metadata, self.peer))
        future.add_done_callback(lambda f: self._authenticated(f, metadata))

    def _authenticated(self, future, metadata) -> None:
        self.authenticating = False
        if self.transport.is_closing():
            return
        error = future.exception()
        if error is not None:
            if isinstance(error, FS3Error):
                self._refuse(error.status, error.strerror or str(error))
            else:
                self._refuse(Status.INTERNAL, f"authentication failed: {error}")
            return
        self._welcome(metadata)
        self.transport.resume_reading()
        self.data_received(b"")  # frames that came behind the HELLO

    def _welcome(self, metadata) -> None:
        self.metadata = metadata
        self.transport.write(wire.frame(wire.WELCOME))

    def _answer(self, name: str, request):
        try:
            return self.server.answer(name, request, self.metadata, self.peer)
        except _Aborted as exc:
            return exc


    def _done(self, req_id: int, future) -> None:
        self.in_flight -= 1
        if self.paused and self.in_flight < MAX_CALLS_IN_FLIGHT // 2 and not self.transport.is_closing():
            self.paused = False
            self.transport.resume_reading()
        try:
            result = future.result()
        except BaseException as exc:  # noqa: BLE001 - cancelled at shutdown, or a bug: answer it anyway
            result = _Aborted((), f"internal error: {type(exc).__name__}: {exc}")
        self._send(req_id, result)

    def _send(self, req_id: int, result) -> None:
        if self.transport.is_closing():
            return
        if isinstance(result, _Aborted):
            self.transport.write(wire.encode_error(result.status, result.details, result.path, req_id))
        else:
            self.transport.write(wire.frame(wire.REPLY, result, req_id=req_id))

    def _reply_error(self, req_id: int, status: int, message: str) -> None:
        self.transport.write(wire.encode_error(status, message, None, req_id))
