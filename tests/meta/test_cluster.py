"""The cluster manager: registration, heartbeats, chains, routing versions."""

from __future__ import annotations

import pytest

from fs3.meta._chain_table import plan_chains
from fs3.meta._cluster import ClusterManager
from fs3.proto import cluster_pb2


def register(m, node_id=0, address="127.0.0.2:1", paths=("/t",), ids=None):
    ids = ids or [0] * len(paths)
    return m.register(cluster_pb2.RegisterNodeRequest(
        node_id=node_id, address=address,
        targets=[cluster_pb2.TargetRegistration(id=i, path=p) for i, p in zip(ids, paths, strict=True)],
    ))


def test_registration_assigns_and_keeps_ids(kv):
    m = ClusterManager(kv)
    first = register(m, paths=("/a", "/b"))
    assert first.node_id == 1 and list(first.target_ids) == [1, 2]
    again = register(m, node_id=1, address="127.0.0.2:2", paths=("/a", "/b"), ids=list(first.target_ids))
    assert again.node_id == 1 and list(again.target_ids) == [1, 2]
    assert again.routing_version > first.routing_version
    routing = m.routing().routing
    assert [n.address for n in routing.nodes] == ["127.0.0.2:2"]


def test_a_target_cannot_move_to_another_node(kv):
    m = ClusterManager(kv)
    register(m, paths=("/a",))
    with pytest.raises(FileExistsError):
        register(m, address="127.0.0.3:1", paths=("/a",), ids=[1])


def test_chains_and_routing_versions(kv):
    m = ClusterManager(kv)
    for i in range(3):
        register(m, address=f"127.0.0.{i + 2}:1", paths=(f"/t{i}",))
    before = m.routing().routing.version
    reply = m.create_chains(1)
    assert len(reply.chains) == 3 and reply.table.version == 1
    routing = m.routing().routing
    assert routing.version > before
    assert m.routing(routing.version).unchanged
    assert {t.chain_id for t in routing.targets} == {1, 2, 3}
    assert m.create_chains(1).chains == []  # nothing left to place
    with pytest.raises(OSError):
        m.create_chains(3)  # the table was made with one replica


def test_heartbeat_from_unknown_node(kv):
    with pytest.raises(FileNotFoundError):
        ClusterManager(kv).heartbeat(cluster_pb2.HeartbeatRequest(node_id=42))


def test_plan_chains_spreads_over_nodes():
    chains = plan_chains({1: [11, 12], 2: [21, 22], 3: [31, 32]}, 1)
    assert [c[0] // 10 for c in chains] == [1, 2, 3, 1, 2, 3]
    triples = plan_chains({1: [11, 12], 2: [21, 22], 3: [31, 32]}, 3)
    assert len(triples) == 2 and all(len({t // 10 for t in c}) == 3 for c in triples)
    assert plan_chains({1: [11, 12]}, 2) == []


def test_a_restart_before_the_first_scan_leaves_the_other_members_serving(kv):
    """A node that registers again before the manager has judged anyone (no local states stored yet):
    only the restarted target leaves service; its peers, heard from at registration, keep serving."""
    m = ClusterManager(kv)
    regs = [register(m, address=f"127.0.0.{i + 2}:1", paths=(f"/t{i}",)) for i in range(3)]
    m.create_chains(3)
    (chain,) = m.routing().routing.chains
    restarted = regs[0]
    register(m, node_id=restarted.node_id, address="127.0.0.2:1", paths=("/t0",), ids=list(restarted.target_ids))
    states = {t.id: t.public_state for t in m.routing().routing.targets}
    (after,) = m.routing().routing.chains
    assert states[restarted.target_ids[0]] == cluster_pb2.OFFLINE
    assert [states[t] for t in after.targets if t != restarted.target_ids[0]] == [cluster_pb2.SERVING] * 2
    assert after.version > chain.version
