"""The cluster manager loop: one decision-maker at a time (a lease in the KV store), and chains that
react to heartbeats."""

from __future__ import annotations

import time

from fs3.meta._cluster import ClusterManager
from fs3.meta._manager import ManagerLoop
from fs3.proto import cluster_pb2


def test_one_manager_at_a_time(kv):
    cluster = ClusterManager(kv)
    a = ManagerLoop(cluster, lease=0.3, holder="a")
    b = ManagerLoop(cluster, lease=0.3, holder="b")
    assert a._take_lease() and not b._take_lease()
    assert a._take_lease()  # renewing its own lease
    time.sleep(0.4)         # a stopped renewing: its lease ran out
    assert b._take_lease() and not a._take_lease()


def test_a_silent_node_goes_offline_and_to_the_end_of_its_chains(kv):
    cluster = ClusterManager(kv, heartbeat_timeout=0.2)
    ids = []
    for i in range(3):
        reply = cluster.register(cluster_pb2.RegisterNodeRequest(
            address=f"127.0.0.{i + 2}:1", targets=[cluster_pb2.TargetRegistration(path=f"/t{i}")]))
        ids.append((reply.node_id, reply.target_ids[0]))
    cluster.create_chains(3)
    manager = ManagerLoop(cluster)
    assert manager.scan() == 0  # everyone heard from: nothing changes
    (chain,) = cluster.routing().routing.chains
    silent_node, silent_target = next((n, t) for n, t in ids if t == chain.targets[0])  # the head goes quiet
    time.sleep(0.3)
    for node, target in ids:
        if node != silent_node:
            cluster.heartbeat(cluster_pb2.HeartbeatRequest(node_id=node, targets=[
                cluster_pb2.TargetReport(id=target, local_state=cluster_pb2.UPTODATE)]))
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
        cluster.heartbeat(cluster_pb2.HeartbeatRequest(node_id=node, targets=[
            cluster_pb2.TargetReport(id=target, local_state=cluster_pb2.UPTODATE)]))
    manager.scan()
    states = {t.id: t.public_state for t in cluster.routing().routing.targets}
    assert states[live] == cluster_pb2.OFFLINE
