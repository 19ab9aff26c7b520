"""Accepting TLS connections for the framed call listener, counted from the moment TCP accepts them.

``loop.create_server(ssl=...)`` tells the protocol of a connection only once its TLS handshake is done,
so neither the connection cap nor the handshake deadline would see a peer that opens connections and
never finishes a handshake. This loop accepts itself, asks ``admit`` before anything else (a refused
connection is closed: before a handshake no words reach the peer), and hands each admitted socket to
``connect_accepted_socket`` with the handshake deadline as the TLS handshake's time limit; the
protocol then gets the accept time, so the deadline it keeps for the HELLO is what is left of the same
one. (``start_tls`` on an accepted connection is no way round: uvloop delivers the first bytes of the
ClientHello to the plaintext protocol even when it paused reading in ``connection_made``.)
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
import time
from collections.abc import Callable

log = logging.getLogger(__name__)

ACCEPT_BACKOFF = 0.1  # seconds between tries while accepting fails (descriptors run out...)


class TLSListener:
    """Listens on ``host``:``port`` on ``loop``; each connection ``admit`` lets in is wrapped in
    ``tls`` within ``deadline`` seconds and served by ``protocol(accepted)`` (``accepted``: the
    monotonic time of its accept). ``handshaking`` counts the connections between accept and the end
    of their TLS handshake; ``failures`` the handshakes that failed or ran out of time."""

    def __init__(self, loop: asyncio.AbstractEventLoop, host: str, port: int, tls: ssl.SSLContext, *,
                 admit: Callable[[], bool], protocol: Callable[[float], asyncio.BaseProtocol], deadline: float):
        self.loop, self.host, self.port, self.tls = loop, host, port, tls
        self.admit, self.protocol, self.deadline = admit, protocol, deadline
        self.handshaking = 0
        self.failures = 0
        self._sock: socket.socket | None = None
        self._tasks: set[asyncio.Task] = set()

    async def start(self) -> int:
        """Bind and start accepting (on the loop); returns the bound port."""
        self._sock = socket.create_server((self.host, self.port), backlog=1024)
        self._sock.setblocking(False)
        self._own(self._accept(self._sock))
        return self._sock.getsockname()[1]

    def _own(self, coro) -> None:
        task = self.loop.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _accept(self, listener: socket.socket) -> None:
        failing = 0
        while True:
            try:
                conn, _ = await self.loop.sock_accept(listener)
            except OSError as exc:
                if listener.fileno() == -1:  # closed: stopping
                    return
                if exc.errno != failing:
                    failing = exc.errno or -1
                    log.error("meta calls: accepting connections fails (%s); retrying", exc)
                await asyncio.sleep(ACCEPT_BACKOFF)
                continue
            failing = 0
            if not self.admit():
                conn.close()
                continue
            self.handshaking += 1
            self._own(self._secure(conn, time.monotonic()))

    async def _secure(self, conn: socket.socket, accepted: float) -> None:
        try:
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            await self.loop.connect_accepted_socket(lambda: self.protocol(accepted), conn, ssl=self.tls,
                                                    ssl_handshake_timeout=self.deadline)
        except Exception as exc:  # noqa: BLE001 - a peer's handshake failed (or timed out): the peer's doing
            self.failures += 1
            log.debug("meta calls: a TLS handshake failed: %s", exc)
            conn.close()
        finally:
            self.handshaking -= 1

    def close(self) -> None:
        """Stop accepting and drop the handshakes under way (on the loop)."""
        if self._sock is not None:
            self._sock.close()
        for task in list(self._tasks):
            task.cancel()
