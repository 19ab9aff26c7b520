"""meta's two boundaries give one answer: a call through the framed listener and the same call over
gRPC get the same reply, or the same error (status, errno, message, path); per-call authentication
and per-method counters hold on the listener."""

from __future__ import annotations

import errno
import socket

import grpc
import pytest
from _timing import wait_for

import fs3
from fs3 import _call_wire as wire
from fs3._auth import bearer, read_token_file
from fs3._errors import Status, error_for
from fs3._rpc import error_from_rpc
from fs3.meta import MetaConfig, MetaServer, ops
from fs3.meta import _keys as keys
from fs3.proto import cluster_pb2, meta_pb2, meta_pb2_grpc


class Framed:
    """A bare framed connection: HELLO, then one call at a time."""

    def __init__(self, address: str, token: str):
        host, _, port = address.rpartition(":")
        self.sock = socket.create_connection((host, int(port)), timeout=10)
        self.sock.sendall(wire.frame(wire.HELLO, token.encode()))
        assert self._frame()[0] == wire.WELCOME

    def call(self, name: str, request):
        """The reply message, or (status, message, path) of the ERROR frame."""
        self.sock.sendall(wire.frame(wire.CALL, request.SerializeToString(), count=wire.NUMBER[name], req_id=9))
        frame_type, req_id, payload = self._frame()
        assert req_id == 9
        if frame_type == wire.ERROR:
            return wire.decode_error(payload)
        assert frame_type == wire.REPLY
        return wire.REPLIES[name].FromString(payload)

    def _frame(self):
        head = self._exactly(wire.HEADER_SIZE)
        _magic, _version, frame_type, _flags, _count, req_id, length = wire.HEADER.unpack(head)
        return frame_type, req_id, self._exactly(length)

    def _exactly(self, n: int) -> bytes:
        data = b""
        while len(data) < n:
            more = self.sock.recv(n - len(data))
            assert more, "the server closed the connection"
            data += more
        return data

    def close(self) -> None:
        self.sock.close()


def _grpc_call(address: str, token: str, name: str, request):
    """The reply message, or (status, message, path) of the error, over gRPC."""
    with grpc.insecure_channel(address) as channel:
        try:
            return getattr(meta_pb2_grpc.MetaStub(channel), name)(request, metadata=bearer(token), timeout=10)
        except grpc.RpcError as err:
            exc = error_from_rpc(err)
            return int(exc.status), exc.strerror, exc.filename


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A meta server on SQLite with /private (root's, 0700) holding a file, and a user carol."""
    tmp = tmp_path_factory.mktemp("meta")
    token_file = tmp / "admin.token"
    srv = MetaServer(MetaConfig(kv=f"sqlite:///{tmp}/meta.db", admin_token_file=token_file))
    srv.kv.transact(lambda t: t.set(keys.chain_table(1), cluster_pb2.ChainTable(
        id=1, version=1, chains=[1]).SerializeToString()))  # a placement for new files; no data is written
    srv.start()
    root = read_token_file(token_file)
    with fs3.connect(srv.address, token=root) as admin:
        admin.mkdir("/private", mode=0o700)
        admin.open("/private/f", "wb").close()
        _info, srv.carol = admin.add_user("carol", uid=5151)
    srv.root = root
    yield srv
    srv.stop()


REFUSED = [
    ("Stat", meta_pb2.StatRequest(path="/private/f")),
    ("ReadLink", meta_pb2.ReadLinkRequest(path="/private/f")),
    ("Mkdir", meta_pb2.MkdirRequest(path="/private/x")),
    ("Open", meta_pb2.OpenRequest(path="/private/f", write=True)),
    ("ReadDir", meta_pb2.ReadDirRequest(path="/private")),
    ("Remove", meta_pb2.RemoveRequest(path="/private/f")),
    ("Rename", meta_pb2.RenameRequest(src="/private/f", dst="/g")),
    ("Truncate", meta_pb2.TruncateRequest(path="/private/f", length=0)),
    ("SetAttr", meta_pb2.SetAttrRequest(path="/", set_mode=True, mode=0o777)),
    ("Link", meta_pb2.LinkRequest(src="/private/f", dst="/l")),
    ("Symlink", meta_pb2.SymlinkRequest(target="x", path="/private/s")),
]


@pytest.mark.parametrize(("name", "request_"), REFUSED, ids=[r[0] for r in REFUSED])
def test_a_permission_failure_is_the_same_error_both_ways(server, name, request_):
    framed = Framed(server.call_address, server.carol)
    try:
        by_frame = framed.call(name, request_)
    finally:
        framed.close()
    by_grpc = _grpc_call(server.address, server.carol, name, request_)
    assert by_frame == by_grpc
    status, message, path = by_frame
    assert status in (Status.PERMISSION_DENIED, Status.NOT_PERMITTED) and path
    expected = errno.EPERM if name == "SetAttr" else errno.EACCES
    assert error_for(status, message, path).errno == expected


ANSWERED = [
    ("Stat", meta_pb2.StatRequest(path="/")),
    ("BatchStat", meta_pb2.BatchStatRequest(paths=["/", "/private/f", "/nope"])),
    ("ReadDir", meta_pb2.ReadDirRequest(path="/", with_inodes=True)),
    ("StatFs", meta_pb2.StatFsRequest()),
    ("RenewSessions", meta_pb2.RenewSessionsRequest(inodes=[5], sessions=[7])),
]


@pytest.mark.parametrize(("name", "request_"), ANSWERED, ids=[r[0] for r in ANSWERED])
def test_a_call_gets_the_same_reply_both_ways(server, name, request_):
    framed = Framed(server.call_address, server.carol)
    try:
        by_frame = framed.call(name, request_)
    finally:
        framed.close()
    by_grpc = _grpc_call(server.address, server.carol, name, request_)
    assert isinstance(by_frame, ops.OPERATIONS[name].reply)
    assert by_frame == by_grpc


def test_every_framed_call_is_counted_by_its_method(server):
    def counted(name: str) -> tuple[int, int]:
        c = server.counters.snapshot().get(name)
        return (c.frames, c.errors) if c else (0, 0)

    framed = Framed(server.call_address, server.carol)
    try:
        before_stat, before_mkdir = counted("Stat"), counted("Mkdir")
        framed.call("Stat", meta_pb2.StatRequest(path="/"))
        framed.call("Mkdir", meta_pb2.MkdirRequest(path="/private/y"))
        assert counted("Stat") == (before_stat[0] + 1, before_stat[1])
        assert counted("Mkdir") == (before_mkdir[0] + 1, before_mkdir[1] + 1)
    finally:
        framed.close()


def test_a_revoked_token_stops_working_on_an_open_connection(server):
    with fs3.connect(server.address, token=server.root) as admin:
        _info, token = admin.add_user("dave", uid=5252)
        framed = Framed(server.call_address, token)
        try:
            assert framed.call("Stat", meta_pb2.StatRequest(path="/")).inode.id == ops.ROOT
            admin.remove_user("dave")
            # the server's credential cache forgets within seconds
            answer = wait_for(lambda: _refused(framed.call("Stat", meta_pb2.StatRequest(path="/"))),
                              what="the revoked token to be refused")
            assert answer[0] == Status.PERMISSION_DENIED
        finally:
            framed.close()


def _refused(answer):
    """The error tuple of a framed call's answer, or None for a reply."""
    return answer if isinstance(answer, tuple) else None


def test_a_flood_of_one_user_does_not_hold_back_another_users_call(server):
    """The attack: a user puts thousands of creates on the wire at once; another user's stat is
    served while the flood still waits (meta/_fair_share.py), not after it."""
    fair = server.calls.fair
    assert fair is not None
    with fs3.connect(server.address, token=server.root) as admin:
        admin.mkdir("/flood", mode=0o777)
    flood = Framed(server.call_address, server.root)
    quiet = Framed(server.call_address, server.carol)
    try:
        before = fair.overtook.get(5151, 0)
        burst = b"".join(wire.frame(wire.CALL, meta_pb2.MkdirRequest(path=f"/flood/d{i}").SerializeToString(),
                                    count=wire.NUMBER["Mkdir"], req_id=i + 1) for i in range(3000))
        flood.sock.sendall(burst)
        assert isinstance(quiet.call("Stat", meta_pb2.StatRequest(path="/")), meta_pb2.StatReply)
        assert fair.overtook.get(5151, 0) > before  # carol's stat went ahead of the flood's queue
        for _ in range(3000):  # and the flood was served whole
            frame_type, _req, _payload = flood._frame()
            assert frame_type == wire.REPLY
    finally:
        flood.close()
        quiet.close()
