"""Users and permissions on a real cluster: every gRPC call and data-plane connection authenticated,
uid/gid/mode enforced, admin-only calls refused to others; nothing changes on a refusal."""

from __future__ import annotations

import asyncio
import errno

import grpc
import pytest
from _timing import wait_for
from _users import fresh_user

import fs3
from fs3 import _token
from fs3._data_client import NodeConnection
from fs3._rpc import CHANNEL_OPTIONS, call
from fs3.proto import cluster_pb2, cluster_pb2_grpc, meta_pb2, meta_pb2_grpc, storage_pb2, storage_pb2_grpc


def errno_of(fn) -> int:
    with pytest.raises(OSError) as info:
        fn()
    return info.value.errno


@pytest.fixture(scope="module")
def alice(client):
    """A user with a token, and a client connected as them."""
    info, token = fresh_user(client, "alice", uid=4242)
    with fs3.connect(client.address, token=token) as c:
        yield info, token, c


def test_meta_refuses_calls_without_a_token_or_with_a_wrong_one(cluster, client, workdir):
    channel = grpc.insecure_channel(cluster.meta[0], options=CHANNEL_OPTIONS)
    stub = meta_pb2_grpc.MetaStub(channel)
    for metadata in (None, (("authorization", "Bearer fs3_wrong"),), (("authorization", "Basic x"),)):
        with pytest.raises(PermissionError) as info:
            call(stub.Mkdir, meta_pb2.MkdirRequest(path=f"{workdir}/x"), metadata=metadata)
        assert "not authenticated" in str(info.value)
        with pytest.raises(PermissionError):
            call(cluster_pb2_grpc.ClusterStub(channel).GetDataToken, cluster_pb2.GetDataTokenRequest(),
                 metadata=metadata)
    channel.close()
    assert client.ls(workdir) == []  # nothing was created
    with pytest.raises(PermissionError) as info:
        fs3.connect(cluster.meta[0], token="fs3_not-a-token")
    assert info.value.errno == errno.EACCES and "FS3_TOKEN" in str(info.value)


def test_storage_refuses_unauthenticated_control_calls_and_data_connections(cluster, client, workdir):
    client.write(f"{workdir}/f", b"keep me" * 1000)
    st = client.stat(f"{workdir}/f")
    routing = client.routing_info()
    node = routing.nodes[0]
    channel = grpc.insecure_channel(node.address, options=CHANNEL_OPTIONS)
    stub = storage_pb2_grpc.StorageStub(channel)
    for metadata in (None, (("authorization", "Node 00"),), (("authorization", f"Bearer {'x' * 10}"),)):
        for chain in st.chains:
            with pytest.raises(PermissionError):
                call(stub.RemoveChunks, storage_pb2.RemoveChunksRequest(chain_id=chain, inode=st.inode),
                     metadata=metadata)
    channel.close()
    # A data-plane HELLO with a forged token is refused.
    forged = _token.sign(b"\0" * 32, _token.TokenClaims(expiry=2**40, uid=0, gid=0, client="evil"))

    async def hello():
        conn = await NodeConnection.open(node.data_address, forged, None, "evil")
        await conn.close()

    with pytest.raises(PermissionError):
        asyncio.run(hello())
    assert client.read(f"{workdir}/f") == b"keep me" * 1000  # nothing was removed


def test_a_user_without_permission_gets_eacces_and_nothing_changes(client, alice, workdir):
    _info, _token_, as_alice = alice
    client.write(f"{workdir}/f", b"root's")
    assert errno_of(lambda: as_alice.mkdir(f"{workdir}/x")) == errno.EACCES
    assert errno_of(lambda: as_alice.write(f"{workdir}/f", b"alice's")) == errno.EACCES
    assert errno_of(lambda: as_alice.unlink(f"{workdir}/f")) == errno.EACCES
    assert errno_of(lambda: as_alice.rename(f"{workdir}/f", f"{workdir}/g")) == errno.EACCES
    assert errno_of(lambda: as_alice.chmod(f"{workdir}/f", 0o777)) == errno.EPERM
    assert errno_of(lambda: as_alice.truncate(f"{workdir}/f", 0)) == errno.EACCES
    assert as_alice.read(f"{workdir}/f") == b"root's"  # 0644: others may read
    assert client.ls(workdir) == ["f"] and client.read(f"{workdir}/f") == b"root's"
    # given a directory, alice owns what she makes there
    client.mkdir(f"{workdir}/alice")
    client.chown(f"{workdir}/alice", 4242, 4242)
    as_alice.write(f"{workdir}/alice/mine", b"x")
    st = client.stat(f"{workdir}/alice/mine")
    assert (st.uid, st.gid) == (4242, 4242)
    as_alice.chmod(f"{workdir}/alice/mine", 0o600)
    assert as_alice.read(f"{workdir}/alice/mine") == b"x"


def test_touch_by_a_user_who_may_write_but_owns_nothing(client, alice, workdir):
    """utimensat(2) through the client with alice's token: `touch` (times to now) needs write permission,
    any other time needs the owner (before: EPERM for touch too)."""
    _info, _token_, as_alice = alice
    client.write(f"{workdir}/log", b"root's")
    client.utime(f"{workdir}/log", (5_000_000_000, 5_000_000_000))
    assert errno_of(lambda: as_alice.utime(f"{workdir}/log")) == errno.EACCES  # 0644: alice may not write
    client.chmod(f"{workdir}/log", 0o646)
    as_alice.utime(f"{workdir}/log")
    st = client.stat(f"{workdir}/log")
    assert st.mtime_ns > 5_000_000_000 and st.atime_ns > 5_000_000_000
    assert errno_of(lambda: as_alice.utime(f"{workdir}/log", (1, 1))) == errno.EPERM
    assert client.stat(f"{workdir}/log").mtime_ns == st.mtime_ns


def test_admin_calls_are_refused_to_ordinary_users(client, alice):
    _info, _token_, as_alice = alice
    assert errno_of(lambda: as_alice.add_user("mallory")) == errno.EPERM
    assert errno_of(lambda: as_alice.list_users()) == errno.EPERM
    assert errno_of(lambda: as_alice.create_chains(1)) == errno.EPERM
    assert errno_of(lambda: as_alice.set_target_offline(1)) == errno.EPERM
    chains = [(c.id, c.version) for c in client.routing_info().chains]
    assert errno_of(lambda: as_alice.drain_node(1)) == errno.EPERM
    assert errno_of(lambda: as_alice.drain_node(1, dry_run=True)) == errno.EPERM
    assert errno_of(lambda: as_alice.grow_chains()) == errno.EPERM
    assert errno_of(lambda: as_alice.remove_node(1)) == errno.EPERM
    routing = client.routing_info()
    assert [(c.id, c.version) for c in routing.chains] == chains and not routing.moves
    assert not any(n.draining for n in routing.nodes)
    assert errno_of(lambda: as_alice.issue_token("root")) == errno.EPERM
    assert as_alice.whoami().name == "alice"
    assert "mallory" not in [u.name for u in client.list_users()]


def test_tokens_are_stored_hashed_and_can_be_revoked(cluster, client, alice):
    _info, token, _c = alice
    db = (cluster.data_dir / "meta" / "meta.db").read_bytes()
    assert token.encode() not in db
    admin = (cluster.data_dir / "admin.token").read_text().strip()
    assert admin.encode() not in db and (cluster.data_dir / "admin.token").stat().st_mode & 0o077 == 0
    new = client.issue_token("alice", revoke_others=True)
    with fs3.connect(client.address, token=new) as c:
        assert c.whoami().name == "alice"

    def refused() -> bool:
        try:
            fs3.connect(client.address, token=token).close()
        except PermissionError:
            return True
        return False

    wait_for(refused, what="the revoked token to be refused")  # meta servers' caches forget within seconds
    with pytest.raises(PermissionError):  # and it stays refused
        fs3.connect(client.address, token=token)

