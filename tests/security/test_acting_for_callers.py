"""Creating on behalf of a local user (``Caller`` in Mkdir, Open, Symlink and Mknod: what `fs3 mount`
sends for each FUSE request) is an admin's power. An ordinary user's token that sends one, through the
library or as a raw gRPC call, is refused with EPERM and creates nothing; an admin's token is obeyed."""

from __future__ import annotations

import errno
import stat

import grpc
import pytest
from _users import fresh_user

import fs3
from fs3._rpc import CHANNEL_OPTIONS, call
from fs3.proto import meta_pb2, meta_pb2_grpc


@pytest.fixture(scope="module")
def mallory(client):
    info, token = fresh_user(client, "mallory-caller", uid=7301, gid=7301)
    yield info, token
    client.remove_user(info.name)


@pytest.fixture
def open_dir(client, workdir):
    client.chmod(workdir, 0o1777)  # anyone may create here, as in /tmp
    return workdir


def attempts(c, where: str, caller):
    return [
        lambda: c.mkdir(f"{where}/d", caller=caller),
        lambda: c.open(f"{where}/f", "wb", caller=caller).close(),
        lambda: c.symlink("f", f"{where}/l", caller=caller),
        lambda: c.mknod(f"{where}/p", 0o644 | stat.S_IFIFO, caller=caller),
    ]


@pytest.mark.parametrize("caller", [(0, 0, ()), (1000, 1000, (0,)), (7301, 7301, ())])
def test_a_user_token_may_not_act_for_anyone(cluster, client, mallory, open_dir, caller):
    """Not for root, not for a neighbour, not even for themselves: the field is refused outright."""
    with fs3.connect(cluster.meta[0], token=mallory[1]) as c:
        for attempt in attempts(c, open_dir, caller):
            with pytest.raises(PermissionError) as exc:
                attempt()
            assert exc.value.errno == errno.EPERM and "admin" in str(exc.value)
    assert client.ls(open_dir) == []


def test_a_raw_grpc_call_with_a_caller_is_refused(cluster, client, mallory, open_dir):
    channel = grpc.insecure_channel(cluster.meta[0], options=CHANNEL_OPTIONS)
    try:
        stub = meta_pb2_grpc.MetaStub(channel)
        metadata = (("authorization", f"Bearer {mallory[1]}"),)
        root = meta_pb2.Caller(uid=0, gid=0)
        for method, request in (
            (stub.Mkdir, meta_pb2.MkdirRequest(path=f"{open_dir}/d", mode=0o4777, caller=root)),
            (stub.Open, meta_pb2.OpenRequest(path=f"{open_dir}/f", create=True, write=True, caller=root)),
            (stub.Mknod, meta_pb2.MknodRequest(path=f"{open_dir}/c", type=meta_pb2.CHAR_DEVICE, caller=root)),
        ):
            with pytest.raises(PermissionError) as exc:
                call(method, request, metadata=metadata)
            assert exc.value.errno == errno.EPERM
    finally:
        channel.close()
    assert client.ls(open_dir) == []


def test_an_admin_token_creates_as_the_caller(cluster, client, open_dir):
    info, token = fresh_user(client, "caller-admin", uid=7302, admin=True)
    try:
        with fs3.connect(cluster.meta[0], token=token) as c:
            for attempt in attempts(c, open_dir, (1234, 5678, ())):
                attempt()
        for name in ("d", "f", "l", "p"):
            st = client.lstat(f"{open_dir}/{name}")
            assert (st.uid, st.gid) == (1234, 5678), name
        assert client.lstat(f"{open_dir}/p").type == "fifo"
    finally:
        client.remove_user(info.name)


def test_a_mount_with_a_user_token_does_not_send_callers(cluster, client, mallory):
    """A user who mounts with their own token makes files as themselves: the mount sends no caller
    (which meta would refuse), so creating through it keeps working."""
    from fs3.client._mount_callers import acts_for_callers

    assert acts_for_callers(client)  # root's token
    with fs3.connect(cluster.meta[0], token=mallory[1]) as c:
        assert not acts_for_callers(c)
