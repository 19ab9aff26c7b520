"""The storage node's data-plane listener: chunk reads and writes over the framed binary protocol
(fs3/_wire.py) on asyncio (uvloop) loops, beside gRPC, which keeps every control call.

The listener accepts on TCP and, for requesters on this host, on an abstract Unix socket, and hands
each connection to a loop of its own thread as a ``ClientSession`` (storage/_client_session.py), which
serves it through the read path and the write path (storage/_read_path.py, storage/_write_path.py).
A failed accept (EMFILE, ENFILE...) is logged once and retried after a short back-off: the listener
keeps serving once descriptors are free again.

Connections are capped (``MAX_CONNECTIONS`` by default, clients and chain peers alike): one beyond the
cap is answered with an ERROR frame that says so and closed at once, without a session. With the
handshake deadline and the small buffer of a session not yet authenticated, this bounds what peers
without a token can make the node hold.

With TLS (``tls``: the node's server context) both listeners wrap what they accept. A connection is
counted when accepted, and its TLS handshake runs inside its handshake deadline, which starts then; a
connection beyond the cap is closed without a word (none the peer could read before a handshake).
"""

from __future__ import annotations

import asyncio
import errno
import functools
import logging
import os
import socket
import ssl
import threading
import time
from concurrent.futures import Future

from fs3 import _wire
from fs3._errors import Status

from . import _client_session
from ._client_session import ClientSession
from ._data_context import DataPlaneContext

log = logging.getLogger(__name__)

ACCEPT_BACKOFF = 0.1  # seconds between tries while accepting fails (descriptors run out, memory...)
# Failures of one connection, not of the listener: the next accept goes ahead at once.
_CONNECTION_ERRORS = frozenset({errno.ECONNABORTED, errno.ECONNRESET, errno.EPROTO, errno.EPERM})
MAX_CONNECTIONS = 1024  # data-plane connections per node, authenticated or not
_DRAIN = 16 << 10       # bytes a refused connection's HELLO may have left unread (read, so the close is clean)


class DataServer:
    """Listens for data-plane connections and spreads them over ``loops`` event loops, each in its own
    thread (one by default: with io_uring one loop keeps a frame's reads in flight). At most
    ``max_connections`` are open at once (default ``MAX_CONNECTIONS``); each has ``handshake_deadline``
    seconds to authenticate (default: the session's ``HANDSHAKE_DEADLINE``), a TLS handshake included
    (``tls``: the node's server context; None: in clear)."""

    def __init__(self, ctx: DataPlaneContext, host: str, port: int = 0, *, loops: int = 1,
                 max_connections: int | None = None, handshake_deadline: float | None = None,
                 tls: ssl.SSLContext | None = None):
        self.ctx = ctx
        self.host = host
        self.port = port
        self.tls = tls
        self.max_connections = MAX_CONNECTIONS if max_connections is None else max_connections
        self.handshake_deadline = handshake_deadline
        self._open = 0  # connections accepted and not yet lost (sessions end on any loop's thread)
        self._open_lock = threading.Lock()
        self._refusing = False  # connections beyond the cap are being refused (logged once, not each)
        self._loops: list[asyncio.AbstractEventLoop] = []
        self._threads: list[threading.Thread] = []
        self._sock: socket.socket | None = None
        self._ucx_listener = None
        self._local: socket.socket | None = None
        self._accepting: list[Future] = []
        self._handing: set[Future] = set()  # accepted connections on their way to a loop
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
        self._listen(self._sock)
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
        self._listen(sock)
        return name

    def listen_ucx(self, host: str, timeout: float = 30.0) -> int:
        """Also accept requesters over UCX (fs3/_ucx.py), on the first loop; returns the port (0: no
        UCX listener, with the reason logged). Its sessions are counted, capped and given the handshake
        deadline as TCP ones are."""
        from fs3 import _ucx

        ok, why = _ucx.available()
        if not ok:
            log.info("data plane: no UCX listener: %s", why)
            return 0
        if self.tls is not None:
            log.info("data plane: no UCX listener: TLS is on and UCX carries no TLS")
            return 0

        async def start() -> int:
            self._ucx_listener = _ucx.ucxx().create_listener(self._ucx_accept, port=0)
            return self._ucx_listener.port

        try:
            return asyncio.run_coroutine_threadsafe(start(), self._loops[0]).result(timeout)
        except Exception as exc:  # noqa: BLE001 - UCX failing to start leaves TCP serving
            log.warning("data plane: no UCX listener: %s", exc)
            return 0

    async def _ucx_accept(self, endpoint) -> None:
        from fs3._ucx import UcxTransport

        if not self._admit():
            self.ctx.stats.refused += 1
            endpoint.abort()
            return
        released: list[bool] = []
        lost = functools.partial(self._release, released)
        deadline = self.handshake_deadline
        session = ClientSession(self.ctx, handshake_deadline=deadline, on_lost=lost, accepted=time.monotonic())
        UcxTransport(endpoint, session, "peer").start()

    def _listen(self, listener: socket.socket) -> None:
        accepting = asyncio.run_coroutine_threadsafe(self._accept(listener), self._loops[0])
        accepting.add_done_callback(self._stopped_accepting)
        self._accepting.append(accepting)

    @staticmethod
    def _stopped_accepting(accepting: Future) -> None:
        if not accepting.cancelled() and accepting.exception() is not None:
            log.error("data plane: the listener stopped", exc_info=accepting.exception())

    async def _accept(self, listener: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        failing = 0  # the errno accepting fails with now (logged once, not on every retry)
        while True:
            try:
                conn, _ = await loop.sock_accept(listener)
            except OSError as exc:
                if listener.fileno() == -1:  # closed: the server is stopping
                    return
                self.ctx.stats.accept_errors += 1
                if exc.errno in _CONNECTION_ERRORS:
                    log.debug("data plane: a connection failed before it was accepted: %s", exc)
                    continue
                if exc.errno != failing:
                    failing = exc.errno or -1
                    log.error("data plane: accepting connections fails (%s); retrying every %.1f s",
                              exc, ACCEPT_BACKOFF)
                await asyncio.sleep(ACCEPT_BACKOFF)
                continue
            if failing:
                log.warning("data plane: accepting connections again")
                failing = 0
            if self._admit():
                self._refusing = False
                self._hand_over(conn)
            else:
                self._refuse(conn)

    @property
    def open_connections(self) -> int:
        """Connections accepted and not yet closed."""
        return self._open

    def _admit(self) -> bool:
        """Count a new connection in, unless the cap is reached."""
        with self._open_lock:
            if self._open >= self.max_connections:
                return False
            self._open += 1
            return True

    def _release(self, released: list[bool]) -> None:
        """Count a connection out, once (its session lost, or its hand-over failed)."""
        with self._open_lock:
            if not released:
                released.append(True)
                self._open -= 1

    def _refuse(self, conn: socket.socket) -> None:
        """Tell a connection beyond the cap why, and close it. Its HELLO, if it came already, is read
        first (a few KiB at most), so that the close does not reset the connection before the peer
        has read the ERROR."""
        message = (f"too many connections to this node ({self.max_connections}); try again later, or raise "
                   "the node's connection limit")
        self.ctx.stats.refused += 1
        self.ctx.stats.count_error(Status.UNAVAILABLE)
        if not self._refusing:
            self._refusing = True
            log.warning("data plane: refusing connections: %s", message)
        if self.tls is not None:  # the peer expects a TLS handshake: nothing in clear would reach it
            conn.close()
            return
        try:
            conn.setblocking(False)
            try:
                conn.recv(_DRAIN)
            except (BlockingIOError, InterruptedError):
                pass
            conn.send(_wire.encode_error(Status.UNAVAILABLE, message))
            conn.shutdown(socket.SHUT_WR)
        except OSError as exc:  # the peer left already: nothing to tell
            log.debug("data plane: a refused connection failed: %s", exc)
        finally:
            conn.close()

    def _hand_over(self, conn: socket.socket) -> None:
        """Give an accepted (and counted) connection to the next loop; a failure to set it up is logged,
        and the connection closed."""
        released: list[bool] = []
        lost = functools.partial(self._release, released)
        accepted = time.monotonic()  # the handshake deadline runs from here, the TLS handshake inside it
        deadline = self.handshake_deadline
        if deadline is None:
            deadline = _client_session.HANDSHAKE_DEADLINE
        secure = {} if self.tls is None else {"ssl": self.tls, "ssl_handshake_timeout": deadline}
        try:
            if conn.family != socket.AF_UNIX:
                conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            target = self._loops[self._next % len(self._loops)]
            self._next += 1
            handing = asyncio.run_coroutine_threadsafe(
                target.connect_accepted_socket(
                    lambda: ClientSession(self.ctx, handshake_deadline=deadline, on_lost=lost, accepted=accepted),
                    conn, **secure),
                target,
            )
        except Exception as exc:  # noqa: BLE001 - one connection's failure, not the listener's
            lost()
            self.ctx.stats.accept_errors += 1
            log.error("data plane: could not serve an accepted connection: %s", exc)
            conn.close()
            return
        self._handing.add(handing)
        handing.add_done_callback(functools.partial(self._handed, conn, lost))

    def _handed(self, conn: socket.socket, lost, handing: Future) -> None:
        self._handing.discard(handing)
        error = None if handing.cancelled() else handing.exception()
        if handing.cancelled() or error is not None:
            if error is not None and self.tls is not None and isinstance(error, OSError):
                # (a peer's TLS handshake that failed or ran out of time: SSLError, a reset, a timeout)
                self.ctx.stats.tls_failures += 1
                log.debug("data plane: a TLS handshake failed: %s", error)
            elif error is not None:
                self.ctx.stats.accept_errors += 1
                log.error("data plane: could not serve an accepted connection: %s", error)
            lost()  # (once, even if the session was made and lost too)
            conn.close()

    def stop(self) -> None:
        for accepting in self._accepting:
            accepting.cancel()
        if self._ucx_listener is not None:
            self._loops[0].call_soon_threadsafe(self._ucx_listener.close)
        for loop in self._loops:
            loop.call_soon_threadsafe(loop.stop)
        for thread in self._threads:
            thread.join(timeout=10)
        for sock in (self._sock, self._local):
            if sock is not None:
                sock.close()
