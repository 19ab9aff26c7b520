"""The requesting side of the data plane: connections to storage nodes speaking fs3/_wire.py, many
requests in flight on each, and a small pool of them per node. Used by the client library, and by
storage nodes forwarding updates along their chains and fetching chunks from their peers.

Over TCP, a read's data is received straight into the caller's buffer (asyncio.BufferedProtocol hands
the kernel the destination slice itself; with TLS, the decryption writes it there); over shared memory
the node puts it in the requester's region (anything with ``name``, ``size`` and ``nonce``).

With TLS (``tls``: a client context, fs3/_tls.py) every connection is wrapped, over TCP and over the
node's local socket alike, and the node's certificate must name the host of its address.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import struct
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import cast

from . import _frames, _tls, _wire
from ._errors import FS3Error, Unavailable, error_for
from ._transports import local_offer

CONNECT_TIMEOUT = 10.0      # a handshake (and TLS) may take this long on a loaded node
TCP_CONNECT_TIMEOUT = 3.0   # but a node that does not even accept the connection is taken for cut off:
                            # reads go to another replica (a lost SYN is sent again after 1 s)
RECEIVE_BUFFER = 256 << 10  # replies arrive here, several per system call


@dataclass
class TransportStatus:
    address: str
    transport: str
    reasons: dict[str, str]  # transport name -> why it was not chosen
    channel: str = "tcp"     # what carries the frames: "tcp", "unix" (a local socket, same host) or "ucx"
    tls: bool = False        # the channel is wrapped in TLS
    lanes: str = ""          # over UCX: the lanes UCX chose (e.g. "tcp/lo", or "rc_mlx5/mlx5_0:1" over RDMA)


class _Pending:
    __slots__ = ("future", "kind", "dests")

    def __init__(self, future: asyncio.Future, kind: int, dests: list[memoryview] | None):
        self.future = future
        self.kind = kind
        self.dests = dests


class NodeConnection(asyncio.BufferedProtocol):
    """One connection to a storage node's data plane, as the requester (a client, or a node forwarding
    along its chain) holds it: requests are sent with ``send_read``/``send_write``/``send_update``, many
    in flight, and each future gives its reply. The node's end is storage/_client_session.py."""

    def __init__(self, address: str, shm):
        self.address = address
        self.shm = shm
        self.transport: asyncio.Transport | None = None
        self.welcome: _wire.Welcome | None = None
        self.status: TransportStatus | None = None
        self._hello_waiter: asyncio.Future | None = None
        self._pending: dict[int, _Pending] = {}
        self._next_id = 1
        self._closed_exc: Exception | None = None
        self._granted: dict = {}  # capability key -> the capability last presented on this connection
        # Replies arrive several per system call; a TCP read's data goes straight to the caller's buffers.
        self._frames = _frames.FrameReader(_wire.FRAMING, RECEIVE_BUFFER, max_head=RECEIVE_BUFFER - _wire.HEADER_SIZE,
                                           head=self._head, place=self._place)

    # -- lifecycle ---------------------------------------------------------------------------------

    @classmethod
    async def open(cls, address: str, token: bytes, shm, client: str,
                   local_socket: str = "", *, tls: ssl.SSLContext | None = None,
                   ucx: str | None = "") -> NodeConnection:
        """Connect and handshake: over the node's local socket when it is on this host (its abstract
        socket is visible only in this network namespace), else over UCX when the node listens with it
        (``ucx``: its address; None: not wanted) and this process can, else over TCP; TLS on the socket ones
        when ``tls``."""
        host, _, port = address.rpartition(":")
        loop = asyncio.get_running_loop()
        conn = cls(address, shm)
        channel = "tcp"
        name = host.strip("[]") if tls is not None else None  # what the node's certificate must name
        if local_socket:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.setblocking(False)
            try:
                # uvloop takes no abstract socket names: connect the socket ourselves, then hand it over.
                await asyncio.wait_for(loop.sock_connect(sock, "\0" + local_socket), 1.0)
                await asyncio.wait_for(loop.create_unix_connection(lambda: conn, sock=sock, ssl=tls,
                                                                   server_hostname=name), CONNECT_TIMEOUT)
                channel = "unix"
            except (OSError, asyncio.TimeoutError):  # (a TLS failure too: TCP says what it is)
                sock.close()
                conn = cls(address, shm)
        ucx_why: str | None = None
        if channel == "tcp":
            channel, ucx_why, conn = await _try_ucx(conn, cls, address, shm, ucx, tls)
        if channel == "tcp":
            try:
                await asyncio.wait_for(loop.create_connection(lambda: conn, host, int(port), ssl=tls,
                                                              server_hostname=name), TCP_CONNECT_TIMEOUT)
            except ssl.SSLCertVerificationError as exc:
                raise Unavailable(f"storage node {address}: its TLS certificate is refused: {exc.verify_message}"
                                  " (is this client's CA the cluster's?)") from None
            except ssl.SSLError as exc:
                raise Unavailable(f"storage node {address}: the TLS handshake of its data plane failed "
                                  f"({exc.reason or exc}): does it have TLS on?") from None
            except (OSError, asyncio.TimeoutError) as exc:
                raise Unavailable(f"cannot reach the data plane of storage node {address}: {exc}") from None
        offer, reasons = local_offer(shm=shm is not None, ucx="" if channel == "ucx" else ucx_why)
        hello = _wire.Hello(
            token=token, offer=offer, shm_name=shm.name if shm else "", shm_size=shm.size if shm else 0,
            shm_nonce=shm.nonce if shm else b"", client=client,
        )
        conn._hello_waiter = loop.create_future()
        if conn._closed_exc is not None:  # refused as soon as connected (e.g. the node's connection cap)
            raise conn._closed_exc
        assert conn.transport is not None  # (connected above)
        conn.transport.write(_wire.encode_hello(hello))
        try:
            welcome = await asyncio.wait_for(conn._hello_waiter, CONNECT_TIMEOUT)
        except (asyncio.TimeoutError, Unavailable) as exc:
            conn.close()
            # A node with TLS on drops a HELLO sent in clear: say so, rather than "connection lost".
            why = None if tls is not None else await asyncio.to_thread(
                _tls.explain, address, None, "the data plane of storage node")
            if why is not None:
                raise Unavailable(why) from None
            if isinstance(exc, Unavailable):
                raise
            raise Unavailable(f"storage node {address} did not answer the data-plane handshake") from None
        conn.welcome = welcome
        merged = {**welcome.reasons, **reasons}  # our own reason wins for what we did not offer
        conn.status = TransportStatus(
            address, _wire.TRANSPORT_NAMES.get(welcome.transport, "?"),
            {_wire.TRANSPORT_NAMES[t]: why for t, why in sorted(merged.items(), reverse=True)
             if t != welcome.transport and t in _wire.TRANSPORT_NAMES},
            channel, tls is not None and channel != "ucx",
        )
        if channel == "ucx":
            from . import _ucx

            conn.status.lanes = _ucx.lanes(conn.transport.get_extra_info("ucx_endpoint"))
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
        transport = self.transport
        if self._closed_exc is not None or transport is None or transport.is_closing():  # (not usable)
            raise self._closed_exc or Unavailable(f"connection to storage node {self.address} is closed")
        req_id = self._next_id
        self._next_id = (self._next_id + 1) & 0xFFFFFFFF or 1
        future = asyncio.get_running_loop().create_future()
        self._pending[req_id] = _Pending(future, kind, dests)
        for buffer in _wire.FRAMING.encode(frame_type, parts, count=count, req_id=req_id, flags=flags):
            transport.write(buffer)
        return future

    def grant(self, capabilities: list) -> None:
        """Present capabilities ``(key, raw)`` not yet presented on this connection: they cover every
        frame sent after them (a GRANT frame has no reply)."""
        granted = self._granted
        fresh = [raw for key, raw in capabilities if granted.get(key) is not raw]
        if not fresh or self.transport is None or self.transport.is_closing():
            return
        if len(granted) > 65536:
            granted.clear()
        for key, raw in capabilities:
            granted[key] = raw
        for start in range(0, len(fresh), _wire.MAX_ITEMS):
            self.transport.write(_wire.encode_grant(fresh[start : start + _wire.MAX_ITEMS]))

    def send_read(self, items: list[_wire.ReadItem], dests: list[memoryview] | None) -> asyncio.Future:
        """Send one READ frame; ``dests`` (TCP only) receive each item's data. The future gives a
        ``ReadResult`` per item."""
        return self._send(_wire.READ, len(items), [_wire.pack_reads(items)], _wire.READ_REPLY, dests)

    def send_write(self, item: _wire.WriteItem, data) -> asyncio.Future:
        """Send one WRITE frame: ``data`` inline over TCP (with its CRC32C in the item), or None when it
        waits in shared memory (no transit checksum). The future gives a ``WriteResult``."""
        parts = [item.pack()]
        if data is not None:
            parts.append(data)
        flags = _wire.FLAG_NO_CRC if data is None else 0
        return self._send(_wire.WRITE, 1, parts, _wire.WRITE_REPLY, flags=flags)

    def send_update(self, item: _wire.UpdateItem, data, flags: int = 0) -> asyncio.Future:
        """Send one UPDATE frame (a node forwarding along its chain); ``data``: the bytes, a list of byte
        buffers sent back to back, or None. The future gives an ``UpdateResult``."""
        parts = [item.pack()]
        if isinstance(data, list):
            parts += [d for d in data if len(d)]
        elif data is not None and len(data):
            parts.append(data)
        return self._send(_wire.UPDATE, 1, parts, _wire.UPDATE_REPLY, flags=flags)

    # -- receiving ---------------------------------------------------------------------------------

    def connection_made(self, transport):
        self.transport = transport

    def get_buffer(self, sizehint: int):
        return self._frames.get_buffer()

    def buffer_updated(self, nbytes: int) -> None:
        frames = self._frames
        try:
            frames.buffer_updated(nbytes)
            while (frame := frames.next_frame()) is not None:
                self._frame_done(frame)
        except (_wire.ProtocolError, struct.error) as exc:  # struct.error: a reply shorter than its layout
            self._abort(Unavailable(f"storage node {self.address} broke the data-plane protocol: {exc}"))

    def _head(self, header: _wire.Header, _buffered: int) -> int:
        """Of a READ_REPLY only the results are buffered: its data goes straight to the caller."""
        if header.type != _wire.READ_REPLY:
            return header.length
        size = header.count * _wire.READ_RESULT.size
        if header.length < size:
            raise _wire.ProtocolError("malformed READ_REPLY")
        return size

    def _place(self, header: _wire.Header, head: bytes) -> tuple[list, object]:
        """Where a READ_REPLY's data goes: each item's into its destination, or nowhere when nobody
        waits for it any more (an abandoned request)."""
        results = _wire.unpack_read_results(head)
        pending = self._pending.get(header.req_id)
        waiting = pending is not None and not pending.future.done()
        dests = pending.dests if pending is not None and waiting else None
        if waiting and dests is None:
            raise _wire.ProtocolError("READ_REPLY carries data for a shared-memory read")
        if dests is not None and len(dests) != len(results):
            raise _wire.ProtocolError("READ_REPLY does not fit the request")
        if sum([r.length for r in results]) != header.length - len(head):
            raise _wire.ProtocolError("READ_REPLY lengths do not add up")
        targets: list = []
        for i, r in enumerate(results):
            if r.length:
                if dests is not None and r.length > len(dests[i]):
                    raise _wire.ProtocolError("READ_REPLY does not fit the request")
                targets.append(dests[i][: r.length] if dests is not None else r.length)
        return targets, results

    def _complete(self, req_id: int, results: list) -> None:
        pending = self._pending.pop(req_id, None)
        if pending is not None and not pending.future.done():
            pending.future.set_result(results)

    def _frame_done(self, frame: _frames.Frame) -> None:
        header, payload = frame.header, frame.payload
        if header.type == _wire.READ_REPLY:
            if frame.placed is not None:  # the results, from _place
                self._complete(header.req_id, cast(list, frame.placed))
            else:  # no data followed the results (shared memory, or nothing read)
                self._complete(header.req_id, _wire.unpack_read_results(payload))
            return
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
                pending.future.set_result(_wire.WriteResult.unpack_from(payload))
            return
        if header.type == _wire.UPDATE_REPLY:
            pending = self._pending.pop(header.req_id, None)
            if pending is not None and not pending.future.done():
                pending.future.set_result(_wire.UpdateResult.unpack_from(payload))
            return
        raise _wire.ProtocolError(f"unexpected frame type {header.type}")

    def abort(self, exc: Exception) -> None:
        """Fail every request in flight with ``exc`` and drop the connection at once, with whatever it
        had not sent yet (a peer that stopped answering, a request given up while its data was still
        on its way: nothing of it may go out, or land in its buffers, once the caller reuses them)."""
        self._abort(exc)

    def _abort(self, exc: Exception) -> None:
        self._closed_exc = exc
        if self._hello_waiter is not None and not self._hello_waiter.done():
            self._hello_waiter.set_exception(exc)
        pending, self._pending = self._pending, {}
        for p in pending.values():
            if not p.future.done():
                p.future.set_exception(exc)
        if self.transport is not None:
            self.transport.abort()

    def connection_lost(self, exc):
        if self._closed_exc is None:
            self._abort(Unavailable(f"connection to storage node {self.address} lost"
                                    + (f": {exc}" if exc else "")))


async def _try_ucx(conn, cls, address: str, shm, ucx: str | None, tls) -> tuple[str, str | None, NodeConnection]:
    """("ucx", None, connection) over the node's UCX listener, else ("tcp", why not, a fresh one)."""
    if ucx is None:
        return "tcp", "disabled by this client (connect(ucx=False))", conn
    if tls is not None:
        return "tcp", "not used with TLS (UCX carries no TLS)" if ucx else None, conn
    if not ucx:
        return "tcp", "the node has no UCX listener", conn
    from . import _ucx

    ok, why = _ucx.available()
    if not ok:
        return "tcp", why, conn
    try:
        host, port = _ucx.split(ucx)
        await _ucx.connect(host, port, conn, address)
    except Exception as exc:  # noqa: BLE001 - any UCX failure: the framed TCP path serves instead
        return "tcp", f"unreachable ({type(exc).__name__}: {exc})", cls(address, shm)
    return "ucx", None, conn


class NodePool:
    """Up to ``size`` connections to one storage node; requests go to the least busy one."""

    def __init__(self, address: str, connect: Callable[[str], Awaitable[NodeConnection]], size: int = 2):
        self.address = address
        self._connect = connect
        self._size = size
        self._conns: list[NodeConnection] = []
        self._opening: asyncio.Task | None = None

    async def get(self) -> NodeConnection:
        conns = self._conns
        for c in conns:  # the common case: an idle, healthy connection
            if not c._pending and c.usable:
                return c
        self._conns = conns = [c for c in conns if c.usable]
        idle = min(conns, key=lambda c: c.in_flight, default=None)
        if idle is not None and (idle.in_flight == 0 or len(conns) >= self._size):
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

    @property
    def uses_shm(self) -> bool:
        """Whether a connection of the pool passes data through this host's shared memory."""
        return any(c.uses_shm for c in self._conns)

    def abort(self, exc: Exception) -> None:
        for c in self._conns:
            c.abort(exc)
        self._conns.clear()

    def close(self) -> None:
        for c in self._conns:
            c.close()
        self._conns.clear()
