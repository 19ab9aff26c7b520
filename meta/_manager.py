"""The cluster manager's decisions: one meta server at a time (the holder of a lease in the KV store)
scans every chain, derives each target's local state from its node's last heartbeat, applies the
target state table (_chain_states.py) and writes the new chain orders and public states, bumping each
changed chain's version and the routing version. Every meta server runs this loop; all but one only
renew their bid for the lease.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable

from fs3._periodic import PeriodicThread
from fs3.proto import cluster_pb2

from . import _keys as keys
from . import _replica_moves
from ._chain_states import LOCAL_OFFLINE, ONLINE, SERVING, UPTODATE, Member
from ._cluster import ClusterManager, _bump_routing, _scan, advance_chain
from ._unreachable import suspected

log = logging.getLogger(__name__)


def _judged(report, info: cluster_pb2.TargetInfo, chain: cluster_pb2.ChainInfo) -> int:
    """A live node's report on a target of ``chain``. Up to date counts for a target not serving only
    when the node said it of this very chain version: a node that has not yet seen the target join a
    chain (a new target is registered as serving, in no chain) or move on would otherwise make a
    member that never synced serve."""
    if report is None or not report.local_state:
        return ONLINE
    if (report.local_state == UPTODATE and info.public_state != SERVING
            and report.chain_version != chain.version):
        return ONLINE
    return report.local_state


class ManagerLoop:
    """Every meta server's manager thread: bids for the decision lease each ``interval`` and, while it
    holds it, scans the chains. ``clock`` (Unix time in ns) defaults to the cluster manager's, so a test
    that fakes one fakes both: leases and heartbeats expire when it is advanced, not by waiting."""

    def __init__(self, cluster: ClusterManager, *, interval: float = 0.5, lease: float = 5.0,
                 holder: str | None = None, address: str = "", clock: Callable[[], int] | None = None):
        self.cluster = cluster
        self.clock = clock or cluster.clock
        self.kv = cluster.kv
        self.interval = interval
        self.lease = lease
        self.holder = holder or f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"
        self.is_leader = False
        self.address = address          # this meta server's, announced to clients via routing info
        self.changes = 0
        self._ticks = 0
        self._thread = PeriodicThread("cluster-manager", interval, self._pass, log=log,
                                      failure="cluster manager pass failed")

    def _take_lease(self) -> bool:
        now = self.clock()

        def run(txn):
            raw = txn.get(keys.MANAGER_LEASE)
            lease = cluster_pb2.ManagerLease.FromString(raw) if raw else None
            if lease is not None and lease.holder != self.holder and lease.expiry_ns > now:
                return False
            txn.set(keys.MANAGER_LEASE, cluster_pb2.ManagerLease(
                holder=self.holder, expiry_ns=now + int(self.lease * 1e9)).SerializeToString())
            return True

        leader = self.kv.transact(run)
        if leader != self.is_leader:
            log.info("cluster manager: %s the decision lease", "took" if leader else "lost")
        self.is_leader = leader
        return leader

    def scan(self) -> int:
        """One pass over every chain; returns how many chains changed."""
        now = self.clock()

        def run(txn):
            targets = {t.id: t for t in _scan(txn, keys.TARGET, cluster_pb2.TargetInfo)}
            beats = {b.node_id: b for b in _scan(txn, keys.HEARTBEAT, cluster_pb2.NodeHeartbeat)}
            reports = {r.id: r for b in beats.values() for r in b.targets}
            suspects = suspected(txn, now, self.cluster.unreachable_quorum, self.cluster.unreachable_window)
            changed = 0
            dirty_targets = set()
            chains = []

            def serves(tid: int) -> bool:  # (counted on to serve the chain if a suspect leaves it)
                info = targets[tid]
                return (info.public_state == SERVING and not info.admin_offline and info.node_id not in suspects
                        and self.cluster.node_alive(beats.get(info.node_id), now))

            for chain in _scan(txn, keys.CHAIN, cluster_pb2.ChainInfo):
                members = []
                chains.append((chain, members))
                for tid in chain.targets:
                    info = targets[tid]
                    if info.admin_offline or not self.cluster.node_alive(beats.get(info.node_id), now):
                        local = LOCAL_OFFLINE
                    elif info.node_id in suspects and any(serves(t) for t in chain.targets if t != tid):
                        local = LOCAL_OFFLINE  # clients cannot reach it: out, while another replica serves
                    else:
                        local = _judged(reports.get(tid), info, chain)
                    if info.local_state != local:
                        info.local_state = local
                        dirty_targets.add(tid)
                    members.append(Member(tid, info.public_state, local))
            for tid in dirty_targets:  # local states first: advance_chain writes what it changes itself
                txn.set(keys.target(tid), targets[tid].SerializeToString())
            moved = _replica_moves.finish(txn, {c.id: c for c, _ in chains}, targets, now)
            if moved:  # a move's old member left: judge the chains as they are now
                chains = [(c, [m for m in members if m.target in c.targets]) for c, members in chains]
                changed += moved
            for chain, members in chains:
                changed += advance_chain(txn, chain, members, targets, now_ns=now)
            if changed or dirty_targets:
                _bump_routing(txn)
            return changed

        changed = self.kv.transact(run)
        self.changes += changed
        return changed

    def start(self) -> None:
        self._thread.start()

    def _pass(self) -> None:
        """One tick: announce this server (every 2 s), bid for the lease and, holding it, scan."""
        if self.address and self._ticks % max(1, int(2.0 / self.interval)) == 0:
            self.cluster.announce(self.address)
        self._ticks += 1
        if self._take_lease():
            self.scan()

    def request_stop(self) -> None:
        self._thread.request_stop()

    def stop(self) -> None:
        self._thread.stop()
