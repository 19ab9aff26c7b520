"""Client side of the data plane: connections to storage nodes speaking fs3/_wire.py, many requests in
flight on each, and a small pool of them per node.

Over TCP, a read's data is received straight into the caller's buffer (asyncio.BufferedProtocol hands
the kernel the destination slice itself); over shared memory the node puts it in this client's region.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from fs3 import _wire
from fs3._errors import FS3Error, Status, Unavailable, error_for
from fs3._transports import local_offer

from ._shm import ShmRegion

CONNECT_TIMEOUT = 10.0


@dataclass
class TransportStatus:
    address: str
    transport: str
    reasons: dict[str, str]  # transport name -> why it was not chosen
    channel: str = "tcp"     # what carries the frames: "tcp", or "unix" (a local socket, same host)


class _Pending:
    __slots__ = ("future", "kind", "dests")

    def __init__(self, future: asyncio.Future, kind: int, dests: list[memoryview] | None):
        self.future = future
        self.kind = kind
        self.dests = dests


class DataConnection(asyncio.BufferedProtocol):
    """One connection to a storage node's data plane."""

    def __init__(self, address: str, shm: ShmRegion | None):
        self.address = address
        self.shm = shm
        self.transport: asyncio.Transport | None = None
        self.welcome: _wire.Welcome | None = None
        self.status: TransportStatus | None = None
        self._hello_waiter: asyncio.Future | None = None
        self._pending: dict[int, _Pending] = {}
        self._next_id = 1
        self._closed_exc: Exception | None = None
        # receive state
        self._hbuf = bytearray(_wire.HEADER_SIZE)
        self._hview = memoryview(self._hbuf)
        self._got = 0
        self._header: _wire.Header | None = None
        self._stage = 0          # 0 header, 1 body, 2 read results, 3 read data
        self._body: bytearray | None = None
        self._bview: memoryview | None = None
        self._reply: _Pending | None = None
        self._results: list[tuple] = []
        self._item = 0
        self._scratch = memoryview(bytearray(1 << 16))

    # -- lifecycle ---------------------------------------------------------------------------------

    @classmethod
    async def open(cls, address: str, token: bytes, shm: ShmRegion | None, client: str,
                   local_socket: str = "") -> DataConnection:
        """Connect and handshake: over the node's local socket when it is on this host (its abstract
        socket is visible only in this network namespace), else over TCP."""
        host, _, port = address.rpartition(":")
        loop = asyncio.get_running_loop()
        conn = cls(address, shm)
        channel = "tcp"
        if local_socket:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.setblocking(False)
            try:
                # uvloop takes no abstract socket names: connect the socket ourselves, then hand it over.
                await asyncio.wait_for(loop.sock_connect(sock, "\0" + local_socket), 1.0)
                await loop.create_unix_connection(lambda: conn, sock=sock)
                channel = "unix"
            except (OSError, asyncio.TimeoutError):
                sock.close()
                conn = cls(address, shm)
        if channel == "tcp":
            try:
                await asyncio.wait_for(loop.create_connection(lambda: conn, host, int(port)), CONNECT_TIMEOUT)
            except (OSError, asyncio.TimeoutError) as exc:
                raise Unavailable(f"cannot reach the data plane of storage node {address}: {exc}") from None
        offer, reasons = local_offer(shm=shm is not None)
        hello = _wire.Hello(
            token=token, offer=offer, shm_name=shm.name if shm else "", shm_size=shm.size if shm else 0,
            shm_nonce=shm.nonce if shm else b"", client=client,
        )
        conn._hello_waiter = loop.create_future()
        conn.transport.write(_wire.encode_hello(hello))
        try:
            welcome = await asyncio.wait_for(conn._hello_waiter, CONNECT_TIMEOUT)
        except asyncio.TimeoutError:
            conn.close()
            raise Unavailable(f"storage node {address} did not answer the data-plane handshake") from None
        conn.welcome = welcome
        merged = {**welcome.reasons, **reasons}  # our own reason wins for what we did not offer
        conn.status = TransportStatus(
            address, _wire.TRANSPORT_NAMES.get(welcome.transport, "?"),
            {_wire.TRANSPORT_NAMES[t]: why for t, why in sorted(merged.items(), reverse=True)
             if t != welcome.transport and t in _wire.TRANSPORT_NAMES},
            channel,
        )
        return conn

    @property
    def uses_shm(self) -> bool:
        return self.welcome is not None and self.welcome.transport == _wire.TRANSPORT_SHM

    @property
    def in_flight(self) -> int:
        return len(self._pending)

    @property
    def usable(self) -> bool:
        return self._closed_exc is None and self.transport is not None and not self.transport.is_closing()

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    # -- requests ----------------------------------------------------------------------------------

    def _send(self, frame_type: int, count: int, parts: list, kind: int, dests=None, flags: int = 0) -> asyncio.Future:
        if not self.usable:
            raise self._closed_exc or Unavailable(f"connection to storage node {self.address} is closed")
        req_id = self._next_id
        self._next_id = (self._next_id + 1) & 0xFFFFFFFF or 1
        future = asyncio.get_running_loop().create_future()
        self._pending[req_id] = _Pending(future, kind, dests)
        length = sum(len(p) for p in parts)
        head = _wire.pack_header(frame_type, count, req_id, length, flags)
        if length <= 64 << 10:  # one system call for small frames
            self.transport.write(b"".join([head, *parts]))
        else:
            self.transport.write(head)
            for part in parts:
                self.transport.write(part)
        return future

    def send_read(self, items: list[tuple], dests: list[memoryview] | None) -> asyncio.Future:
        """Send one READ frame; ``dests`` (TCP only) receive each item's data. The future gives the
        results: (status, length, version, chunk_length) per item."""
        pack = _wire.READ_ITEM.pack
        body = b"".join([pack(*item) for item in items])
        return self._send(_wire.READ, len(items), [body], _wire.READ_REPLY, dests)

    async def read(self, items: list[tuple], dests: list[memoryview] | None) -> list[tuple]:
        return await self.send_read(items, dests)

    async def write(self, item: tuple, data) -> tuple:
        """Send one WRITE frame: ``data`` inline over TCP (with its CRC32C in the item), or None when it
        waits in shared memory (no transit checksum). Returns (status, version, chunk_length, checksum)."""
        parts = [_wire.WRITE_ITEM.pack(*item)]
        if data is not None:
            parts.append(data)
        flags = _wire.FLAG_NO_CRC if data is None else 0
        return await self._send(_wire.WRITE, 1, parts, _wire.WRITE_REPLY, flags=flags)

    # -- receiving ---------------------------------------------------------------------------------

    def connection_made(self, transport):
        self.transport = transport

    def get_buffer(self, sizehint: int):
        if self._stage == 0:
            return self._hview[self._got :]
        if self._stage in (1, 2):
            return self._bview[self._got :]
        # stage 3: the current item's data, straight into its destination
        reply = self._reply
        wanted = reply is not None and reply.dests is not None and not reply.future.done()
        dest = reply.dests[self._item] if wanted else None
        n = self._results[self._item][1]
        if dest is None:  # nobody wants these bytes (a cancelled request): drain them
            return self._scratch[: min(len(self._scratch), n - self._got)]
        return dest[self._got : n]

    def buffer_updated(self, nbytes: int) -> None:
        self._got += nbytes
        try:
            self._advance()
        except _wire.ProtocolError as exc:
            self._abort(Unavailable(f"storage node {self.address} broke the data-plane protocol: {exc}"))

    def _advance(self) -> None:
        if self._stage == 0:
            if self._got < _wire.HEADER_SIZE:
                return
            header = _wire.parse_header(self._hbuf)
            self._header, self._got = header, 0
            if header.type == _wire.READ_REPLY:
                self._reply = self._pending.get(header.req_id)
                self._body = bytearray(header.count * _wire.READ_RESULT.size)
                self._bview = memoryview(self._body)
                self._stage = 2
            else:
                self._body = bytearray(header.length)
                self._bview = memoryview(self._body)
                self._stage = 1
            if len(self._body):
                return
        if self._stage == 1:
            if self._got < len(self._body):
                return
            self._frame_done(bytes(self._body))
            return
        if self._stage == 2:
            if self._got < len(self._body):
                return
            self._results = [(r[0], r[2], r[3], r[4]) for r in _wire.READ_RESULT.iter_unpack(self._body)]
            inline = self._header.length - len(self._body)
            dests = self._reply.dests if self._reply is not None else None
            if inline and dests is None and self._reply is not None:
                raise _wire.ProtocolError(Status.INVALID_ARGUMENT, "READ_REPLY carries data for a shared-memory read")
            if inline and sum(r[1] for r in self._results) != inline:
                raise _wire.ProtocolError(Status.INVALID_ARGUMENT, "READ_REPLY lengths do not add up")
            if dests is not None:
                if len(dests) != len(self._results) or any(
                    r[1] > len(d) for r, d in zip(self._results, dests, strict=True)
                ):
                    raise _wire.ProtocolError(Status.INVALID_ARGUMENT, "READ_REPLY does not fit the request")
            self._item, self._got, self._stage = (len(self._results) if not inline else 0), 0, 3
        if self._stage == 3:
            while self._item < len(self._results) and self._got >= self._results[self._item][1]:
                self._item += 1
                self._got = 0
            if self._item < len(self._results):
                return
            self._stage = 0
            self._got = 0
            reply, self._reply = self._reply, None
            if reply is not None:
                del self._pending[self._header.req_id]
                if not reply.future.done():
                    reply.future.set_result(self._results)
            self._results = []

    def _frame_done(self, payload: bytes) -> None:
        header = self._header
        self._stage, self._got = 0, 0
        if header.type == _wire.WELCOME and self._hello_waiter is not None:
            if not self._hello_waiter.done():
                self._hello_waiter.set_result(_wire.decode_welcome(payload))
            return
        if header.type == _wire.ERROR:
            status, message = _wire.decode_error(payload)
            exc = error_for(status, f"storage node {self.address}: {message}")
            pending = self._pending.pop(header.req_id, None) if header.req_id else None
            if pending is not None:
                pending.future.set_exception(exc)
            else:
                self._abort(exc)
            return
        if header.type == _wire.WRITE_REPLY:
            pending = self._pending.pop(header.req_id, None)
            if pending is not None and not pending.future.done():
                status, _pad, version, chunk_len, checksum = _wire.WRITE_RESULT.unpack_from(payload)
                pending.future.set_result((status, version, chunk_len, checksum))
            return
        raise _wire.ProtocolError(Status.INVALID_ARGUMENT, f"unexpected frame type {header.type}")

    def _abort(self, exc: Exception) -> None:
        self._closed_exc = exc
        if self._hello_waiter is not None and not self._hello_waiter.done():
            self._hello_waiter.set_exception(exc)
        pending, self._pending = self._pending, {}
        for p in pending.values():
            if not p.future.done():
                p.future.set_exception(exc)
        if self.transport is not None:
            self.transport.close()

    def connection_lost(self, exc):
        if self._closed_exc is None:
            self._abort(Unavailable(f"connection to storage node {self.address} lost"
                                    + (f": {exc}" if exc else "")))


class NodePool:
    """Up to ``size`` connections to one storage node; requests go to the least busy one."""

    def __init__(self, address: str, connect: Callable[[str], Awaitable[DataConnection]], size: int = 2):
        self.address = address
        self._connect = connect
        self._size = size
        self._conns: list[DataConnection] = []
        self._opening: asyncio.Task | None = None

    async def get(self) -> DataConnection:
        self._conns = [c for c in self._conns if c.usable]
        idle = min(self._conns, key=lambda c: c.in_flight, default=None)
        if idle is not None and (idle.in_flight == 0 or len(self._conns) >= self._size):
            return idle
        if self._opening is None:
            self._opening = asyncio.ensure_future(self._connect(self.address))
        opening = self._opening
        try:
            conn = await asyncio.shield(opening)
        except FS3Error:
            if idle is not None:
                return idle
            raise
        finally:
            if self._opening is opening and opening.done():
                self._opening = None
        if conn not in self._conns:
            self._conns.append(conn)
        return conn

    def statuses(self) -> list[TransportStatus]:
        return [c.status for c in self._conns if c.status is not None and c.usable]

    def close(self) -> None:
        for c in self._conns:
            c.close()
        self._conns.clear()
