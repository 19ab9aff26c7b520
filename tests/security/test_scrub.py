"""Chain scrub with real processes (issue 15, item 1): a chunk removed on some replicas of a healthy chain,
by someone holding node credentials (minted here from the cluster secret, as root on the meta host
could), is restored by a scrub, and read back right; a chunk of a file that is gone, or past the end of
a truncated file, left on one replica (a removal that did not reach it) is removed, never resurrected.

The attacks go straight to one chain member's data plane (an UPDATE with FLAG_SYNC, recovery's path),
so no other member hears of them, which is what a forged or half-applied removal leaves behind.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import urllib.request

import pytest
from _node_creds import cluster_secret, forge_update, list_chunks
from _timing import wait_for
from _users import fresh_user

import fs3
from fs3._auth import TOKEN_FILE, read_token_file
from fs3._wire import ChunkId
from fs3.local import LocalCluster, LocalClusterConfig
from fs3.proto import cluster_pb2

pytestmark = pytest.mark.timeout(600)

CHUNK = 64 << 10


def start(data_dir, scrub_interval: float) -> LocalCluster:
    return LocalCluster.start(LocalClusterConfig(
        data_dir=data_dir, storage_nodes=3, replicas=3, chunk_size=CHUNK, stripe=2, gc_delay=0.0,
        heartbeat_timeout=3.0, extra_env={"FS3_SCRUB_INTERVAL": str(scrub_interval)},
    ), timeout=90, remember=False)


@pytest.fixture(scope="module")
def rf3(tmp_path_factory):
    """Three nodes, every chain on all three; no periodic scrub (each test runs its own)."""
    cluster = start(tmp_path_factory.mktemp("scrub"), 0)
    yield cluster
    cluster.stop()


@pytest.fixture(scope="module")
def admin(rf3):
    return read_token_file(rf3.data_dir / TOKEN_FILE)


@pytest.fixture(scope="module")
def client(rf3, admin):
    with fs3.connect(rf3.meta[0], token=admin) as c:
        yield c


@pytest.fixture(scope="module")
def secret(rf3):
    return cluster_secret(rf3.data_dir)


def serving(client) -> bool:
    return all(t.public_state == cluster_pb2.SERVING for t in client.routing_info().targets)


def chain_of(client, path: str, index: int) -> cluster_pb2.ChainInfo:
    st = client.stat(path)
    chain_id = st.chains[index % st.stripe]
    return next(c for c in client.routing_info().chains if c.id == chain_id)


def holders(secret, client, chain: cluster_pb2.ChainInfo, chunk: ChunkId) -> dict[int, tuple]:
    """target -> (committed version, checksum, pending version) of ``chunk``, for the chain's members
    that hold it."""
    routing = client.routing_info()
    out = {}
    for t in chain.targets:
        copy = list_chunks(secret, routing, t).get(tuple(chunk))
        if copy is not None:
            out[t] = copy
    return out


def fs3_cli(rf3, admin, *args: str, token: str | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FS3_") or k == "FS3_STATE_DIR"}
    env["FS3_TOKEN"] = token or admin
    return subprocess.run([sys.executable, "-m", "fs3", "--cluster", rf3.meta[0], *args], capture_output=True,
                          text=True, env=env, timeout=300)


def scrub_json(rf3, admin, chain_id: int) -> dict:
    proc = fs3_cli(rf3, admin, "cluster", "scrub", "--chain", str(chain_id), "--json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    [chain] = report["chains"]
    assert chain["chain"] == chain_id and not chain["skipped"], chain
    return chain


def test_a_chunk_removed_on_two_of_three_replicas_is_restored(rf3, admin, client, secret):
    data = os.urandom(4 * CHUNK)
    client.write("/attacked", data)
    wait_for(lambda: serving(client), what="every replica serving")
    inode = client.stat("/attacked").inode
    chunk = ChunkId(inode, 2)
    chain = chain_of(client, "/attacked", 2)
    head, middle, tail = chain.targets
    routing = client.routing_info()
    right = holders(secret, client, chain, chunk)[head]
    # The attack: the chunk goes on two of its three replicas, which go on serving.
    assert forge_update(secret, routing, middle, chunk) == 0
    assert forge_update(secret, routing, tail, chunk) == 0
    assert set(holders(secret, client, chain, chunk)) == {head}
    piece = slice(2 * CHUNK, 3 * CHUNK)
    # Reads rotate over the replicas: the robbed ones answer with a hole (zeros), and no error.
    reads = [client.read("/attacked", 2 * CHUNK, CHUNK) for _ in range(6)]
    assert bytes(CHUNK) in reads and data[piece] in reads

    report = scrub_json(rf3, admin, chain.id)
    assert report["restored"] == 1 and report["removed"] == report["failed"] == 0, report
    [repair] = report["repairs"]
    assert (repair["inode"], repair["index"], repair["action"]) == (inode, 2, "restored")
    assert sorted(repair["targets"]) == sorted([middle, tail])
    assert report["chunks"] >= 2  # chunks 0 and 2 of this file at least (stripe 2)
    # Every replica holds the head's committed copy again, and every read returns the right bytes.
    assert holders(secret, client, chain, chunk) == {head: right, middle: right, tail: right}
    for _ in range(6):
        assert client.read("/attacked") == data
    # A second scrub finds nothing more to do.
    again = scrub_json(rf3, admin, chain.id)
    assert again["restored"] == again["removed"] == 0 and not again["repairs"], again

    # The head counted what it repaired; meta's /metrics shows it with the node's heartbeat.
    head_node = next(t.node_id for t in routing.targets if t.id == head)
    line = re.compile(rf'fs3_storage_requests_total{{node="{head_node}",op="scrub_repair"}} (\d+)')

    def repaired_metric() -> int:
        request = urllib.request.Request(rf3.http[0] + "/metrics", headers={"Authorization": f"Bearer {admin}"})
        with urllib.request.urlopen(request, timeout=30) as reply:
            found = line.search(reply.read().decode())
        return int(float(found.group(1))) if found else 0

    wait_for(repaired_metric, what="the scrub repair in /metrics")


def test_a_chunk_missing_at_the_head_is_taken_from_a_successor(rf3, admin, client, secret):
    data = os.urandom(3 * CHUNK)
    client.write("/headless", data)
    wait_for(lambda: serving(client), what="every replica serving")
    chunk = ChunkId(client.stat("/headless").inode, 1)
    chain = chain_of(client, "/headless", 1)
    old_head, middle, tail = chain.targets
    assert forge_update(secret, client.routing_info(), middle, chunk) == 0
    # The old head leaves: the member that lost the chunk leads the chain.
    client.set_target_offline(old_head, True)
    try:
        wait_for(lambda: _led_by(client, chain.id, middle, old_head), what="the chain led by the robbed member")
        report = scrub_json(rf3, admin, chain.id)
        assert report["restored"] == 1, report
        [repair] = report["repairs"]
        assert repair["action"] == "restored" and repair["targets"] == [middle], repair
        copies = holders(secret, client, chain_of(client, "/headless", 1), chunk)
        assert copies[middle] == copies[tail]
        for _ in range(4):
            assert client.read("/headless") == data
    finally:
        client.set_target_offline(old_head, False)
        wait_for(lambda: serving(client), timeout=120, what="the old head back through recovery")
    assert client.read("/headless") == data


def _led_by(client, chain_id: int, head: int, gone: int) -> bool:
    routing = client.routing_info()
    chain = next(c for c in routing.chains if c.id == chain_id)
    states = {t.id: t.public_state for t in routing.targets}
    return chain.targets[0] == head and states[gone] == cluster_pb2.OFFLINE


def test_a_removed_files_chunk_left_on_one_replica_is_removed_not_resurrected(rf3, admin, client, secret):
    old = os.urandom(3 * CHUNK)
    client.write("/gone", old)
    wait_for(lambda: serving(client), what="every replica serving")
    inode = client.stat("/gone").inode
    chunk = ChunkId(inode, 1)
    chain = chain_of(client, "/gone", 1)
    client.remove("/gone")
    wait_for(lambda: not holders(secret, client, chain, chunk), what="the collector to reclaim the chunks")
    # A removal that did not reach the tail: it still holds the chunk of a file that is gone.
    tail = chain.targets[-1]
    assert forge_update(secret, client.routing_info(), tail, chunk, data=old[CHUNK : 2 * CHUNK]) == 0
    assert set(holders(secret, client, chain, chunk)) == {tail}
    reports = []

    def removed() -> bool:  # (the collector's queue entry goes just after its removal: undecided until)
        reports.append(scrub_json(rf3, admin, chain.id))
        return not holders(secret, client, chain, chunk)

    wait_for(removed, what="the scrub to remove the stale chunk")
    repairs = [r for report in reports for r in report["repairs"]]
    assert [(r["inode"], r["index"], r["action"], r["targets"]) for r in repairs] == [(inode, 1, "removed", [tail])]
    assert all(report["restored"] == 0 for report in reports)
    assert not client.exists("/gone")


def test_a_chunk_past_a_truncated_end_is_removed_so_growing_reads_zeros(rf3, admin, client, secret):
    data = os.urandom(3 * CHUNK)
    client.write("/cut", data)
    wait_for(lambda: serving(client), what="every replica serving")
    chunk = ChunkId(client.stat("/cut").inode, 2)
    chain = chain_of(client, "/cut", 2)
    client.truncate("/cut", CHUNK)
    assert not holders(secret, client, chain, chunk)
    middle = chain.targets[1]
    assert forge_update(secret, client.routing_info(), middle, chunk, data=data[2 * CHUNK :]) == 0
    report = scrub_json(rf3, admin, chain.id)
    assert [(r["index"], r["action"], r["targets"]) for r in report["repairs"]] == [(2, "removed", [middle])]
    assert not holders(secret, client, chain, chunk)
    client.truncate("/cut", 3 * CHUNK)
    assert client.read("/cut") == data[:CHUNK] + bytes(2 * CHUNK)  # never the old bytes


def test_scrub_refuses_a_plain_user_and_an_unknown_chain(rf3, admin, client):
    _user, token = fresh_user(client, "scrub-plain", uid=4321, gid=4321)
    refused = fs3_cli(rf3, admin, "cluster", "scrub", token=token)
    assert refused.returncode == 1 and "Traceback" not in refused.stderr, refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1 and "admin" in refused.stderr, refused.stderr
    unknown = fs3_cli(rf3, admin, "cluster", "scrub", "--chain", "999")
    assert unknown.returncode == 1 and "No such chain: 999" in unknown.stderr, unknown.stderr
    assert len(unknown.stderr.strip().splitlines()) == 1 and "Traceback" not in unknown.stderr, unknown.stderr
    every = fs3_cli(rf3, admin, "cluster", "scrub")
    assert every.returncode == 0, every.stderr
    assert re.search(r"scrub: \d+ chains, \d+ chunks compared, 0 restored, 0 removed, 0 failed", every.stdout), \
        every.stdout


def test_the_periodic_scrub_restores_without_being_asked(tmp_path):
    cluster = start(tmp_path, 1.0)
    try:
        admin = read_token_file(cluster.data_dir / TOKEN_FILE)
        secret = cluster_secret(cluster.data_dir)
        with fs3.connect(cluster.meta[0], token=admin) as client:
            data = os.urandom(2 * CHUNK)
            client.write("/periodic", data)
            wait_for(lambda: serving(client), what="every replica serving")
            chunk = ChunkId(client.stat("/periodic").inode, 1)
            chain = chain_of(client, "/periodic", 1)
            head, middle, tail = chain.targets
            for target in (middle, tail):
                assert forge_update(secret, client.routing_info(), target, chunk) == 0
            wait_for(lambda: set(holders(secret, client, chain, chunk)) == {head, middle, tail},
                     what="the periodic scrub to restore the chunk")
            for _ in range(6):
                assert client.read("/periodic") == data
        log = (cluster.data_dir / "logs" / "meta-1.log").read_text()
        assert re.search(r"scrub: \d+ chains, \d+ chunks compared, 1 restored", log), log[-2000:]
    finally:
        cluster.stop()


def test_a_scrub_reaches_the_nodes_over_tls(tmp_path):
    """With TLS on, meta lists the members' chunks and asks the heads for repairs over TLS too."""
    cluster = LocalCluster.start(LocalClusterConfig(
        data_dir=tmp_path, storage_nodes=3, replicas=3, chunk_size=CHUNK, stripe=2, tls=True,
        extra_env={"FS3_SCRUB_INTERVAL": "0"},
    ), timeout=90, remember=False)
    try:
        admin = read_token_file(cluster.data_dir / TOKEN_FILE)
        with fs3.connect(cluster.meta[0], token=admin, shm=False, tls_ca=cluster.tls_ca) as client:
            client.write("/tls-scrubbed", os.urandom(2 * CHUNK))
            wait_for(lambda: serving(client), what="every replica serving")
            report = client.scrub()
        assert report.chains and not [c.skipped for c in report.chains if c.skipped]
        assert sum(c.chunks for c in report.chains) >= 2 and not sum(c.failed for c in report.chains)
    finally:
        cluster.stop()
