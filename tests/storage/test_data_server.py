"""A real DataServer (in this process, on its own uvloop thread, over a real target) attacked through real
sockets: a peer that never reads its replies cannot grow the node's memory, and a listener that runs
out of file descriptors keeps serving once they are back."""

from __future__ import annotations

import asyncio
import logging
import os
import resource
import socket
import threading

import pytest
from _data_node import DataNode, MiB, hello
from _timing import wait_for

from fs3 import _frames, _wire
from fs3._errors import Status
from fs3.storage._client_session import ClientSession

READS = 20_000  # 4 KiB each: 80 MiB of replies if the node answered them all into its write buffer
BOUND = 1 * MiB  # what the node may hold for a peer that does not read (its high-water mark is 64 KiB)


@pytest.fixture
def node(tmp_path):
    node = DataNode(tmp_path)
    yield node
    node.stop()


def _receive(sock: socket.socket, reader: _frames.FrameReader, count: int) -> list[_frames.Frame]:
    frames: list[_frames.Frame] = []
    while len(frames) < count:
        data = sock.recv(1 << 20)
        assert data, f"connection closed after {len(frames)} of {count} frames"
        reader.feed(data)
        frames += list(reader)
    return frames


def test_a_peer_that_never_reads_its_replies_cannot_grow_the_nodes_memory(node):
    ctx, address = node.ctx, node.address
    # Small socket buffers both ways, so that the requests cannot all wait in the kernel: the node
    # must take them, or leave the sender blocked.
    node.server._sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 << 10)  # accepted sockets inherit it
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 << 10)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 64 << 10)
    sock.connect(address)
    sock.settimeout(60)
    reader = _frames.FrameReader(_wire.FRAMING)
    sock.sendall(hello())
    [welcome] = _receive(sock, reader, 1)
    assert welcome.header.type == _wire.WELCOME

    body = _wire.pack_reads([_wire.ReadItem(1, 1, 7, 0, 0, 4096)])
    requests = b"".join(_wire.pack_header(_wire.READ, 1, i + 1, len(body)) + body for i in range(READS))
    sender = threading.Thread(target=sock.sendall, args=(requests,))
    sender.start()  # blocks once the node stops reading: the peer is not reading either
    [session] = wait_for(lambda: list(ctx.sessions), what="the session")
    wait_for(lambda: (session.write_paused and session.reading_paused) or not sender.is_alive(),
             what="the node to stop reading while its replies wait")
    assert sender.is_alive(), "the node took every request although none of their replies was read"

    def held() -> tuple[int, int]:
        return session.transport.get_write_buffer_size(), ctx.stats.reads

    buffered, served = node.on_loop(held)
    assert buffered <= BOUND, f"{buffered} bytes of replies buffered for a peer that does not read"
    assert served < READS  # it stopped taking requests
    assert ctx.stats.write_pauses >= 1

    # Once the peer reads, every request is answered (in any order: some may have gone to the pool).
    replies = _receive(sock, reader, READS)
    sender.join()
    assert sorted(f.header.req_id for f in replies) == list(range(1, READS + 1))
    assert all(f.header.type == _wire.READ_REPLY for f in replies)
    assert all(_wire.unpack_read_results(f.payload[:16]) == [_wire.ReadResult(0, 4096, 1, MiB)]
               and f.payload[16:] == node.blob[:4096] for f in replies)
    # The connection now idles: the pooled buffers its replies were sent from go back to the pool, though
    # no further reply or resume_writing comes to say the transport drained.
    wait_for(lambda: node.on_loop(lambda: not session._held), what="the replies' buffers back in the pool")
    sock.close()


def _lowest_free_fd() -> int:
    used = {int(fd) for fd in os.listdir("/proc/self/fd")}
    return next(fd for fd in range(len(used) + 1) if fd not in used)


def test_the_listener_keeps_accepting_after_running_out_of_descriptors(node, caplog):
    ctx, address = node.ctx, node.address
    caplog.set_level(logging.WARNING)
    clients = [socket.socket() for _ in range(3)]  # made while descriptors can still be had
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (_lowest_free_fd(), hard))  # no new descriptor from here
    try:
        for c in clients:
            c.connect(address)  # the kernel completes the handshake; the node's accept() gets EMFILE
        wait_for(lambda: ctx.stats.accept_errors >= 3, what="accept to fail (and be retried) a few times")
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    failing = [r for r in caplog.records if "accepting connections fails" in r.getMessage()]
    assert len(failing) == 1, "logged once, not at every retry"

    # The connections that waited, and a new one, are served.
    clients.append(socket.create_connection(address))
    for c in clients:
        c.settimeout(60)
        c.sendall(hello())
        [welcome] = _receive(c, _frames.FrameReader(_wire.FRAMING), 1)
        assert welcome.header.type == _wire.WELCOME
        c.close()
    wait_for(lambda: any("accepting connections again" in r.getMessage() for r in caplog.records),
             what="the listener to say it recovered")


def test_a_connection_that_cannot_be_set_up_is_logged_and_closed(node, caplog):
    """A failure to hand an accepted connection to its loop is surfaced, not lost with its future."""
    server, ctx, address = node.server, node.ctx, node.address

    def broken(*_args, **_kw):
        raise RuntimeError("no session for you")

    real = server._hand_over.__globals__["ClientSession"]
    server._hand_over.__globals__["ClientSession"] = broken
    try:
        with socket.create_connection(address) as c:
            c.settimeout(60)
            assert c.recv(1) == b""  # closed by the node
    finally:
        server._hand_over.__globals__["ClientSession"] = real
    wait_for(lambda: ctx.stats.accept_errors >= 1)
    assert any("could not serve an accepted connection" in r.getMessage() for r in caplog.records)
    with socket.create_connection(address) as c:  # and the next one is served
        c.settimeout(60)
        c.sendall(hello())
        assert _receive(c, _frames.FrameReader(_wire.FRAMING), 1)[0].header.type == _wire.WELCOME


class _SlowTransport:
    """A transport whose write buffer drains when the test says so (a real one says it is below its
    low-water mark, never that it is empty)."""

    def __init__(self):
        self.buffered = 0
        self.written: list = []

    def write(self, data) -> None:
        self.written.append(data)
        self.buffered += len(data)

    def get_write_buffer_size(self) -> int:
        return self.buffered

    def is_closing(self) -> bool:
        return False

    def get_extra_info(self, _name):
        return ("127.0.0.1", 1)


def test_reply_buffers_go_back_once_sent_though_the_connection_idles(node):
    """Replies sent from pooled buffers keep them until the transport has sent everything; a connection
    that goes idle with bytes still queued gets them back without another reply coming."""
    async def main():
        session = ClientSession(node.ctx)
        transport = _SlowTransport()
        session.connection_made(transport)
        buf = node.ctx.buffers.acquire(1 << 20)
        session._reply([b"x" * 100], [buf])
        assert session._held == [buf]      # queued, not yet sent
        transport.buffered = 10            # below the low-water mark, but not empty
        session.resume_writing()
        assert session._held == [buf]
        transport.buffered = 0             # sent; nothing else happens on this connection
        await wait_async(lambda: not session._held)
        session.connection_lost(None)

    async def wait_async(predicate):
        for _ in range(6000):  # a minute: the check runs on this loop, whatever the machine's load
            if predicate():
                return
            await asyncio.sleep(0.01)
        raise AssertionError("the held buffers were not given back")

    asyncio.run(main())


def _connect(node) -> tuple[socket.socket, _frames.FrameReader]:
    sock = socket.create_connection(node.address, timeout=60)
    return sock, _frames.FrameReader(_wire.FRAMING)


def test_an_oversized_hello_is_refused_by_its_header(node):
    """Before authentication a peer gets no buffer: a HELLO longer than any valid one is refused from its
    header, without the node waiting for (and holding) its payload."""
    sock, reader = _connect(node)
    sock.sendall(_wire.pack_header(_wire.HELLO, 0, 0, _wire.MAX_HELLO + 1))  # and no payload
    [error] = _receive(sock, reader, 1)
    assert error.header.type == _wire.ERROR
    assert _wire.decode_error(error.payload)[0] == Status.INVALID_ARGUMENT
    assert sock.recv(1) == b""  # closed
    sock.close()


def test_an_unchecked_write_is_refused_unless_its_data_is_in_shared_memory(node):
    """FLAG_NO_CRC says the data never left the writer's memory (shared memory): data that came over a
    socket is always checked, also a large write the node received into an aligned buffer."""
    sock, reader = _connect(node)
    sock.sendall(hello())
    assert _receive(sock, reader, 1)[0].header.type == _wire.WELCOME
    data = os.urandom(256 << 10)
    item = _wire.WriteItem(1, 1, 9, 0, 0, len(data), MiB, 0)  # crc 0: wrong, and not checked if let through
    body = item.pack() + data
    sock.sendall(_wire.pack_header(_wire.WRITE, 1, 5, len(body), _wire.FLAG_NO_CRC) + body)
    [error] = _receive(sock, reader, 1)
    assert error.header.type == _wire.ERROR
    status, message = _wire.decode_error(error.payload)
    assert status == Status.INVALID_ARGUMENT and "shm only" in message
    assert node.target.store.query(9, 0) is None  # nothing was written
    sock.close()
