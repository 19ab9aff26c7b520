"""Each target's recorded public-state changes (TargetInfo.history): what the manager decided, with the
local state it judged by, the chain version and the time; bounded, and shown in the routing info."""

from __future__ import annotations

from _timing import FakeClock

from fs3.meta._cluster import HISTORY_LIMIT, ClusterManager
from fs3.meta._manager import ManagerLoop
from fs3.proto import cluster_pb2

S = cluster_pb2


def _cluster(kv):
    clock = FakeClock()
    cluster = ClusterManager(kv, heartbeat_timeout=5.0, clock=clock)
    ids = []
    for i in range(3):
        reply = cluster.register(S.RegisterNodeRequest(
            address=f"127.0.0.{i + 2}:1", targets=[S.TargetRegistration(path=f"/t{i}")]))
        ids.append((reply.node_id, reply.target_ids[0]))
    cluster.create_chains(3)
    return clock, cluster, ids, ManagerLoop(cluster)


def _beat(cluster, nodes, local=S.UPTODATE, only=None):
    for node, target in nodes:
        state = local if only is None or target == only else S.UPTODATE
        version = next((c.version for c in cluster.routing().routing.chains if target in c.targets), 0)
        cluster.heartbeat(S.HeartbeatRequest(node_id=node, targets=[
            S.TargetReport(id=target, local_state=state, chain_version=version)]))  # (a node with fresh routing)


def _history(cluster, target):
    info = next(t for t in cluster.routing(with_history=True).routing.targets if t.id == target)
    return [(h.public_state, h.local_state, h.chain_version, h.time_ns) for h in info.history]


def test_a_new_target_starts_serving_and_a_quiet_one_needs_no_new_entries(kv):
    clock, cluster, ids, manager = _cluster(kv)
    start = clock()
    for _node, target in ids:
        assert _history(cluster, target) == [(S.SERVING, S.LOCAL_STATE_UNSPECIFIED, 0, start)]
    for _ in range(3):
        clock.advance(1)
        _beat(cluster, ids)
        manager.scan()
    for _node, target in ids:
        assert len(_history(cluster, target)) == 1


def test_an_outage_is_recorded_through_recovery_in_order(kv):
    clock, cluster, ids, manager = _cluster(kv)
    manager.scan()
    (chain,) = cluster.routing().routing.chains
    victim = chain.targets[0]
    others = [(n, t) for n, t in ids if t != victim]
    clock.advance(6)  # the victim's heartbeats stop
    _beat(cluster, others)
    manager.scan()
    down_at = clock()
    clock.advance(1)  # it comes back, recovering
    _beat(cluster, ids, local=S.ONLINE, only=victim)
    manager.scan()
    sync_at = clock()
    clock.advance(1)  # recovery done
    _beat(cluster, ids)
    manager.scan()
    v = chain.version
    assert _history(cluster, victim)[1:] == [
        (S.OFFLINE, S.LOCAL_OFFLINE, v + 1, down_at),
        (S.SYNCING, S.ONLINE, v + 2, sync_at),
        (S.SERVING, S.UPTODATE, v + 3, clock()),
    ]
    (after,) = cluster.routing().routing.chains
    assert after.version == v + 3
    for _node, target in others:  # the others kept serving: nothing to record
        assert [h[0] for h in _history(cluster, target)] == [S.SERVING]


def test_a_restart_is_recorded_as_the_offline_transition(kv):
    clock, cluster, ids, manager = _cluster(kv)
    _beat(cluster, ids)
    manager.scan()
    node, target = ids[1]
    clock.advance(0.5)
    cluster.register(S.RegisterNodeRequest(node_id=node, address="127.0.0.3:1",
                                           targets=[S.TargetRegistration(id=target, path="/t1")]))
    (public, local, _version, at), = _history(cluster, target)[1:]
    assert (public, local, at) == (S.OFFLINE, S.LOCAL_OFFLINE, clock())


def test_history_keeps_the_last_entries_only(kv):
    clock, cluster, ids, manager = _cluster(kv)
    _beat(cluster, ids)
    manager.scan()
    target = ids[2][1]
    expected = [(S.SERVING, clock())]
    for _ in range(HISTORY_LIMIT):  # two changes a round: taken offline, let back in (it then waits)
        for offline, state in ((True, S.OFFLINE), (False, S.WAITING)):
            clock.advance(1)
            cluster.set_target_offline(target, offline)
            _beat(cluster, ids)
            manager.scan()
            expected.append((state, clock()))
    history = _history(cluster, target)
    assert [(h[0], h[3]) for h in history] == expected[-HISTORY_LIMIT:]  # the newest, oldest first
    versions = [h[2] for h in history]
    assert versions == list(range(versions[0], versions[0] + HISTORY_LIMIT))  # each change a new version


def test_the_history_travels_only_to_those_who_ask(kv):
    """Every client and node fetches the routing info at each version bump: the history (for operators)
    is left out of it unless asked for, and the dashboard's view has it."""
    _clock, cluster, ids, _manager = _cluster(kv)
    plain = cluster.routing().routing
    assert plain.targets and all(not t.history for t in plain.targets)
    assert all(t.history for t in cluster.routing(with_history=True).routing.targets)
    view, _beats = cluster.view()
    assert all(t.history for t in view.targets)
