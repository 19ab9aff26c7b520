"""A removed file that a killed client held open is reclaimed once that client's sessions expire
(meta's session TTL, shortened here): the orphan (meta/ops/_changes.py) outlives its last holder only
until meta takes the holder for dead. While a holder lives, it reads what the file held."""

from __future__ import annotations

import hashlib
import os
import signal
import sqlite3
import subprocess
import sys

import pytest
from _chunks import chunks_of
from _timing import wait_for

import fs3
from fs3.local import LocalCluster, LocalClusterConfig
from fs3.meta import _keys as keys
from fs3.proto import meta_pb2

TTL = 10.0  # seconds: below the clients' usual renewal (15 s), but longer than a holder needs to read

HOLDER = """
import hashlib, sys, fs3
with fs3.connect(sys.argv[1]) as c:
    f = c.open(sys.argv[2], sys.argv[3])
    if "w" in sys.argv[3] or "+" in sys.argv[3]:
        f.write(b"w" * 100_000)
        f.flush()
    print("open", flush=True)
    sys.stdin.readline()                     # the file is removed meanwhile
    f.seek(0)
    print(hashlib.sha256(f.read()).hexdigest(), flush=True)
    sys.stdin.readline()                     # killed here
"""


@pytest.fixture(scope="module")
def ttl_cluster(tmp_path_factory):
    c = LocalCluster.start(LocalClusterConfig(
        data_dir=tmp_path_factory.mktemp("orphans"), storage_nodes=1, replicas=1, chunk_size=64 << 10,
        stripe=1, gc_delay=0.0, extra_env={"FS3_SESSION_TTL": str(TTL)}), timeout=90)
    yield c
    c.stop()


def holder(cluster, path, mode):
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, cluster.meta[0], path, mode],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline() == "open\n"
    return proc


def test_a_killed_clients_removed_files_are_reclaimed_after_the_session_ttl(ttl_cluster):
    data = os.urandom(300_000)
    with fs3.connect(ttl_cluster.meta[0]) as c:
        held, procs = {}, []
        try:
            for mode, name in (("rb", "/read"), ("r+b", "/written")):
                with c.open(name, "wb") as f:
                    f.write(data)
                held[name] = c.stat(name).inode
                procs.append(holder(ttl_cluster, name, mode))
            for name in held:
                c.unlink(name)
                assert not c.exists(name)
            expected = [data, b"w" * 100_000 + data[100_000:]]
            for proc, want in zip(procs, expected, strict=True):
                proc.stdin.write("read\n")
                proc.stdin.flush()
                assert proc.stdout.readline().strip() == hashlib.sha256(want).hexdigest()
            assert all(chunks_of(ttl_cluster.data_dir, ino) > 0 for ino in held.values())  # kept for them
            for proc in procs:
                proc.send_signal(signal.SIGKILL)  # ... and they die without closing
                proc.wait(timeout=30)
        finally:
            for proc in procs:
                if proc.poll() is None:
                    proc.kill()
        wait_for(lambda: all(chunks_of(ttl_cluster.data_dir, ino) == 0 for ino in held.values()),
                 timeout=60 + TTL, what="the killed client's orphans reclaimed")


def _reader_expiries(cluster, ino: int) -> list[int]:
    """When meta would prune each read session of file ``ino`` (read from meta's store as it runs)."""
    begin, end = keys.prefix_range(keys.reader_prefix(ino))
    db = sqlite3.connect(f"file:{cluster.data_dir / 'meta' / 'meta.db'}?mode=ro", uri=True, timeout=30)
    try:
        rows = db.execute("SELECT v FROM kv WHERE k >= ? AND k < ?", (begin, end)).fetchall()
    finally:
        db.close()
    return [meta_pb2.Session.FromString(v).expires_ns for (v,) in rows]


def test_a_live_holder_outlasts_a_session_ttl_shorter_than_its_renewal(ttl_cluster):
    """Clients renew within meta's session TTL, whatever it is (they learn it from meta's replies): a
    live holder of a removed file keeps it over several TTLs (before: renewed every 15 s, a 10 s TTL
    pruned it, and the file's data went to the collector while it was still open)."""
    data = os.urandom(200_000)
    with fs3.connect(ttl_cluster.meta[0]) as c:
        c.write("/kept", data)
        ino = c.stat("/kept").inode
        proc = holder(ttl_cluster, "/kept", "rb")
        try:
            c.unlink("/kept")
            first = _reader_expiries(ttl_cluster, ino)
            assert len(first) == 1
            wait_for(lambda: any(e > first[0] + 2 * TTL * 1e9 for e in _reader_expiries(ttl_cluster, ino)),
                     timeout=60, what="the holder's session renewed across two TTLs")
            assert chunks_of(ttl_cluster.data_dir, ino) > 0
            proc.stdin.write("read\n")
            proc.stdin.flush()
            assert proc.stdout.readline().strip() == hashlib.sha256(data).hexdigest()
        finally:
            proc.kill()
            proc.wait(timeout=30)
