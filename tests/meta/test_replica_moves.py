"""Replica moves: draining a node and growing the chain table. The planners are pure functions over ids;
the manager's part runs on a real KV store with a fake clock and heartbeats sent by the test."""

from __future__ import annotations

import pytest
from _timing import FakeClock

from fs3._errors import InvalidArgument, NotPermitted, Status
from fs3.meta._chain_moves import Layout, plan_drain, plan_growth
from fs3.meta._cluster import ClusterManager
from fs3.meta._manager import ManagerLoop
from fs3.proto import cluster_pb2


def _layout(chains, nodes, free=(), retired=(), draining=(), moving=()):
    """``nodes``: target -> node."""
    return Layout(chains={i + 1: list(c) for i, c in enumerate(chains)}, node_of=dict(nodes), free=list(free),
                  clean=set(nodes) - set(retired), draining=set(draining), moving=set(moving))


def _nodes_of(layout, members):
    return [layout.node_of[t] for t in members]


# -- planners ----------------------------------------------------------------------------------------

def test_drain_moves_each_replica_to_a_node_its_chain_does_not_use():
    # 4 nodes x 2 targets (target = 10*node + k); two chains on nodes 1,2,3; node 4's targets free
    nodes = {10 * n + k: n for n in range(1, 5) for k in (1, 2)}
    layout = _layout([[11, 21, 31], [12, 22, 32]], nodes, free=[41, 42])
    moves = plan_drain(layout, 1)
    assert sorted((m.chain, m.from_target) for m in moves) == [(1, 11), (2, 12)]
    assert sorted(m.to_target for m in moves) == [41, 42]  # never the same free target twice


def test_drain_refuses_when_a_replica_has_nowhere_to_go_and_says_what_to_do():
    nodes = {1: 1, 2: 2, 3: 3, 4: 3}  # the only free target is on a node the chain already uses
    layout = _layout([[1, 2, 3]], nodes, free=[4])
    with pytest.raises(InvalidArgument, match="no free target on another node for chain 1.*Add a storage node"):
        plan_drain(layout, 1)
    with pytest.raises(InvalidArgument, match="already moving"):
        plan_drain(_layout([[1, 2, 3]], {1: 1, 2: 2, 3: 3, 4: 4}, free=[4], moving=[1]), 1)


def test_drain_skips_other_draining_nodes_and_prefers_clean_targets():
    nodes = {1: 1, 2: 2, 3: 3, 4: 4, 5: 5, 6: 6}
    layout = _layout([[1, 2, 3]], nodes, free=[4, 5, 6], retired=[5], draining=[6])
    (move,) = plan_drain(layout, 1)
    assert move.to_target == 4


def test_growth_with_free_targets_on_enough_nodes_makes_chains_without_moving():
    nodes = {10 * n + k: n for n in range(1, 7) for k in (1,)}
    layout = _layout([[11, 21, 31]], nodes, free=[41, 51, 61])
    chains, moves = plan_growth(layout, 3)
    assert moves == [] and len(chains) == 1 and sorted(chains[0]) == [41, 51, 61]


@pytest.mark.parametrize("new_targets", [1, 2, 3, 4, 6])
def test_a_new_node_gets_every_clean_target_into_a_chain_moving_as_little_as_it_takes(new_targets):
    # 3 nodes x 2 targets, 2 chains of 3; a 4th node joins with new_targets targets
    nodes = {10 * n + k: n for n in range(1, 4) for k in (1, 2)}
    nodes.update({40 + k: 4 for k in range(1, new_targets + 1)})
    free = [40 + k for k in range(1, new_targets + 1)]
    layout = _layout([[11, 21, 31], [12, 22, 32]], nodes, free=free)
    chains, moves = plan_growth(layout, 3)
    placed = {m.to_target for m in moves} | {t for c in chains for t in c}
    stuck = set(free) - placed
    # every new target serves a chain, unless every chain already uses node 4
    chains_after = len(layout.chains) + len(chains)
    assert len(stuck) <= max(0, new_targets - chains_after)
    assert len({m.chain for m in moves}) == len(moves)  # one move per chain at a time
    for c in chains:  # a new chain: distinct nodes, a clean member first (it serves at once)
        assert len(set(_nodes_of(layout, c))) == 3 and c[0] in layout.clean
    for m in moves:  # a move never puts two replicas of a chain on one node
        after = [m.to_target if t == m.from_target else t for t in layout.chains[m.chain]]
        assert len(set(_nodes_of(layout, after))) == 3
    # as few moves as it takes: each new chain needs at most one clean target of node 4 and two freed ones
    assert len(moves) <= new_targets - len(chains) + len(chains) * 2


def test_growth_leaves_retired_targets_alone_without_a_clean_one_to_serve():
    nodes = {1: 1, 2: 2, 3: 3, 4: 4, 5: 5, 6: 6}
    layout = _layout([[1, 2, 3]], nodes, free=[4, 5, 6], retired=[4, 5, 6])
    assert plan_growth(layout, 3) == ([], [])


# -- the manager -------------------------------------------------------------------------------------

def _register(cluster, address: str, targets: int = 1, node_id: int = 0):
    return cluster.register(cluster_pb2.RegisterNodeRequest(
        node_id=node_id, address=address,
        targets=[cluster_pb2.TargetRegistration(path=f"/{address}/t{k}") for k in range(targets)]))


def _beat_all(cluster, nodes: dict[int, list[int]], states: dict[int, int], versions: dict[int, int] | None = None):
    """Each node reports ``states`` of its targets, for the chain versions it knows (``versions``: target ->
    version; default: the current ones, as a node with fresh routing info)."""
    if versions is None:
        versions = {t: c.version for c in cluster.routing().routing.chains for t in c.targets}
    for node, targets in nodes.items():
        cluster.heartbeat(cluster_pb2.HeartbeatRequest(node_id=node, targets=[
            cluster_pb2.TargetReport(id=t, local_state=states.get(t, cluster_pb2.ONLINE),
                                     chain_version=versions.get(t, 0)) for t in targets]))


def _beat_as_nodes_do(cluster, nodes: dict[int, list[int]]):
    """Each node reports what a storage node would: up to date while serving, and once its sync is done
    (at once here); online otherwise."""
    public = {t.id: t.public_state for t in cluster.routing().routing.targets}
    done = (cluster_pb2.SERVING, cluster_pb2.SYNCING)
    _beat_all(cluster, nodes, {t: cluster_pb2.UPTODATE for t, p in public.items() if p in done})


def _states(cluster):
    return {t.id: t for t in cluster.routing().routing.targets}


def test_a_drained_node_hands_its_replica_over_and_is_removed(kv):
    clock = FakeClock()
    cluster = ClusterManager(kv, clock=clock)
    nodes = {}
    for i in range(3):
        r = _register(cluster, f"127.0.0.{i + 2}:1")
        nodes[r.node_id] = list(r.target_ids)
    cluster.create_chains(3)
    spare = _register(cluster, "127.0.0.9:1")  # joins after the chains: free
    nodes[spare.node_id] = list(spare.target_ids)
    (new_target,) = spare.target_ids
    manager = ManagerLoop(cluster)
    (chain,) = cluster.routing().routing.chains
    drained_node = next(n for n, ts in nodes.items() if ts[0] == chain.targets[0])  # drain the head's node
    old_target = nodes[drained_node][0]

    assert not cluster.drain_node(drained_node, dry_run=True).moves[0].started_ns  # a dry run changes nothing
    assert len(cluster.routing().routing.chains[0].targets) == 3
    reply = cluster.drain_node(drained_node)
    assert [(m.from_target, m.to_target) for m in reply.moves] == [(old_target, new_target)]
    routing = cluster.routing().routing
    assert list(routing.chains[0].targets) == [*chain.targets, new_target]  # at the tail, waiting
    assert routing.chains[0].version == chain.version + 1 and len(routing.moves) == 1
    assert [n.draining for n in routing.nodes if n.id == drained_node] == [True]
    with pytest.raises(InvalidArgument, match="still holds replicas"):
        cluster.remove_node(drained_node)

    serving = {t: cluster_pb2.UPTODATE for ts in nodes.values() for t in ts if t != new_target}
    # The new target's node has not yet seen it join (a new target registers as serving, in no chain):
    # its "up to date", said of no chain, must not make a member that never synced serve.
    _beat_all(cluster, nodes, {**serving, new_target: cluster_pb2.UPTODATE}, versions={
        t: c.version for c in cluster.routing().routing.chains for t in c.targets if t != new_target})
    manager.scan()
    manager.scan()
    assert _states(cluster)[new_target].public_state == cluster_pb2.SYNCING  # taken as online: it syncs
    _beat_all(cluster, nodes, serving)
    manager.scan()
    assert _states(cluster)[new_target].public_state == cluster_pb2.SYNCING
    stale = cluster.routing().routing.chains[0].version - 1  # said of the version before it began to sync
    _beat_all(cluster, nodes, {**serving, new_target: cluster_pb2.UPTODATE}, versions={
        **{t: c.version for c in cluster.routing().routing.chains for t in c.targets}, new_target: stale})
    manager.scan()
    assert _states(cluster)[new_target].public_state == cluster_pb2.SYNCING
    _beat_all(cluster, nodes, {**serving, new_target: cluster_pb2.UPTODATE})  # its sync is done
    manager.scan()
    assert _states(cluster)[new_target].public_state == cluster_pb2.SERVING
    manager.scan()  # the move ends: the old replica leaves
    routing = cluster.routing().routing
    members = list(routing.chains[0].targets)
    assert old_target not in members and new_target in members and len(members) == 3
    assert all(_states(cluster)[t].public_state == cluster_pb2.SERVING for t in members)
    assert not routing.moves
    old = _states(cluster)[old_target]
    assert old.chain_id == 0 and old.retired

    removed = cluster.remove_node(drained_node)
    assert list(removed.target_ids) == [old_target]
    routing = cluster.routing().routing
    assert drained_node not in {n.id for n in routing.nodes} and old_target not in {t.id for t in routing.targets}
    # the removed node may neither beat nor come back under its id
    with pytest.raises(NotPermitted, match="removed") as e:
        cluster.heartbeat(cluster_pb2.HeartbeatRequest(node_id=drained_node))
    assert e.value.status == Status.NODE_REMOVED
    with pytest.raises(NotPermitted, match="new, empty target directories"):
        _register(cluster, "127.0.0.2:1", node_id=drained_node)


def test_growth_moves_a_replica_onto_a_new_node_and_retired_targets_join_by_syncing(kv):
    clock = FakeClock()
    cluster = ClusterManager(kv, clock=clock)
    nodes = {}
    for i in range(3):
        r = _register(cluster, f"127.0.0.{i + 2}:1")
        nodes[r.node_id] = list(r.target_ids)
    cluster.create_chains(3)
    r = _register(cluster, "127.0.0.9:1", targets=3)  # three targets on one new node
    nodes[r.node_id] = list(r.target_ids)
    manager = ManagerLoop(cluster)
    assert cluster.create_chains(3).chains == []  # one node alone cannot make a chain of three
    reply = cluster.grow_chains()
    assert len(reply.moves) == 1 and not reply.chains  # the one chain takes one new target
    move = reply.moves[0]
    for _ in range(4):
        _beat_as_nodes_do(cluster, nodes)
        manager.scan()
    assert not cluster.routing().routing.moves
    assert _states(cluster)[move.from_target].retired
    assert cluster.grow_chains(dry_run=True).moves == []  # nothing more to move: no other chain to take one
