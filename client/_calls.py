"""The client's framed connection to one meta server's call listener (fs3/_call_wire.py): namespace calls
with many in flight, each answered by its reply message or an fs3 error."""

from __future__ import annotations

import asyncio
import ssl

from fs3 import _call_wire as wire
from fs3._errors import FS3Error, Status, Unavailable, Unreachable, error_for

CONNECT_TIMEOUT = 5.0


class CallConnection(asyncio.Protocol):
    """One framed connection to a meta server's call listener, with many calls in flight."""

    def __init__(self, address: str):
        self.address = address
        self.transport: asyncio.Transport | None = None
        self._frames = wire.reader()
        self._pending: dict[int, tuple[asyncio.Future, str]] = {}
        self._next_id = 1
        self._welcome: asyncio.Future | None = None
        self._closed: FS3Error | None = None

    @classmethod
    async def open(cls, address: str, token: str | None, *, tls: ssl.SSLContext | None = None) -> CallConnection:
        """Connect (over TLS with ``tls``) and present the token; Unavailable when the listener cannot be
        reached or its TLS handshake fails, the server's error (e.g. PermissionDenied) when it refuses
        the token."""
        host, _, port = address.rpartition(":")
        loop = asyncio.get_running_loop()
        conn = cls(address)
        name = host.strip("[]") if tls is not None else None  # what the server's certificate must name
        try:
            await asyncio.wait_for(loop.create_connection(lambda: conn, host.strip("[]"), int(port), ssl=tls,
                                                          server_hostname=name), CONNECT_TIMEOUT)
        except (OSError, ValueError, asyncio.TimeoutError) as exc:  # (ssl.SSLError is an OSError)
            raise Unavailable(f"cannot reach the meta call listener at {address}: {exc}") from None
        conn._welcome = loop.create_future()
        if conn._closed is not None:  # refused as soon as connected (e.g. the server's connection cap)
            raise conn._closed
        assert conn.transport is not None  # (connected above)
        conn.transport.write(wire.frame(wire.HELLO, (token or "").encode()))
        try:
            await asyncio.wait_for(conn._welcome, CONNECT_TIMEOUT)
        except asyncio.TimeoutError:
            conn.close()
            raise Unavailable(f"the meta call listener at {address} did not answer") from None
        return conn

    @property
    def usable(self) -> bool:
        return self._closed is None and self.transport is not None and not self.transport.is_closing()

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def call(self, name: str, request, timeout: float) -> asyncio.Future:
        """Send one call; the future gives its reply message or raises its error (Unreachable when the
        connection is lost or the server does not answer within ``timeout``)."""
        transport = self.transport
        if not self.usable or transport is None:
            raise self._closed or Unreachable(f"meta {self.address}: connection closed")
        req_id = self._next_id
        self._next_id = (self._next_id + 1) & 0xFFFFFFFF or 1
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._pending[req_id] = (future, name)
        timer = loop.call_later(timeout, self._expire, req_id)
        future.add_done_callback(lambda _f: timer.cancel())
        transport.write(wire.frame(wire.CALL, request.SerializeToString(), count=wire.NUMBER[name], req_id=req_id))
        return future

    def _expire(self, req_id: int) -> None:
        entry = self._pending.pop(req_id, None)
        if entry is not None and not entry[0].done():
            entry[0].set_exception(Unreachable(f"meta {self.address} did not answer in time"))

    # -- receiving ---------------------------------------------------------------------------------

    def connection_made(self, transport):
        self.transport = transport

    def connection_lost(self, exc):
        self._fail(Unreachable(f"meta {self.address}: connection lost" + (f" ({exc})" if exc else "")))

    def _fail(self, error: FS3Error) -> None:
        if self._closed is None:
            self._closed = error
        if self._welcome is not None and not self._welcome.done():
            self._welcome.set_exception(error)
        pending, self._pending = self._pending, {}
        for future, _name in pending.values():
            if not future.done():
                future.set_exception(error)
        if self.transport is not None:
            self.transport.close()

    def data_received(self, data: bytes) -> None:
        self._frames.feed(data)
        try:
            for header, payload, _placed in self._frames:
                self._frame(header.type, header.req_id, payload)
        except wire.ProtocolError as exc:
            self._fail(Unreachable(f"meta {self.address} sent a bad frame: {exc}"))

    def _frame(self, frame_type: int, req_id: int, payload: bytes) -> None:
        if frame_type == wire.WELCOME:
            if self._welcome is not None and not self._welcome.done():
                self._welcome.set_result(None)
            return
        if frame_type == wire.ERROR and req_id == 0:  # the server refuses the connection
            status, message, path = wire.decode_error(payload)
            self._fail(error_for(status, message, path))
            return
        entry = self._pending.pop(req_id, None)
        if entry is None or entry[0].done():
            return  # expired meanwhile
        future, name = entry
        if frame_type == wire.REPLY:
            try:
                future.set_result(wire.REPLIES[name].FromString(payload))
            except Exception as exc:  # noqa: BLE001 - a reply we cannot decode fails that call
                future.set_exception(error_for(int(Status.INTERNAL), f"malformed {name} reply: {exc}"))
        elif frame_type == wire.ERROR:
            status, message, path = wire.decode_error(payload)
            future.set_exception(error_for(status, message, path))
        else:
            raise wire.ProtocolError(f"unexpected frame type {frame_type} from a meta server")
