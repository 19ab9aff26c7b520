"""The cluster manager loop: one decision-maker at a time (a lease in the KV store), and chains that
react to heartbeats. Time is a fake clock moved by the test: leases and heartbeats expire exactly when
the test says, however slow the machine."""

from __future__ import annotations

import logging
import threading

from _timing import FakeClock

from fs3.meta._cluster import ClusterManager
from fs3.meta._manager import ManagerLoop
from fs3.proto import cluster_pb2


def test_one_manager_at_a_time(kv):
    clock = FakeClock()
    cluster = ClusterManager(kv, clock=clock)
    a = ManagerLoop(cluster, lease=5.0, holder="a")
    b = ManagerLoop(cluster, lease=5.0, holder="b")
    assert a.clock is clock  # the manager's clock unless told otherwise
    assert a._take_lease() and not b._take_lease()
    clock.advance(4.9)
    assert a._take_lease()  # renewing its own lease...
    clock.advance(4.9)
    assert not b._take_lease()  # ...which runs from the renewal, not from the first take
    clock.advance(0.2)  # a stopped renewing: its lease ran out
    assert b._take_lease() and not a._take_lease()


def test_a_lease_ends_at_its_expiry_instant(kv):
    clock = FakeClock()
    cluster = ClusterManager(kv)
    a = ManagerLoop(cluster, lease=1.0, holder="a", clock=clock)
    b = ManagerLoop(cluster, lease=1.0, holder="b", clock=clock)
    assert a._take_lease()
    clock.now_ns += 10**9 - 1
    assert not b._take_lease()  # one nanosecond before expiry a still holds it
    clock.now_ns += 1
    assert b._take_lease() and not a._take_lease()


def _register_three(cluster: ClusterManager) -> list[tuple[int, int]]:
    ids = []
    for i in range(3):
        reply = cluster.register(cluster_pb2.RegisterNodeRequest(
            address=f"127.0.0.{i + 2}:1", targets=[cluster_pb2.TargetRegistration(path=f"/t{i}")]))
        ids.append((reply.node_id, reply.target_ids[0]))
    cluster.create_chains(3)
    return ids


def _beat(cluster: ClusterManager, node: int, target: int, local=cluster_pb2.UPTODATE) -> None:
    cluster.heartbeat(cluster_pb2.HeartbeatRequest(node_id=node, targets=[
        cluster_pb2.TargetReport(id=target, local_state=local, chain_version=next(  # (fresh routing info)
            (c.version for c in cluster.routing().routing.chains if target in c.targets), 0))]))


def test_a_silent_node_goes_offline_and_to_the_end_of_its_chains(kv):
    clock = FakeClock()
    cluster = ClusterManager(kv, heartbeat_timeout=5.0, clock=clock)
    ids = _register_three(cluster)
    manager = ManagerLoop(cluster)
    assert manager.scan() == 0  # everyone heard from: nothing changes
    (chain,) = cluster.routing().routing.chains
    silent_node, silent_target = next((n, t) for n, t in ids if t == chain.targets[0])  # the head goes quiet
    clock.advance(5.0)
    assert manager.scan() == 0  # silent for exactly the timeout: still alive
    clock.advance(0.001)
    for node, target in ids:
        if node != silent_node:
            _beat(cluster, node, target)
    assert manager.scan() == 1
    routing = cluster.routing().routing
    (after,) = routing.chains
    assert after.version == chain.version + 1
    assert after.targets[-1] == silent_target and after.targets[0] != silent_target
    states = {t.id: t.public_state for t in routing.targets}
    assert states[silent_target] == cluster_pb2.OFFLINE
    assert [n.state for n in routing.nodes if n.id == silent_node] == [cluster_pb2.NODE_DOWN]
    # An operator's offline flag does the same to a live target.
    live = after.targets[0]
    cluster.set_target_offline(live, True)
    for node, target in ids:
        _beat(cluster, node, target)
    manager.scan()
    states = {t.id: t.public_state for t in cluster.routing().routing.targets}
    assert states[live] == cluster_pb2.OFFLINE


def test_a_node_heard_from_again_is_up_without_a_scan(kv):
    clock = FakeClock()
    cluster = ClusterManager(kv, heartbeat_timeout=5.0, clock=clock)
    (node, target), *_ = _register_three(cluster)
    clock.advance(6.0)
    assert {n.id: n.state for n in cluster.routing().routing.nodes}[node] == cluster_pb2.NODE_DOWN
    _beat(cluster, node, target)
    assert {n.id: n.state for n in cluster.routing().routing.nodes}[node] == cluster_pb2.NODE_UP


def test_the_loop_announces_bids_scans_and_outlives_a_failed_pass(kv, caplog):
    cluster = ClusterManager(kv, clock=FakeClock())
    _register_three(cluster)
    manager = ManagerLoop(cluster, interval=0.001, holder="a", address="127.0.0.1:7000")
    scans = []
    second = threading.Event()

    def scan():  # the first pass fails (the KV store was away), the loop goes on
        scans.append(threading.current_thread().name)
        if len(scans) == 1:
            raise RuntimeError("KV store unreachable")
        second.set()
        return 0

    manager.scan = scan
    with caplog.at_level(logging.ERROR, logger="fs3.meta._manager"):
        manager.start()
        assert second.wait(60)
        manager.stop()
    assert not manager._thread.is_alive()  # stop woke it and waited for it
    assert manager.is_leader and set(scans) == {"cluster-manager"}
    assert "127.0.0.1:7000" in cluster.routing().routing.meta_addresses  # announced on its first pass
    assert [r.message for r in caplog.records] == ["cluster manager pass failed"]
