"""The data plane authorizes every chunk: attacks by a user with an ordinary token, straight at the
storage nodes with the wire client (what `fs3/_data_client.py` lets anyone do), on a real cluster.

Before capabilities, each of these read or overwrote root's 0600 file in a 0700 directory, or stored a
chunk for a file that does not exist."""

from __future__ import annotations

import errno
import os
import time

import pytest
from _attacker import chunk_home, data_token, wire
from _timing import wait_for
from _users import fresh_user

import fs3
from fs3 import _capability, _wire
from fs3._checksum import crc32c
from fs3._errors import Status
from fs3.meta._users import CACHE_SECONDS

SECRET_BYTES = b"root's secret " * 4096  # 56 KiB: one chunk of the session cluster's 64 KiB


@pytest.fixture(scope="module")
def mallory(client):
    """An ordinary user (uid 1234) and their token."""
    _info, token = fresh_user(client, "mallory", uid=1234)
    return token


@pytest.fixture
def secret_file(client, workdir):
    """Root's 0600 file in a 0700 directory: (path, its stat)."""
    client.chmod(workdir, 0o700)
    path = f"{workdir}/secret"
    client.write(path, SECRET_BYTES)
    client.chmod(path, 0o600)
    return path, client.stat(path)


def read_item(st, address_chain) -> _wire.ReadItem:
    _address, chain, version = address_chain
    return _wire.ReadItem(chain, version, st.inode, 0, 0, len(SECRET_BYTES))


def write_frame(inode: int, address_chain, data: bytes):
    _address, chain, version = address_chain
    return (_wire.WriteItem(chain, version, inode, 0, 0, len(data), 64 << 10, crc32c(data)), data)


def test_a_user_cannot_read_or_overwrite_a_file_they_may_not_open(cluster, client, mallory, secret_file):
    path, st = secret_file
    home = chunk_home(client, st)
    token = data_token(cluster, mallory)
    [read], [write] = (wire(home[0], token, [read_item(st, home)]),
                       wire(home[0], token, [write_frame(st.inode, home, b"mallory was here")]))
    assert read.status == Status.CAPABILITY_REFUSED
    assert write.status == Status.CAPABILITY_REFUSED
    assert client.read(path) == SECRET_BYTES  # untouched
    with fs3.connect(cluster.meta[0], token=mallory) as c, pytest.raises(PermissionError) as info:
        c.read(path)  # through the library: meta says no before any node is asked
    assert info.value.errno == errno.EACCES


def test_no_chunk_can_be_stored_for_a_file_that_does_not_exist(cluster, client, mallory, secret_file):
    _path, st = secret_file
    home = chunk_home(client, st)
    ghost = st.inode + 10_000_000
    [write] = wire(home[0], data_token(cluster, mallory), [write_frame(ghost, home, os.urandom(64 << 10))])
    assert write.status == Status.CAPABILITY_REFUSED
    # Not even with a capability for a file of their own: it is bound to that file's inode.
    mine = f"/mallory-{os.getpid()}"
    client.write(mine, b"")
    client.chown(mine, 1234, 1234)
    with fs3.connect(cluster.meta[0], token=mallory) as c:
        with c.open(mine, "wb") as f:
            own = f.raw._afile._capabilities  # (read, write) keys pinned while open
            assert own[1] is not None
            held = dict(c._run(c._async._capabilities.get([own[1]])))  # noqa: SLF001 - the attack needs it
            write_cap = held[own[1]]
            [write] = wire(home[0], data_token(cluster, mallory),
                           [_wire.encode_grant([write_cap]), write_frame(ghost, home, b"x" * 4096)])
    assert write.status == Status.CAPABILITY_REFUSED
    client.remove(mine)


def test_another_users_capability_closes_the_connection(cluster, client, mallory, secret_file):
    """A capability picked up from root (a log, a core dump) is bound to root's uid."""
    path, st = secret_file
    home = chunk_home(client, st)
    with client.open(path, "rb") as f:
        key = f.raw._afile._capabilities[0]
        stolen = dict(client._run(client._async._capabilities.get([key])))[key]  # noqa: SLF001
    with pytest.raises(PermissionError) as info:
        wire(home[0], data_token(cluster, mallory), [_wire.encode_grant([stolen]), read_item(st, home)])
    assert "uid 0 on a connection of uid 1234" in str(info.value)


def test_forged_and_altered_capabilities_close_the_connection(cluster, client, mallory, secret_file):
    path, st = secret_file
    home = chunk_home(client, st)
    token = data_token(cluster, mallory)
    guessed = _capability.CapabilityKeys(lambda: b"\0" * 32)  # a key that is not the cluster's
    forged = _capability.sign(guessed, _capability.READ, st.inode, 0, 1234)
    with pytest.raises(PermissionError) as info:
        wire(home[0], token, [_wire.encode_grant([forged]), read_item(st, home)])
    assert "forged" in str(info.value)
    # An altered genuine one (mallory's own, for another inode) is forged too.
    altered = bytearray(_capability.sign(guessed, _capability.READ, st.inode + 1, 0, 1234))
    with pytest.raises(PermissionError):
        wire(home[0], token, [_wire.encode_grant([bytes(altered)]), read_item(st, home)])
    assert client.read(path) == SECRET_BYTES


def test_capabilities_hold_for_the_connection_they_were_presented_on(cluster, client, secret_file):
    """Root's own capability works where presented; a new connection holds none until presented."""
    path, st = secret_file
    home = chunk_home(client, st)
    root_token = client._run(client._async._data_token())  # noqa: SLF001
    with client.open(path, "rb") as f:
        key = f.raw._afile._capabilities[0]
        held = client._async._capabilities  # noqa: SLF001
        fresh = dict(client._run(held.get([key])))[key]
    [ok] = wire(home[0], root_token, [_wire.encode_grant([fresh]), read_item(st, home)])
    assert ok.status == 0
    [none] = wire(home[0], root_token, [read_item(st, home)])  # a new connection holds nothing
    assert none.status == Status.CAPABILITY_REFUSED


def test_removing_a_user_ends_their_data_access_within_the_capability_lifetime(cluster, client, workdir):
    """A reader with a file open keeps reading from the storage nodes only while meta renews its
    capability: once the user is removed, within LIFETIME plus meta's user cache."""
    _info, token = fresh_user(client, "leaver", uid=4343)
    path = f"{workdir}/shared"
    client.write(path, b"shared " * 1000)
    with fs3.connect(cluster.meta[0], token=token) as c, c.open(path, "rb") as f:
        assert f.read() == b"shared " * 1000
        client.remove_user("leaver")
        removed = time.monotonic()

        def refused() -> bool:
            try:
                f.seek(0)
                f.read()
            except PermissionError:
                return True
            return False

        wait_for(refused, timeout=3 * (_capability.LIFETIME + CACHE_SECONDS) + 30,
                 what="the removed user's reads to be refused")
        took = time.monotonic() - removed
    print(f"data access ended {took:.1f} s after the user was removed "
          f"(bound: {_capability.LIFETIME} s + {CACHE_SECONDS} s)")


def _node_read(node, *grant_frames: bytes) -> int:
    """Over a raw socket to an in-process node whose secret the test knows: HELLO, the GRANT frames,
    then one READ of chunk 7:0; the read's status."""
    import socket

    from _data_node import token

    from fs3 import _frames

    sock = socket.create_connection(node.address, timeout=60)
    reader = _frames.FrameReader(_wire.FRAMING)
    try:
        sock.sendall(_wire.encode_hello(_wire.Hello(token=token(), offer=_wire.TRANSPORT_TCP, client="t")))
        item = _wire.ReadItem(1, 1, 7, 0, 0, 4096)
        body = _wire.pack_reads([item])
        sock.sendall(b"".join(grant_frames) + _wire.pack_header(_wire.READ, 1, 3, len(body)) + body)
        frames = []
        while len(frames) < 2:  # WELCOME, then the reply
            data = sock.recv(1 << 20)
            assert data, "connection closed"
            reader.feed(data)
            frames += list(reader)
        reply = frames[1]
        assert reply.header.type == _wire.READ_REPLY
        return _wire.READ_RESULT.unpack_from(reply.payload)[0]
    finally:
        sock.close()


def test_an_expired_or_retired_capability_is_ignored_and_the_item_refused(tmp_path):
    from _data_node import SECRET, DataNode

    node = DataNode(tmp_path)
    try:
        keys = _capability.CapabilityKeys(lambda: SECRET)
        fresh = _capability.sign(keys, _capability.READ, 7, 0, 0)
        expired = _capability.sign(keys, _capability.READ, 7, 0, 0, now=time.time() - 2 * _capability.LIFETIME)
        retired = _capability.sign(keys, _capability.READ, 7, 0, 0, now=time.time() - 2 * _capability.KEY_PERIOD,
                                   lifetime=3 * _capability.KEY_PERIOD)  # not expired: its key is retired
        write_only = _capability.sign(keys, _capability.WRITE, 7, 1, 0)
        assert _node_read(node, _wire.encode_grant([fresh])) == 0
        for lapsed in (expired, retired, write_only):
            assert _node_read(node, _wire.encode_grant([lapsed])) == Status.CAPABILITY_REFUSED
        assert _node_read(node) == Status.CAPABILITY_REFUSED  # none at all
    finally:
        node.stop()


def test_a_chunk_cannot_be_written_to_another_chain_than_its_files(cluster, client, mallory):
    """The attack: a user writes a chunk of their own file, with their own write capability, to a chain
    where the file's removal would never look for it (storage no one reclaims, outside any quota)."""
    mine = f"/mallory-chains-{os.getpid()}"
    client.write(mine, b"")
    client.chown(mine, 1234, 1234)
    try:
        with fs3.connect(cluster.meta[0], token=mallory) as c:
            with c.open(mine, "wb") as f:
                f.write(b"m" * 100)
                f.flush()
                key = f.raw._afile._capabilities[1]
                write_cap = dict(c._run(c._async._capabilities.get([key])))[key]  # noqa: SLF001 - the attack
                st = c.stat(mine)
                wrong = chunk_home(client, st, 1)  # the chain of chunk 1, not chunk 0's
                assert wrong[1] != chunk_home(client, st, 0)[1]
                data = b"x" * 4096
                stray = _wire.WriteItem(wrong[1], wrong[2], st.inode, 0, 0, len(data), st.chunk_size, crc32c(data))
                [write] = wire(wrong[0], data_token(cluster, mallory), [_wire.encode_grant([write_cap]),
                                                                          (stray, data)])
        assert write.status == Status.PERMISSION_DENIED
        assert client.read(mine) == b"m" * 100
    finally:
        client.remove(mine)
