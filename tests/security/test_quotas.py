"""Quotas hold against a user who tries to get around them, on a real cluster: through the library, the
CLI, and straight at the storage nodes with the write capability meta gave them."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys

import pytest
from _attacker import chunk_home, data_token, wire
from _users import fresh_user

import fs3
from fs3 import _capability, _wire
from fs3._checksum import crc32c
from fs3._errors import Status

KIB = 1 << 10
CHUNK = 64 * KIB  # the session cluster's chunk size


@pytest.fixture(scope="module")
def quota_user(client):
    """An ordinary user (uid 1301), their token, and a user quota of 256 KiB and 20 inodes."""
    info, token = fresh_user(client, "quota-user", uid=1301)
    client.set_quota(uid=info.uid, max_bytes=256 * KIB, max_inodes=20)
    yield info, token
    client.set_quota(uid=info.uid, clear=True)


@pytest.fixture
def home(client, workdir, quota_user):
    """A directory of the quota user's own."""
    client.chown(workdir, quota_user[0].uid, quota_user[0].uid)
    return workdir


def used(client, uid):
    (q,) = client.quotas(uid=uid)
    return q.used_bytes, q.used_inodes


def test_a_write_past_the_user_quota_is_edquot_and_what_fit_is_kept(cluster, client, quota_user, home):
    info, token = quota_user
    before = used(client, info.uid)
    with fs3.connect(cluster.meta[0], token=token) as c:
        c.write(f"{home}/fits", b"a" * (100 * KIB))
        with pytest.raises(OSError) as exc:
            c.write(f"{home}/too-big", os.urandom(300 * KIB))
        assert exc.value.errno == errno.EDQUOT
        assert "quota" in str(exc.value)
        assert c.read(f"{home}/fits") == b"a" * (100 * KIB)
    assert used(client, info.uid)[0] <= 256 * KIB
    assert used(client, info.uid)[0] >= before[0] + 100 * KIB


def test_the_capability_reaches_only_the_reservation_on_the_storage_node(cluster, client, quota_user, home):
    """The attack: take the write capability of an open file and write past its reach (or claim a tiny
    chunk size so a far chunk looks near) straight at the chain's head."""
    info, token = quota_user
    path = f"{home}/raw"
    with fs3.connect(cluster.meta[0], token=token) as c:
        with c.open(path, "wb") as f:
            f.write(b"x" * KIB)
            f.flush()
            key = f.raw._afile._capabilities[1]
            raw = dict(c._run(c._async._capabilities.get([key])))[key]  # noqa: SLF001 - the attacker's own memory
            reach = _capability.fields(raw)
            assert reach.limit < 256 * KIB and reach.chunk_size == CHUNK
            st = c.stat(path)
            far = 3  # chunk 3 starts at 192 KiB: past the reservation of a 1 KiB file
            address, chain, version = chunk_home(client, st, far)
            data = os.urandom(CHUNK)
            past = _wire.WriteItem(chain, version, st.inode, far, 0, CHUNK, CHUNK, crc32c(data))
            lying = _wire.WriteItem(chain, version, st.inode, far, 0, 4 * KIB, 4 * KIB, crc32c(data[:4 * KIB]))
            results = wire(address, data_token(cluster, token),
                           [_wire.encode_grant([raw]), (past, data), (lying, data[:4 * KIB])])
    assert [r.status for r in results] == [Status.QUOTA_EXCEEDED, Status.PERMISSION_DENIED]
    assert client.stat(path).size == KIB
    assert client.read(path) == b"x" * KIB
    assert used(client, info.uid)[0] <= 256 * KIB


def test_unlinking_an_open_file_does_not_free_room_to_write_past_the_quota(cluster, client, quota_user, home):
    info, token = quota_user
    with fs3.connect(cluster.meta[0], token=token) as c:
        f = c.open(f"{home}/ghost", "wb")
        f.write(b"g" * (64 * KIB))
        f.flush()
        c.remove(f"{home}/ghost")
        with pytest.raises(OSError) as exc:  # no more room can be reserved for a removed file
            f.write(os.urandom(512 * KIB))
            f.flush()
        assert exc.value.errno in (errno.ENOENT, errno.EDQUOT, errno.EACCES)
        try:
            f.close()
        except OSError:
            pass
    assert used(client, info.uid)[0] <= 256 * KIB


def test_an_inode_quota_stops_creates_and_mkdirs(cluster, client, quota_user, home):
    info, token = quota_user
    with fs3.connect(cluster.meta[0], token=token) as c:
        room = 20 - used(client, info.uid)[1]
        for i in range(room):
            c.mkdir(f"{home}/d{i}")
        with pytest.raises(OSError) as exc:
            c.write(f"{home}/one-more", b"")
        assert exc.value.errno == errno.EDQUOT
        with pytest.raises(OSError) as exc:
            c.mkdir(f"{home}/one-more")
        assert exc.value.errno == errno.EDQUOT
        for i in range(room):
            c.rmdir(f"{home}/d{i}")


def fs3_cli(cluster, *args, token=None):
    from fs3._auth import TOKEN_FILE

    env = dict(os.environ, FS3_CLUSTER=cluster.meta[0])
    env.pop("FS3_TOKEN", None)
    env["FS3_TOKEN_FILE"] = str(cluster.data_dir / TOKEN_FILE)
    if token:
        env["FS3_TOKEN"] = token
        env.pop("FS3_TOKEN_FILE")
    return subprocess.run([sys.executable, "-m", "fs3", *args], capture_output=True, text=True, env=env, timeout=120)


def test_tree_quotas_from_the_cli(cluster, client, workdir, quota_user):
    client.write(f"{workdir}/before", b"b" * (10 * KIB))
    out = fs3_cli(cluster, "quota", "set", f"fs3://{workdir}", "--bytes", "100K", "--inodes", "5", "--json")
    assert out.returncode == 0, out.stderr
    q = json.loads(out.stdout)
    assert (q["used_bytes"], q["used_inodes"], q["max_bytes"]) == (10 * KIB, 1, 100 * KIB)
    client.chmod(workdir, 0o777)
    _info, token = quota_user
    out = fs3_cli(cluster, "quota", "set", f"fs3://{workdir}", "--bytes", "1G", token=token)
    assert out.returncode != 0 and "only root" in out.stderr and "Traceback" not in out.stderr
    with fs3.connect(cluster.meta[0], token=token) as c:  # the tree is full before the user is
        with pytest.raises(OSError) as exc:
            c.write(f"{workdir}/big", os.urandom(120 * KIB))
        assert exc.value.errno == errno.EDQUOT
    src = f"/outside-{os.getpid()}"
    client.write(src, b"o" * (200 * KIB))
    out = fs3_cli(cluster, "mv", f"fs3://{src}", f"fs3://{workdir}/moved")
    assert out.returncode != 0 and "quota" in out.stderr.lower() and "Traceback" not in out.stderr
    client.remove(src)
    out = fs3_cli(cluster, "df", f"fs3://{workdir}", "--json")
    assert out.returncode == 0, out.stderr
    df = json.loads(out.stdout)
    assert df["total_bytes"] == 100 * KIB and df["quota"]["directory"] == workdir
    out = fs3_cli(cluster, "quota", "ls", "--json")
    assert any(q["directory"] == workdir for q in json.loads(out.stdout))
    out = fs3_cli(cluster, "quota", "set", f"fs3://{workdir}", "--bytes", "-5")
    assert out.returncode != 0 and "Invalid size" in out.stderr and "Traceback" not in out.stderr
    assert fs3_cli(cluster, "quota", "rm", f"fs3://{workdir}").returncode == 0
    assert not [q for q in client.quotas() if q.directory]
