"""Node lifecycle on a running cluster, with real processes: a node added gets chains (`fs3 node add`,
`fs3 cluster grow`), a node drained under load hands every replica over and leaves (`fs3 cluster drain`),
and no acknowledged write is lost on the way."""

from __future__ import annotations

import os
import subprocess
import sys
import threading

import pytest
from _cli import one_error_line
from _timing import wait_for

import fs3
from fs3.local import LocalCluster, LocalClusterConfig
from fs3.proto import cluster_pb2

KiB = 1 << 10


def _fs3(cluster: LocalCluster, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    env = dict(os.environ, FS3_CLUSTER=str(cluster.data_dir), FS3_DATA_DIR=str(cluster.data_dir))
    proc = subprocess.run([sys.executable, "-m", "fs3", *args], capture_output=True, text=True, env=env, timeout=600)
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


@pytest.fixture
def cluster(tmp_path):
    c = LocalCluster.start(LocalClusterConfig(data_dir=tmp_path, targets_per_node=2, replicas=3, chunk_size=64 * KiB,
                                              stripe=2, gc_delay=0.0), timeout=90)
    yield c
    c.stop()


def _fully_replicated(routing: cluster_pb2.RoutingInfo, replicas: int = 3) -> bool:
    """Every chain: exactly ``replicas`` members, all serving, on distinct live nodes; nothing moving."""
    targets = {t.id: t for t in routing.targets}
    up = {n.id for n in routing.nodes if n.state == cluster_pb2.NODE_UP}
    return not routing.moves and all(
        len(c.targets) == replicas
        and all(targets[t].public_state == cluster_pb2.SERVING for t in c.targets)
        and len({targets[t].node_id for t in c.targets}) == replicas
        and {targets[t].node_id for t in c.targets} <= up
        for c in routing.chains)


def _when_fully_replicated(client) -> cluster_pb2.RoutingInfo | None:
    routing = client.routing_info()
    return routing if _fully_replicated(routing) else None


def _node_of(client, address: str) -> int:
    return next(n.id for n in client.routing_info().nodes if n.address == address)


class Writer(threading.Thread):
    """Writes files one after another until stopped, remembering those acknowledged."""

    def __init__(self, client, directory: str):
        super().__init__(daemon=True)
        self.client, self.directory = client, directory
        self.acked: dict[str, bytes] = {}
        self.errors: list[BaseException] = []
        self.stop = threading.Event()

    def run(self):
        i = 0
        while not self.stop.is_set():
            path, data = f"{self.directory}/f{i}", os.urandom(100 * KiB + i)
            try:
                self.client.write(path, data)
                self.acked[path] = data
            except OSError as exc:
                self.errors.append(exc)
            i += 1


def test_a_node_added_to_a_running_cluster_gets_chains(cluster):
    with fs3.connect(cluster.meta[0]) as client:
        before = {f"/g/f{i}": os.urandom(300 * KiB + i) for i in range(6)}
        client.mkdir("/g")
        for path, data in before.items():
            client.write(path, data)
        chains_before = {c.id for c in client.routing_info().chains}

        out = _fs3(cluster, "node", "add", "--targets", "3").stdout
        new = cluster.__class__.load(cluster.data_dir).process("storage-4")
        node = _node_of(client, new.address)
        assert f"node {node}:" in out, out
        routing = wait_for(lambda: _when_fully_replicated(client), what="every chain fully replicated")
        mine = [t for t in routing.targets if t.node_id == node]
        assert len(mine) == 3
        # two chains of three on three nodes, and three targets on one new node: two move into the two
        # chains, and the two replicas they free make a third chain with the third new target (the
        # chain table grows by one, with two moves: a chain needs three nodes)
        assert all(t.chain_id for t in mine)
        table = routing.tables[0]
        assert len(routing.chains) == 3 and set(table.chains) == chains_before | {c.id for c in routing.chains}
        new_chain = next(c for c in routing.chains if c.id not in chains_before)
        assert new_chain.targets[0] in {t.id for t in mine}  # headed by a target that never held data
        assert not [t for t in routing.targets if not t.chain_id]
        for path, data in before.items():
            assert client.read(path) == data
        # nothing left to do: a second grow moves nothing
        assert "nothing to grow" in _fs3(cluster, "cluster", "grow").stdout


def test_drain_under_load_loses_no_acknowledged_write(cluster):
    _fs3(cluster, "node", "add", "--targets", "2", "--no-grow")
    with fs3.connect(cluster.meta[0]) as client, fs3.connect(cluster.meta[0]) as writer_client:
        client.mkdir("/d")
        victim = cluster.process("storage-1")
        node = _node_of(client, victim.address)
        held = [t.id for t in client.routing_info().targets if t.node_id == node and t.chain_id]
        assert len(held) == 2
        writer = Writer(writer_client, "/d")
        writer.start()
        try:
            wait_for(lambda: len(writer.acked) >= 5, what="the writer under way")
            proc = _fs3(cluster, "cluster", "drain", str(node), "--json")
            wait_for(lambda: len(writer.acked) >= 5 + 3 + len(held), what="writes after the drain")
        finally:
            writer.stop.set()
            writer.join(120)
        assert not writer.errors, writer.errors[:3]
        import json

        report = json.loads(proc.stdout)
        assert report["removed"] and sorted(m["from_target"] for m in report["moves"]) == sorted(held)
        routing = client.routing_info()
        assert node not in {n.id for n in routing.nodes}
        assert not any(t.node_id == node for t in routing.targets)
        assert _fully_replicated(routing)
        # the drained node's service stops by itself once removed
        wait_for(lambda: not LocalCluster.load(cluster.data_dir).process("storage-1").alive(),
                 what="the removed node's process to exit")
        for path, data in writer.acked.items():
            assert client.read(path) == data, path


def test_drain_with_nowhere_to_go_is_refused_and_changes_nothing(cluster):
    with fs3.connect(cluster.meta[0]) as client:
        node = _node_of(client, cluster.process("storage-2").address)
        before = [(c.id, c.version, list(c.targets)) for c in client.routing_info().chains]
        one_error_line(_fs3(cluster, "cluster", "drain", str(node), check=False),
                       "no free target on another node", "Add a storage node")
        one_error_line(_fs3(cluster, "cluster", "remove", str(node), check=False), "drain it first")
        one_error_line(_fs3(cluster, "cluster", "drain", "999", check=False), "No such storage node")
        routing = client.routing_info()
        assert [(c.id, c.version, list(c.targets)) for c in routing.chains] == before
        assert not any(n.draining for n in routing.nodes)


def test_a_removed_node_cannot_come_back_under_its_id(cluster):
    _fs3(cluster, "node", "add", "--targets", "2", "--no-grow")
    with fs3.connect(cluster.meta[0]) as client:
        node = _node_of(client, cluster.process("storage-3").address)
        _fs3(cluster, "cluster", "drain", str(node))
        wait_for(lambda: not LocalCluster.load(cluster.data_dir).process("storage-3").alive(),
                 what="the removed node's process to exit")
        proc = _fs3(cluster, "node", "start", "storage-3", "--timeout", "30", check=False)
        assert proc.returncode == 1 and "new, empty target directories" in proc.stderr, proc.stderr
        assert "Traceback" not in proc.stderr
        assert node not in {n.id for n in client.routing_info().nodes}


def test_stopping_a_cluster_object_ends_the_nodes_other_commands_added(cluster):
    # `fs3 node add` in another process records storage-4 in the cluster file; the object made before it
    # must still stop it, and must not save it out of the record (`fs3 down` would then forget it)
    _fs3(cluster, "node", "add", "--targets", "1", "--no-grow")
    added = LocalCluster.load(cluster.data_dir).process("storage-4")
    assert added.alive()
    cluster.stop()
    wait_for(lambda: not added.alive(), what="the added node to stop")
    recorded = LocalCluster.load(cluster.data_dir)
    assert recorded.process("storage-4").pid == added.pid  # still on record
    assert not any(p.alive() for p in recorded.processes)
