"""The meta server's framed call listener (fs3/_call_wire.py): the namespace calls of the Meta service,
served on an event loop of their own without gRPC's per-call machinery, which costs several times the
work of a metadata operation in Python.

The calls are answered from the table gRPC answers them from (``ops.OPERATIONS``), so authentication,
permissions and errors are identical. A connection authenticates once with HELLO, and every call is
authenticated again with that token (a revoked token stops working). On a local KV store (SQLite),
calls run on the loop itself: a read takes tens of microseconds, and a mutation a few hundred, less
than handing it to a thread and back (measured: a writer thread, or a pool with the store's group
commit, served about 30% fewer creates per second on two cores, the threads' contention for the GIL
included). The mutations that arrive in one pass of the loop, from any connections, are committed
together: one transaction, a savepoint per call (a failed call is rolled back alone), one fsync, and
no reply before the commit. The price: reads wait while a group commits, so a disk whose fsync stalls
stalls the namespace calls (as it stalls SQLite for everyone). Calls that reach storage nodes (the
table's ``reaches_storage``: truncating an existing file; an open that finds it must truncate only
inside a group leaves the group for the pool), and every call and HELLO on a remote store (etcd), run
on a thread pool, so a network round trip never stalls the loop.

Users get fair shares (meta/_fair_share.py): each user's calls wait in a queue of their own and the
users are served round robin, a few calls each per turn of the loop, so one user's flood of calls waits
its turn instead of delaying everyone's ``stat`` (``FS3_FAIR_SHARE=off`` serves calls as they come, for
comparison: benchmarks/meta_flood.py).

Nothing a peer sends takes the server down: a frame that breaks the protocol is answered with an ERROR
frame and the connection is closed; a bad request in a good frame fails that call alone. A peer without
a token costs little: its HELLO is refused by its header when longer than a token may be, a connection
that has not authenticated within ``HANDSHAKE_DEADLINE`` is told so and closed, and connections beyond
``MAX_CONNECTIONS`` are refused with an ERROR that says so.

With TLS (``tls``: the server's context) connections are accepted by ``TLSListener``
(meta/_tls_listener.py): each is counted and its deadline starts when TCP accepts it, and the TLS
handshake runs inside that deadline. One beyond the cap is closed (before a handshake no words reach
the peer).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import ssl
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from fs3 import _call_wire as wire
from fs3._auth import unauthenticated
from fs3._errors import FS3Error, Status
from fs3._metrics import OpCounters

from . import ops
from ._fair_share import FairShare
from ._tls_listener import TLSListener
from ._users import Users

try:
    import uvloop
except ImportError:  # pragma: no cover - uvloop is a dependency on Linux and macOS
    uvloop = None  # type: ignore[assignment]

log = logging.getLogger(__name__)

MAX_CALLS_IN_FLIGHT = 64  # per connection; reading pauses beyond this
MAX_CONNECTIONS = 1024    # framed connections per server, authenticated or not
HANDSHAKE_DEADLINE = 10.0  # seconds a connection has to send an accepted HELLO


class _Failed:
    """A call's failure as its ERROR frame carries it: what a gRPC call carries in its status and
    trailing metadata (fs3 status, message, path)."""

    __slots__ = ("status", "message", "path")

    def __init__(self, status: int, message: str, path: str | None = None):
        self.status, self.message, self.path = int(status), message, path

    @classmethod
    def of(cls, exc: FS3Error) -> _Failed:
        return cls(exc.status, exc.strerror or "", None if exc.filename is None else str(exc.filename))


class CallServer:
    """Serves the namespace calls of ``ops.OPERATIONS`` over ``ctx`` on ``host``:``port`` (0: any free
    port), each call authenticated by ``users`` and counted in ``counters`` by its method name. At most
    ``max_connections`` are open at once (default ``MAX_CONNECTIONS``), and each has
    ``handshake_deadline`` seconds (default ``HANDSHAKE_DEADLINE``) to authenticate, its TLS handshake
    included when ``tls`` is given."""

    def __init__(self, ctx: ops.OpContext, users: Users, counters: OpCounters, *, host: str, port: int = 0,
                 threads: int = 32, max_connections: int | None = None, handshake_deadline: float | None = None,
                 tls: ssl.SSLContext | None = None, fair_share: bool | None = None):
        self.ctx, self.users, self.counters, self.kv = ctx, users, counters, ctx.kv
        self.host, self.port = host, port
        self.tls = tls
        self._tls_listener: TLSListener | None = None
        self.max_connections = MAX_CONNECTIONS if max_connections is None else max_connections
        self.handshake_deadline = HANDSHAKE_DEADLINE if handshake_deadline is None else handshake_deadline
        self.refused = 0  # connections refused for the cap
        self._refusing = False  # (logged once per stretch of refusals, not each)
        self.inline_reads = self.kv.local_reads  # a local store: calls run on the loop (see above)
        self.executor = ThreadPoolExecutor(threads, thread_name_prefix="meta-call")
        self.loop: asyncio.AbstractEventLoop = (
            uvloop.new_event_loop() if uvloop is not None else asyncio.new_event_loop())
        self._thread = threading.Thread(target=self.loop.run_forever, name="meta-calls", daemon=True)
        self._server: asyncio.Server | None = None
        self.operations = tuple(ops.OPERATIONS[name] for name in wire.METHODS)  # by method number
        self.connections: set[_CallConnection] = set()
        fair = fair_share if fair_share is not None else os.environ.get("FS3_FAIR_SHARE", "on") != "off"
        self.fair = FairShare(self.loop, self._start) if fair else None
        self._waiting: list[tuple[_CallConnection, int, ops.Operation, object]] = []  # to commit together

    def start(self) -> int:
        """Listen; returns the bound port."""
        self._thread.start()

        async def listen():
            if self.tls is not None:
                self._tls_listener = TLSListener(self.loop, self.host, self.port, self.tls, admit=self._admit,
                                                 protocol=lambda at: _CallConnection(self, at),
                                                 deadline=self.handshake_deadline)
                return await self._tls_listener.start()
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
                if self._tls_listener is not None:
                    self._tls_listener.close()
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

    @property
    def tls_failures(self) -> int:
        """TLS handshakes that failed or ran out of time."""
        return self._tls_listener.failures if self._tls_listener is not None else 0

    def _admit(self) -> bool:
        """Whether a TLS connection just accepted may begin its handshake (the cap counts those in
        their handshake too); else it is counted as refused."""
        handshaking = self._tls_listener.handshaking if self._tls_listener is not None else 0
        if len(self.connections) + handshaking < self.max_connections:
            self._refusing = False
            return True
        self.refused += 1
        if not self._refusing:
            self._refusing = True
            log.warning("meta calls: refusing connections: too many connections to this meta server (%d)",
                        self.max_connections)
        return False

    def _start(self, call) -> None:
        """FairShare's turn came for a call: run it (unless its connection went meanwhile)."""
        conn, req_id, op, request = call
        if conn.transport.is_closing():
            self.fair.finished(conn.uid)  # type: ignore[union-attr]
            return
        conn.dispatch(req_id, op, request)

    def authenticate(self, token: str) -> ops.Cred:
        """The credentials of a HELLO's bearer token, with the errors gRPC's ``Users.authenticate``
        gives the same token in an authorization header."""
        if not token:
            raise unauthenticated("the call carries no token")
        return self.users.cred_for(token)

    def route(self, op: ops.Operation, request) -> str:
        """Where a call runs: "loop" (a read on a local store), "group" (a mutation on a local store,
        committed with the others of its pass of the loop) or "pool" (calls that reach storage nodes,
        and every call on a remote store)."""
        if not self.inline_reads:
            return "pool"
        if op.reaches_storage is not None and op.reaches_storage(self.ctx, request):
            return "pool"  # e.g. truncating an existing file removes its chunks from the storage nodes
        return "loop" if op.read_only else "group"

    def answer(self, op: ops.Operation, request, token: str) -> bytes | _Failed:
        """One call's reply frame payload, or why it failed: authenticated again (a revoked token
        stops working), run, counted, its errors translated as gRPC's boundary translates them."""
        started = time.perf_counter()
        failed: bool | None = True
        try:
            reply = op.run(self.ctx, self.authenticate(token), request)
            failed = False
            return reply.SerializeToString()
        except FS3Error as exc:
            return _Failed.of(exc)
        except ops.MustLeaveGroup:
            failed = None  # not an answer: counted once it runs on the pool
            raise
        except Exception as exc:  # noqa: BLE001 - the boundary: a bad request never takes the server down
            log.exception("%s failed", op.name)  # (as fs3._rpc.servicer_method answers gRPC)
            return _Failed(Status.INTERNAL, f"internal error in {op.name}: {type(exc).__name__}: {exc}")
        finally:
            if failed is not None:
                self.counters.observe(op.name, time.perf_counter() - started, error=failed)

    def to_group(self, conn: _CallConnection, req_id: int, op: ops.Operation, request) -> None:
        """Queue a mutation for the group committed once this pass of the loop has read every
        connection: the mutations that arrived together share one transaction and one fsync."""
        if not self._waiting:
            self.loop.call_soon(self._commit_group)
        self._waiting.append((conn, req_id, op, request))

    def _commit_group(self) -> None:
        group, self._waiting = self._waiting, []
        top_up = getattr(self.ctx.alloc_inode, "top_up", None)
        if top_up is not None:  # new ids reserved outside the group (see InodeAllocator)
            try:
                top_up(64 * len(group))
            except Exception:  # noqa: BLE001 - the calls then reserve their ids one by one
                log.exception("reserving inode ids")

        def one(conn, op, request):  # each call in a savepoint of its own
            return self.kv.transact(lambda _txn: conn._answer(op, request))

        def run(_txn):
            results = []
            for conn, _req, op, request in group:
                try:
                    results.append(one(conn, op, request))
                except ops.MustLeaveGroup:  # it needs storage nodes: undone here, run on the pool
                    results.append(_LEAVE)
            return results

        try:
            with ops.no_storage_calls():
                results = self.kv.transact(run)
        except Exception as exc:  # noqa: BLE001 - the commit failed: nothing of the group happened
            log.error("committing %d meta calls failed: %s", len(group), exc)
            failed = _Failed(Status.UNAVAILABLE, f"the metadata store failed to commit: {exc}")
            results = [failed] * len(group)
        for (conn, req_id, op, request), result in zip(group, results, strict=True):
            if result is _LEAVE:
                conn.to_pool(req_id, op, request)
            else:
                conn._send(req_id, result)


_LEAVE = object()


class _CallConnection(asyncio.Protocol):
    """One client's connection: HELLO first, then calls answered in any order."""

    transport: asyncio.Transport  # from connection_made on

    def __init__(self, server: CallServer, accepted: float | None = None):
        self.server = server
        self.accepted = accepted  # when TCP accepted it (TLS: its handshake counts in the deadline)
        self.frames = wire.reader(head=self._head)
        self.token: str | None = None  # the caller's bearer token once HELLO was accepted
        self.uid = -1  # ... and its user's (whose fair share its calls take)
        self.in_flight = 0
        self.paused = False
        self.held = False  # paused for its user's backlog (FairShare)
        self.authenticating = False  # a HELLO's token is being checked on the pool
        self._handshake: asyncio.TimerHandle | None = None  # closes the connection unless HELLO comes first

    def connection_made(self, transport):
        self.transport = transport
        server = self.server
        if len(server.connections) >= server.max_connections:
            server.refused += 1
            message = (f"too many connections to this meta server ({server.max_connections}); try again "
                       "later, or raise its connection limit")
            if not server._refusing:
                server._refusing = True
                log.warning("meta calls: refusing connections: %s", message)
            self._refuse(Status.UNAVAILABLE, message)
            return
        server._refusing = False
        server.connections.add(self)
        left = server.handshake_deadline
        if self.accepted is not None:
            left -= time.monotonic() - self.accepted
        self._handshake = server.loop.call_later(max(0.0, left), self._handshake_expired)

    def _handshake_expired(self) -> None:
        self._handshake = None
        if self.token is None:
            self._refuse(Status.TIMEOUT, f"no accepted HELLO within {self.server.handshake_deadline:g} s of "
                                         "connecting (the handshake deadline); closing the connection")

    def connection_lost(self, exc):
        self.server.connections.discard(self)
        if self.server.fair is not None:
            self.server.fair.forget(self)
        if self._handshake is not None:
            self._handshake.cancel()
            self._handshake = None

    def _head(self, header, _buffered: int) -> int:
        """Refuse, from its header alone, a frame an unauthenticated peer may not send, before its
        payload is buffered (an unauthenticated peer must not make the server hold megabytes)."""
        if self.token is None:
            if header.type != wire.HELLO:
                raise wire.ProtocolError("the connection must start with HELLO")
            if header.length > wire.MAX_TOKEN:
                raise wire.ProtocolError(f"HELLO of {header.length} bytes (a token is at most {wire.MAX_TOKEN})")
        return header.length

    def data_received(self, data: bytes) -> None:
        try:
            self.frames.feed(data)
            # (frames behind a HELLO wait in the reader for its answer)
            while not self.transport.is_closing() and not self.authenticating:
                frame = self.frames.next_frame()
                if frame is None:
                    return
                header = frame.header
                self._frame(header.type, header.count, header.req_id, frame.payload)
        except wire.ProtocolError as exc:
            self._refuse(exc.status, str(exc))

    def _refuse(self, status: int, message: str) -> None:
        if not self.transport.is_closing():
            self.transport.write(wire.encode_error(status, message))
            self.transport.close()

    def _frame(self, frame_type: int, count: int, req_id: int, payload: bytes) -> None:
        if self.token is None:
            if frame_type != wire.HELLO:
                raise wire.ProtocolError("the connection must start with HELLO")
            self._hello(payload)
            return
        if frame_type != wire.CALL:
            raise wire.ProtocolError(f"unexpected frame type {frame_type} from a client")
        operations = self.server.operations
        if count >= len(operations):
            self._reply_error(req_id, Status.INVALID_ARGUMENT, f"unknown meta method number {count}")
            return
        op = operations[count]
        try:
            request = op.request.FromString(payload)
        except Exception:  # noqa: BLE001 - protobuf raises DecodeError and others for garbage
            self._reply_error(req_id, Status.INVALID_ARGUMENT, f"malformed {op.name} request")
            return
        if self.server.fair is not None:
            self.server.fair.submit(self.uid, (self, req_id, op, request), self)
            return
        self.dispatch(req_id, op, request)

    def dispatch(self, req_id: int, op: ops.Operation, request) -> None:
        """Run a call where it belongs (see ``CallServer.route``); ``_send`` answers it."""
        where = self.server.route(op, request)
        if where == "loop":
            self._send(req_id, self._answer(op, request))
            return
        if where == "group":
            self.server.to_group(self, req_id, op, request)
            return
        self.to_pool(req_id, op, request)

    def to_pool(self, req_id: int, op: ops.Operation, request) -> None:
        self.in_flight += 1
        if self.in_flight >= MAX_CALLS_IN_FLIGHT and not self.paused:
            self.paused = True
            self.transport.pause_reading()
        future = self.server.loop.run_in_executor(self.server.executor, self._answer, op, request)
        future.add_done_callback(functools.partial(self._done, req_id))

    def _hello(self, payload: bytes) -> None:
        if len(payload) > wire.MAX_TOKEN:
            raise wire.ProtocolError("HELLO token too long")
        token = payload.decode(errors="replace").strip()  # (as a gRPC authorization header is read)
        check = self.server.authenticate
        if self.server.inline_reads:
            try:
                cred = check(token)
            except FS3Error as exc:
                self._refuse(exc.status, exc.strerror or str(exc))
                return
            self._welcome(token, cred)
            return
        # A remote store (etcd): the token's lookup is a round trip, which must not stall the loop.
        self.authenticating = True
        self.transport.pause_reading()
        future = self.server.loop.run_in_executor(self.server.executor, check, token)
        future.add_done_callback(lambda f: self._authenticated(f, token))

    def _authenticated(self, future, token: str) -> None:
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
        self._welcome(token, future.result())
        self.transport.resume_reading()
        self.data_received(b"")  # frames that came behind the HELLO

    def _welcome(self, token: str, cred: ops.Cred) -> None:
        self.token, self.uid = token, cred.uid
        if self._handshake is not None:
            self._handshake.cancel()
            self._handshake = None
        self.transport.write(wire.frame(wire.WELCOME))

    def _answer(self, op: ops.Operation, request) -> bytes | _Failed:
        return self.server.answer(op, request, self.token or "")

    def _done(self, req_id: int, future) -> None:
        self.in_flight -= 1
        if self.paused and self.in_flight < MAX_CALLS_IN_FLIGHT // 2 and not self.transport.is_closing():
            self.paused = False
            if not self.held:
                self.transport.resume_reading()
        try:
            result = future.result()
        except BaseException as exc:  # noqa: BLE001 - cancelled at shutdown, or a bug: answer it anyway
            result = _Failed(Status.INTERNAL, f"internal error: {type(exc).__name__}: {exc}")
        self._send(req_id, result)

    def hold(self, on: bool) -> None:
        """FairShare: stop (or resume) reading this connection while its user's backlog is full."""
        self.held = on
        if self.transport.is_closing():
            return
        if on:
            self.transport.pause_reading()
        elif not self.paused and not self.authenticating:
            self.transport.resume_reading()

    def _send(self, req_id: int, result: bytes | _Failed) -> None:
        """Answer a call that ran."""
        if self.server.fair is not None:
            self.server.fair.finished(self.uid)
        if self.transport.is_closing():
            return
        if isinstance(result, _Failed):
            self.transport.write(wire.encode_error(result.status, result.message, result.path, req_id))
        else:
            self.transport.write(wire.frame(wire.REPLY, result, req_id=req_id))

    def _reply_error(self, req_id: int, status: int, message: str) -> None:
        self.transport.write(wire.encode_error(status, message, None, req_id))
