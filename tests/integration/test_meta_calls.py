"""The meta server's framed call listener (docs/meta-calls.md) on a real cluster: clients use it for
namespace calls with the same results and errors as gRPC; it refuses bad tokens and malformed frames
without harming other connections; a server without it is served over gRPC."""

from __future__ import annotations

import errno
import random
import socket
import struct

import pytest
from _timing import wait_for
from _users import fresh_user

import fs3
from fs3 import _call_wire as wire
from fs3._auth import TOKEN_FILE, read_token_file
from fs3._errors import Status
from fs3.meta import MetaConfig, MetaServer
from fs3.meta.ops import DIRECTORY
from fs3.proto import meta_pb2


def _meta_channel(client):
    meta = client._async._meta
    return meta._channels[meta.address]


def _call_address(client) -> str:
    client.stat("/")
    ch = _meta_channel(client)
    assert ch.calls is not None and ch.calls.usable, "the client should use the framed listener"
    return ch.call_address


def _token(cluster) -> str:
    return read_token_file(cluster.data_dir / TOKEN_FILE)


class _Raw:
    """A bare socket speaking the protocol, for what a well-behaved client never sends."""

    def __init__(self, address: str):
        host, _, port = address.rpartition(":")
        self.sock = socket.create_connection((host, int(port)), timeout=10)

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def frame(self):
        """(type, req_id, payload) of the next frame, or None once the server closed the connection."""
        head = self._exactly(wire.HEADER_SIZE)
        if head is None:
            return None
        magic, version, frame_type, _f, _c, req_id, length = wire.HEADER.unpack(head)
        assert magic == wire.MAGIC and version == wire.VERSION
        return frame_type, req_id, self._exactly(length) or b""

    def _exactly(self, n: int):
        data = b""
        while len(data) < n:
            try:
                more = self.sock.recv(n - len(data))
            except ConnectionResetError:
                return None
            if not more:
                return None
            data += more
        return data

    def closed(self) -> bool:
        try:
            return self.sock.recv(1) == b""
        except ConnectionResetError:
            return True

    def close(self):
        self.sock.close()


def _hello(raw: _Raw, token: str) -> None:
    raw.send(wire.frame(wire.HELLO, token.encode()))
    assert raw.frame()[0] == wire.WELCOME


def _call(raw: _Raw, method: int, payload: bytes, req_id: int = 7):
    raw.send(wire.frame(wire.CALL, payload, count=method, req_id=req_id))
    return raw.frame()


def test_namespace_calls_use_the_framed_listener_with_grpc_results(cluster, client, workdir):
    address = _call_address(client)
    assert address and address != cluster.meta[0]
    client.write(f"{workdir}/f", b"hello")
    with fs3.connect(cluster.meta[0]) as plain:
        plain._async._meta.framed = False  # the same calls over gRPC
        for path in (workdir, f"{workdir}/f"):
            framed_stat, grpc_stat = client.stat(path), plain.stat(path)
            assert framed_stat == grpc_stat
        assert client.ls(workdir) == plain.ls(workdir) == ["f"]
        with pytest.raises(FileNotFoundError) as framed_err:
            client.stat(f"{workdir}/missing")
        with pytest.raises(FileNotFoundError) as grpc_err:
            plain.stat(f"{workdir}/missing")
        assert framed_err.value.filename == grpc_err.value.filename == f"{workdir}/missing"
        assert str(framed_err.value) == str(grpc_err.value)
        assert _meta_channel(plain).calls is None
    with pytest.raises(FileExistsError):
        client.mkdir(workdir)
    client.rename(f"{workdir}/f", f"{workdir}/g")
    assert client.read(f"{workdir}/g") == b"hello"


def test_a_user_without_permission_is_refused_over_the_listener(cluster, client, workdir):
    client.mkdir(f"{workdir}/private", mode=0o700)
    _info, token = fresh_user(client, "carol", uid=5151)
    with fs3.connect(cluster.meta[0], token=token) as carol:
        assert _call_address(carol)
        with pytest.raises(PermissionError) as info:
            carol.mkdir(f"{workdir}/private/x")
        assert info.value.errno == errno.EACCES
    assert client.ls(f"{workdir}/private") == []


def test_the_listener_refuses_a_connection_without_a_valid_token(cluster, client):
    address = _call_address(client)
    for token in ("", "fs3_wrong"):
        raw = _Raw(address)
        raw.send(wire.frame(wire.HELLO, token.encode()))
        frame_type, _req, payload = raw.frame()
        assert frame_type == wire.ERROR
        assert wire.decode_error(payload)[0] == Status.PERMISSION_DENIED
        assert raw.closed()
        raw.close()
    raw = _Raw(address)  # a call before HELLO: refused, connection closed, nothing done
    raw.send(wire.frame(wire.CALL, meta_pb2.MkdirRequest(path="/sneaky").SerializeToString(),
                        count=wire.NUMBER["Mkdir"], req_id=1))
    assert raw.frame()[0] == wire.ERROR and raw.closed()
    raw.close()
    assert not client.exists("/sneaky")
    # Before HELLO, a frame is judged by its header: a large HELLO or a call is refused before its
    # payload comes (only the header is sent here), so no unauthenticated peer makes the server buffer it.
    for frame_type, length in ((wire.HELLO, wire.MAX_TOKEN + 1), (wire.CALL, wire.MAX_PAYLOAD)):
        raw = _Raw(address)
        raw.send(struct.pack("<2sBBHHII", wire.MAGIC, wire.VERSION, frame_type, 0, 0, 1, length))
        got, _req, payload = raw.frame()
        assert got == wire.ERROR and wire.decode_error(payload)[0] == Status.INVALID_ARGUMENT
        assert raw.closed()
        raw.close()


def test_bad_requests_fail_alone_and_bad_frames_close_only_their_connection(cluster, client, workdir):
    address = _call_address(client)
    token = _token(cluster)
    raw = _Raw(address)
    _hello(raw, token)
    frame_type, req_id, payload = _call(raw, 200, b"")  # unknown method: that call fails, connection lives
    assert (frame_type, req_id) == (wire.ERROR, 7) and wire.decode_error(payload)[0] == Status.INVALID_ARGUMENT
    frame_type, _r, payload = _call(raw, wire.NUMBER["Stat"], b"\xff\xff\xff garbage")
    assert frame_type == wire.ERROR and wire.decode_error(payload)[0] == Status.INVALID_ARGUMENT
    frame_type, _r, payload = _call(raw, wire.NUMBER["Stat"], meta_pb2.StatRequest(path=workdir).SerializeToString())
    assert frame_type == wire.REPLY and meta_pb2.StatReply.FromString(payload).inode.type == DIRECTORY
    frame_type, _r, payload = _call(raw, wire.NUMBER["Mkdir"], meta_pb2.MkdirRequest(path=f"{workdir}/a/\0b").SerializeToString())
    assert frame_type == wire.ERROR and wire.decode_error(payload)[0] == Status.INVALID_ARGUMENT
    raw.close()

    bad_frames = [
        b"GARBAGE!" * 4,                                                  # bad magic
        struct.pack("<2sBBHHII", wire.MAGIC, 9, wire.CALL, 0, 0, 1, 0),    # unknown version
        struct.pack("<2sBBHHII", wire.MAGIC, 1, 99, 0, 0, 1, 0),           # unknown type
        struct.pack("<2sBBHHII", wire.MAGIC, 1, wire.CALL, 0, 0, 1, wire.MAX_PAYLOAD + 1),  # oversized
        wire.frame(wire.REPLY, b"x", req_id=3),                            # a reply from a client
    ]
    for bad in bad_frames:
        raw = _Raw(address)
        _hello(raw, token)
        raw.send(bad)
        frame_type, _r, payload = raw.frame()
        assert frame_type == wire.ERROR and wire.decode_error(payload)[0] == Status.INVALID_ARGUMENT
        assert raw.closed()
        raw.close()

    rng = random.Random(5)  # fuzz: thousands of random and mutated frames, then the server still serves
    good = wire.frame(wire.CALL, meta_pb2.StatRequest(path="/").SerializeToString(), count=0, req_id=1)
    for i in range(60):
        raw = _Raw(address)
        if i % 2:
            _hello(raw, token)
        blob = bytearray()
        for _ in range(50):
            kind = rng.random()
            if kind < 0.4:
                frame = bytearray(good)
                for _ in range(rng.randint(1, 4)):
                    frame[rng.randrange(len(frame))] = rng.randrange(256)
            elif kind < 0.7:
                frame = bytearray(rng.randbytes(rng.randint(1, 64)))
            else:
                frame = bytearray(wire.frame(wire.CALL, rng.randbytes(rng.randint(0, 200)),
                                             count=rng.randrange(20), req_id=rng.randrange(1 << 32)))
            blob += frame
        try:
            raw.send(bytes(blob))
            raw.sock.settimeout(2)
            while raw.frame() is not None:
                pass
        except (OSError, AssertionError):
            pass
        raw.close()
    assert client.stat(workdir).is_dir
    assert _call_address(client)


def test_a_meta_server_without_the_listener_is_served_over_grpc(tmp_path):
    token_file = tmp_path / "admin.token"
    server = MetaServer(MetaConfig(kv=f"sqlite:///{tmp_path}/meta.db", calls="off", admin_token_file=token_file))
    server.start()
    try:
        assert server.call_address == ""
        with fs3.connect(server.address, token=read_token_file(token_file)) as c:
            c.mkdir("/plain")
            assert c.stat("/plain").is_dir
            assert _meta_channel(c).calls is None and _meta_channel(c).call_address == ""
            status = c.meta_call_status()
            assert status["namespace_calls"] == "grpc" and "--calls off" in status["why_not"]
    finally:
        server.stop()


def test_a_file_closed_unwritten_ends_its_session_without_a_wait(tmp_path):
    from fs3.meta import _keys as keys
    from fs3.proto import cluster_pb2

    token_file = tmp_path / "admin.token"
    server = MetaServer(MetaConfig(kv=f"sqlite:///{tmp_path}/meta.db", admin_token_file=token_file))
    server.kv.transact(lambda t: t.set(keys.chain_table(1), cluster_pb2.ChainTable(
        id=1, version=1, chains=[1]).SerializeToString()))  # a placement for new files; no data is written
    server.start()

    def sessions() -> int:
        begin, end = keys.prefix_range(keys.SESSION)
        return len(server.kv.transact(lambda t: t.get_range(begin, end), readonly=True))

    try:
        with fs3.connect(server.address, token=read_token_file(token_file)) as c:
            for i in range(20):
                c.open(f"/f{i}", "wb").close()
            assert sessions() == 1  # each open carried the release of the session before it
            assert [c.stat(f"/f{i}").size for i in range(20)] == [0] * 20
            wait_for(lambda: sessions() == 0, what="the last release")  # it goes alone, soon
            with pytest.raises(FileExistsError):  # a failed open keeps its releases for later
                c.open("/f5", "xb")
            c.open("/g", "wb").close()
            with pytest.raises(FileExistsError):
                c.open("/g", "xb")
        assert sessions() == 0  # every release reached meta before the client closed
    finally:
        server.stop()


def test_an_open_that_must_truncate_leaves_the_group_for_the_pool(cluster, client, workdir):
    """Two opens of one new path in one pass of meta's loop: the first creates it, so the second must
    truncate an existing file (calls to storage nodes), which it does off the group commit."""
    address = _call_address(client)
    raw = _Raw(address)
    _hello(raw, _token(cluster))
    path = f"{workdir}/raced"
    create = meta_pb2.OpenRequest(path=path, write=True, create=True, request_id="race-1")
    truncate = meta_pb2.OpenRequest(path=path, write=True, create=True, truncate=True, request_id="race-2")
    raw.send(wire.frame(wire.CALL, create.SerializeToString(), count=wire.NUMBER["Open"], req_id=1)
             + wire.frame(wire.CALL, truncate.SerializeToString(), count=wire.NUMBER["Open"], req_id=2))
    replies = {}
    for _ in range(2):
        frame_type, req_id, payload = raw.frame()
        assert frame_type == wire.REPLY, wire.decode_error(payload)
        replies[req_id] = meta_pb2.OpenReply.FromString(payload)
    raw.close()
    assert replies[1].inode.id == replies[2].inode.id and replies[1].session != replies[2].session
    assert client.stat(path).size == 0


def test_concurrent_first_calls_share_one_framed_connection(tmp_path):
    import asyncio

    token_file = tmp_path / "admin.token"
    server = MetaServer(MetaConfig(kv=f"sqlite:///{tmp_path}/meta.db", admin_token_file=token_file))
    server.start()

    async def main():
        async with await fs3.aconnect(server.address, token=read_token_file(token_file)) as c:
            await asyncio.gather(*(c.stat("/") for _ in range(50)))
            assert len(server.calls.connections) == 1

    try:
        asyncio.run(main())
        wait_for(lambda: not server.calls.connections, what="the connection to close with the client")
    finally:
        server.stop()
