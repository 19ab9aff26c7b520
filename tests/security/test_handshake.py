"""Bounded work before authentication (issue 15, item 5), on a storage node's data plane and on meta's
framed call listener, each a real server in a process of its own (tests/security/_listener.py),
attacked through raw sockets:

- 100 connections that send a maximal HELLO with a bogus token, 100 that send all of one but its last
  byte and 100 that stay idle raise the server's resident memory by less than 50 MB, and a real client
  is served meanwhile;
- a HELLO longer than allowed is refused by its header, before its payload is sent;
- a connection that has not authenticated within the handshake deadline (idle, or a HELLO trickled
  short) is sent an ERROR that says so and closed, while an authenticated one stays;
- beyond the connection cap a new connection gets an ERROR that names the cap and is closed, while the
  connections open (authenticated clients) keep working, and a freed place is taken again.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import select
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from _data_node import MiB, hello, token
from _timing import wait_for

import fs3
from fs3 import _call_wire, _frames, _wire
from fs3._data_client import NodeConnection
from fs3._errors import Status, Unavailable
from fs3.client._calls import CallConnection
from fs3.proto import meta_pb2

LISTENER = Path(__file__).with_name("_listener.py")
KINDS = ["data", "meta"]
PEERS = 100      # connections of each kind of attack
MEMORY = 50e6    # bytes they may add to the server's resident memory, all together
DEADLINE = 2.0   # the handshake deadline where a test waits for it
CAP = 4          # the connection cap where a test reaches it


class Listener:
    """A data-plane or meta listener in a child process (see _listener.py), and how to speak to it."""

    def __init__(self, kind: str, path: Path, *, deadline: float, cap: int, env: dict | None = None):
        self.kind = kind
        self.framing = _wire.FRAMING if kind == "data" else _call_wire.FRAMING
        self.log = path / f"{kind}.log"
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen([sys.executable, str(LISTENER), kind, str(path), str(deadline), str(cap)],
                                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, env=env)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        assert line, f"the {kind} listener did not start:\n{self.log.read_text()}"
        self.info = json.loads(line)
        host, _, port = self.info["address" if kind == "data" else "call_address"].rpartition(":")
        self.address = (host, int(port))

    def stop(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def rss(self) -> int:
        """The server process's resident memory, in bytes."""
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        raise AssertionError("no VmRSS")

    # -- what a peer sends -------------------------------------------------------------------------

    def connect(self) -> socket.socket:
        sock = socket.create_connection(self.address, timeout=60)
        return sock

    def good_hello(self) -> bytes:
        if self.kind == "data":
            return hello()
        return _call_wire.frame(_call_wire.HELLO, self.info["root"].encode())

    def maximal_hello(self) -> bytes:
        """The largest HELLO the listener takes, with a token that is no token."""
        if self.kind == "data":
            frame = _wire.encode_hello(_wire.Hello(token=os.urandom(_wire.MAX_TOKEN), offer=_wire.TRANSPORT_TCP,
                                                   shm_name="s" * _wire.MAX_NAME, client="c" * _wire.MAX_NAME))
            assert len(frame) == _wire.HEADER_SIZE + _wire.MAX_HELLO
            return frame
        return _call_wire.frame(_call_wire.HELLO, b"t" * _call_wire.MAX_TOKEN)

    def hello_limit(self) -> int:
        return _wire.MAX_HELLO if self.kind == "data" else _call_wire.MAX_TOKEN

    def authenticated(self) -> socket.socket:
        sock = self.connect()
        sock.sendall(self.good_hello())
        frame_type, payload = self.next_frame(sock)
        assert frame_type == _wire.WELCOME, self.error(payload) if frame_type == _wire.ERROR else frame_type
        return sock

    def works(self, sock: socket.socket) -> None:
        """One request on an authenticated connection, answered."""
        if self.kind == "data":
            body = _wire.pack_reads([_wire.ReadItem(1, 1, 7, 0, 0, 4096)])
            sock.sendall(_wire.pack_header(_wire.READ, 1, 5, len(body)) + body)
            frame_type, payload = self.next_frame(sock)
            assert frame_type == _wire.READ_REPLY
            [result] = _wire.unpack_read_results(payload[: _wire.READ_RESULT.size])
            assert result.status == Status.OK, result
        else:
            request = meta_pb2.StatRequest(path="/").SerializeToString()
            sock.sendall(_call_wire.frame(_call_wire.CALL, request, count=_call_wire.NUMBER["Stat"], req_id=5))
            frame_type, payload = self.next_frame(sock)
            assert frame_type == _call_wire.REPLY, self.error(payload)

    # -- what comes back ---------------------------------------------------------------------------

    def next_frame(self, sock: socket.socket) -> tuple[int, bytes]:
        head = _exactly(sock, _frames.HEADER_SIZE)
        header = self.framing.parse_header(head)
        return header.type, _exactly(sock, header.length)

    def error(self, payload: bytes) -> tuple[int, str]:
        if self.kind == "data":
            return _wire.decode_error(payload)
        status, message, _path = _call_wire.decode_error(payload)
        return status, message

    def refusal(self, sock: socket.socket) -> tuple[int, str]:
        """The status and message of the ERROR frame the server sent before it closed the connection
        (waits for the close)."""
        data = _until_closed(sock)
        reader = _frames.FrameReader(self.framing)
        reader.feed(data)
        frames = list(reader)
        assert len(frames) == 1 and frames[0].header.type == _wire.ERROR, f"not one ERROR frame: {data[:200]!r}"
        return self.error(frames[0].payload)

    async def client_connects(self) -> None:
        """The client library's connection, opened and closed (its error when refused)."""
        address = f"{self.address[0]}:{self.address[1]}"
        if self.kind == "data":
            conn = await NodeConnection.open(address, token(), None, "test")
        else:
            conn = await CallConnection.open(address, self.info["root"])
        conn.close()

    def real_client_is_served(self) -> None:
        if self.kind == "data":  # as the client library does it (HELLO, and what covers the chunk)
            with self.authenticated() as sock:
                body = _wire.pack_reads([_wire.ReadItem(1, 1, 7, 0, 0, MiB)])
                sock.sendall(_wire.pack_header(_wire.READ, 1, 6, len(body)) + body)
                frame_type, payload = self.next_frame(sock)
                assert frame_type == _wire.READ_REPLY
                [result] = _wire.unpack_read_results(payload[: _wire.READ_RESULT.size])
                assert result.status == Status.OK and result.length == MiB, result
                assert hashlib.sha256(payload[_wire.READ_RESULT.size :]).hexdigest() == self.info["blob_sha256"]
        else:
            with fs3.connect(self.info["address"], token=self.info["root"]) as client:
                assert client.meta_call_status()["namespace_calls"] == "framed"
                assert client.stat("/").is_dir


def _exactly(sock: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        more = sock.recv(n - len(data))
        assert more, "the server closed the connection"
        data += more
    return data


def _until_closed(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection (the socket's timeout bounds the wait)."""
    data = b""
    try:
        while more := sock.recv(1 << 16):
            data += more
    except ConnectionResetError:  # (closed with our bytes unread: after what it sent)
        pass
    return data


def _heard_from(sock: socket.socket) -> bool:
    """Whether the server sent anything on ``sock``, or closed it (it says nothing to a peer it holds)."""
    readable, _, _ = select.select([sock], [], [], 0)
    return bool(readable)


@pytest.fixture
def listener(request, tmp_path):
    """A listener of the parametrized kind with a short handshake deadline and a small cap."""
    server = Listener(request.param, tmp_path, deadline=DEADLINE, cap=CAP)
    yield server
    server.stop()


def rss_growth(server: Listener) -> int:
    """Resident bytes that PEERS bogus maximal HELLOs, PEERS HELLOs short of their last byte and PEERS
    idle connections add to ``server``; a real client is served while they are all open."""
    server.real_client_is_served()  # (what serving anyone allocates once is not the peers')
    before = server.rss()
    held: list[socket.socket] = []
    try:
        maximal = server.maximal_hello()
        for _ in range(PEERS):
            held.append(server.connect())  # idle
        for _ in range(PEERS):
            sock = server.connect()
            sock.sendall(maximal[:-1])  # the server holds what it has of the HELLO, waiting for the rest
            held.append(sock)
        for _ in range(PEERS):
            with server.connect() as sock:  # (taken in the order they came: after all the above)
                sock.sendall(maximal)
                status, message = server.refusal(sock)
                assert status == Status.PERMISSION_DENIED, message
        grown = server.rss() - before
        server.real_client_is_served()
        assert not any(_heard_from(sock) for sock in held)  # all of them were still held while measured
        return grown
    finally:
        for sock in held:
            sock.close()


@pytest.mark.parametrize("kind", KINDS)
def test_peers_without_a_token_take_little_memory(tmp_path, kind):
    server = Listener(kind, tmp_path, deadline=600, cap=1024)
    try:
        grown = rss_growth(server)
    finally:
        server.stop()
    assert grown < MEMORY, f"{3 * PEERS} unauthenticated connections took {grown / 1e6:.1f} MB"


@pytest.mark.parametrize("listener", KINDS, indirect=True)
def test_an_oversized_hello_is_refused_by_its_header(listener):
    for length in (listener.hello_limit() + 1, listener.framing.max_payload):
        with listener.connect() as sock:
            sock.sendall(listener.framing.pack_header(_wire.HELLO, 0, 0, length))  # the header alone
            status, message = listener.refusal(sock)
            assert status == Status.INVALID_ARGUMENT
            assert "HELLO" in message and str(length) in message, message
    with listener.authenticated() as sock:
        listener.works(sock)


@pytest.mark.parametrize("listener", KINDS, indirect=True)
def test_a_connection_that_does_not_authenticate_in_time_is_closed(listener):
    with listener.authenticated() as good, listener.connect() as idle, listener.connect() as slow:
        slow.sendall(listener.maximal_hello()[:100])  # a HELLO begun, never finished
        for sock in (idle, slow):
            status, message = listener.refusal(sock)  # waits for the close: no sleep
            assert status == Status.TIMEOUT
            assert f"no accepted HELLO within {DEADLINE:g} s" in message and "handshake deadline" in message
        listener.works(good)  # past the deadline: an authenticated connection stays


@pytest.mark.parametrize("listener", KINDS, indirect=True)
def test_a_connection_beyond_the_cap_is_refused_and_the_others_keep_working(listener):
    open_ = [listener.authenticated() for _ in range(CAP)]
    try:
        with listener.connect() as extra:
            extra.sendall(listener.good_hello())  # a valid token changes nothing
            status, message = listener.refusal(extra)
        assert status == Status.UNAVAILABLE
        assert f"too many connections to this {'node' if listener.kind == 'data' else 'meta server'} ({CAP})" \
            in message
        with pytest.raises(Unavailable, match=rf"too many connections to this .*\({CAP}\)"):  # at once
            asyncio.run(listener.client_connects())
        for sock in open_:
            listener.works(sock)
        # A place freed is taken again (the listener kept accepting through the refusals).
        open_.pop().close()
        open_.append(wait_for(lambda: _try_authenticate(listener), what="a freed place to be taken"))
        listener.works(open_[-1])
    finally:
        for sock in open_:
            sock.close()


def _try_authenticate(listener: Listener) -> socket.socket | None:
    """An authenticated connection, or None while the server still refuses for the cap."""
    sock = listener.connect()
    sock.sendall(listener.good_hello())
    frame_type, payload = listener.next_frame(sock)
    if frame_type == _wire.WELCOME:
        return sock
    sock.close()
    assert listener.error(payload)[0] == Status.UNAVAILABLE
    return None
