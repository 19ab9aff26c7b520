"""The cluster manager's records: storage nodes register and heartbeat; nodes, targets, chains, the
chain table and each node's last heartbeat live in the KV store (so any meta server can take them and the
one holding the manager lease acts on them, see _manager.py); clients fetch the versioned routing info
built from them.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from pathlib import Path

from fs3 import _token
from fs3._errors import AlreadyExists, InvalidArgument, NotFound, NotPermitted, Status
from fs3.proto import cluster_pb2

from . import _keys as keys
from . import _replica_moves, _unreachable
from ._chain_table import plan_chains
from ._secret_file import load_secret
from .kv import KVStore

log = logging.getLogger(__name__)

CHAIN_TABLE_ID = 1
DATA_TOKEN_LIFETIME = 3600.0  # seconds; clients renew before expiry
HISTORY_LIMIT = 16  # public-state changes kept per target (shown to operators, not sent to every client)


def _next_id(txn, kind: str) -> int:
    raw = txn.get(keys.id_counter(kind))
    n = (keys.read_u64(raw) if raw else 0) + 1
    txn.set(keys.id_counter(kind), keys.u64(n))
    return n


def _ensure_counter_above(txn, kind: str, n: int) -> None:
    raw = txn.get(keys.id_counter(kind))
    if (keys.read_u64(raw) if raw else 0) < n:
        txn.set(keys.id_counter(kind), keys.u64(n))


def _bump_routing(txn) -> int:
    raw = txn.get(keys.ROUTING_VERSION)
    version = (keys.read_u64(raw) if raw else 0) + 1
    txn.set(keys.ROUTING_VERSION, keys.u64(version))
    return version


def _scan(txn, prefix: bytes, message):
    begin, end = keys.prefix_range(prefix)
    return [message.FromString(v) for _, v in txn.get_range(begin, end)]


META_SERVER_TIMEOUT = 15.0  # seconds after its last announcement that a meta server leaves the list


class ClusterManager:
    """The cluster's records in the KV store: registration and heartbeats of storage nodes, chains and
    the chain table, meta servers' announcements, and the routing info built from them.

    Every meta server has one and any of them answers these calls: the records live in the KV store,
    each change in one transaction, and every change to chains or targets bumps the routing version that
    clients and nodes compare. Decisions about target states (the 3FS state table) are not made here but
    by the one ``ManagerLoop`` holding the manager lease (meta/_manager.py). ``clock`` gives Unix time
    in ns (tests pass a fake one to expire heartbeats without waiting)."""

    def __init__(
        self,
        kv: KVStore,
        *,
        heartbeat_interval: float = 1.0,
        heartbeat_timeout: float = 5.0,
        meta_addresses: list[str] | None = None,
        clock: Callable[[], int] = time.time_ns,
        secret_file: Path | None = None,
        unreachable_quorum: int = _unreachable.QUORUM,
        unreachable_window: float = _unreachable.WINDOW,
    ):
        self.kv = kv
        self.unreachable_quorum = unreachable_quorum  # reporters that must agree (meta/_unreachable.py)
        self.unreachable_window = unreachable_window
        self.secret_file = secret_file
        self.clock = clock
        self.heartbeat_interval = heartbeat_interval
        self.heartbeat_timeout = heartbeat_timeout
        self.meta_addresses = list(meta_addresses or [])
        self._secret = b""

    # -- storage nodes -----------------------------------------------------------------------------

    def register(self, req: cluster_pb2.RegisterNodeRequest) -> cluster_pb2.RegisterNodeReply:
        if not req.address:
            raise InvalidArgument("Invalid argument: a node must register with its address")
        paths = [t.path for t in req.targets]
        if len(set(paths)) != len(paths):
            raise InvalidArgument("Invalid argument: the same target directory is listed twice")
        now = self.clock()

        def run(txn):
            node_id = req.node_id
            if node_id and txn.get(keys.removed_node(node_id)) is not None:
                raise NotPermitted(
                    f"node {node_id} was drained and removed from the cluster; to bring this machine back, "
                    "start its storage service with new, empty target directories", status=Status.NODE_REMOVED)
            if node_id:
                _ensure_counter_above(txn, "node", node_id)
            else:
                node_id = _next_id(txn, "node")
            raw = txn.get(keys.node(node_id))
            node = cluster_pb2.NodeInfo.FromString(raw) if raw else cluster_pb2.NodeInfo(id=node_id)
            node.address, node.hostname, node.pid, node.registered_ns = req.address, req.hostname, req.pid, now
            node.data_address, node.data_socket, node.ucx_address = req.data_address, req.data_socket, req.ucx_address
            txn.set(keys.node(node_id), node.SerializeToString())
            target_ids = []
            restarted: list[int] = []
            for reg in req.targets:
                target_id = reg.id
                info = None
                if target_id:
                    _ensure_counter_above(txn, "target", target_id)
                    raw = txn.get(keys.target(target_id))
                    info = cluster_pb2.TargetInfo.FromString(raw) if raw else None
                    if info is not None and info.node_id != node_id:
                        raise AlreadyExists(
                            f"target {target_id} ({reg.path}) belongs to node {info.node_id}, not {node_id}"
                        )
                else:
                    target_id = _next_id(txn, "target")
                if info is None:  # a new, empty target: nothing to recover
                    info = cluster_pb2.TargetInfo(id=target_id, node_id=node_id, public_state=cluster_pb2.SERVING)
                    record_transition(info, cluster_pb2.SERVING, 0, 0, now)
                else:
                    restarted.append(target_id)
                info.path, info.direct_io = reg.path, reg.direct_io
                txn.set(keys.target(target_id), info.SerializeToString())
                target_ids.append(target_id)
            # A known target registering again has restarted, maybe faster than the heartbeat timeout,
            # so the manager never saw it go: it may have missed updates. Its chains go through the
            # offline transition now, and it comes back by syncing (or as lastsrv when it alone holds
            # the chain's latest data), never by serving what it had.
            _demote_restarted(txn, set(restarted), now)
            beat = cluster_pb2.NodeHeartbeat(node_id=node_id, received_ns=now)
            txn.set(keys.heartbeat(node_id), beat.SerializeToString())
            version = _bump_routing(txn)
            return node_id, target_ids, version

        node_id, target_ids, version = self.kv.transact(run)
        return cluster_pb2.RegisterNodeReply(
            node_id=node_id, target_ids=target_ids, routing_version=version,
            heartbeat_interval_ms=int(self.heartbeat_interval * 1000), cluster_secret=self.secret(),
            lease_ms=int(self.node_lease * 1000),
        )

    @property
    def node_lease(self) -> float:
        """How long a node may go without reaching meta before it stops serving: well inside the time
        after which the manager declares it offline, so a cut-off node has fenced itself first."""
        return max(self.heartbeat_interval, self.heartbeat_timeout * 2 / 3)

    # -- data-plane admission ----------------------------------------------------------------------

    def secret(self) -> bytes:
        """The cluster secret: from the secret file when there is one (meta/_secret_file.py), else made
        once and kept in the KV store (shared by every meta server)."""
        if not self._secret and self.secret_file is not None:
            self._secret = load_secret(self.secret_file, self.kv)
        if not self._secret:
            def run(txn):
                value = txn.get(keys.CLUSTER_SECRET)
                if value is None:
                    value = os.urandom(32)
                    txn.set(keys.CLUSTER_SECRET, value)
                return value

            self._secret = self.kv.transact(run)
        return self._secret

    def data_token(self, client: str, uid: int = 0, gid: int = 0) -> cluster_pb2.GetDataTokenReply:
        # real time, not self.clock: storage nodes check the expiry against their own clocks
        expiry = int(time.time() + DATA_TOKEN_LIFETIME)
        token = _token.sign(self.secret(), _token.TokenClaims(expiry=expiry, uid=uid, gid=gid, client=client))
        return cluster_pb2.GetDataTokenReply(token=token, expiry_unix=expiry)

    def heartbeat(self, req: cluster_pb2.HeartbeatRequest) -> cluster_pb2.HeartbeatReply:
        beat = cluster_pb2.NodeHeartbeat(node_id=req.node_id, received_ns=self.clock(), targets=req.targets,
                                         stats=req.stats)

        def run(txn):
            if txn.get(keys.node(req.node_id)) is None:  # (also a node another meta server removed)
                if txn.get(keys.removed_node(req.node_id)) is not None:
                    raise NotPermitted(f"node {req.node_id} was drained and removed from the cluster",
                                       status=Status.NODE_REMOVED)
                raise NotFound(f"node {req.node_id} is not registered", status=Status.NODE_NOT_FOUND)
            txn.set(keys.heartbeat(req.node_id), beat.SerializeToString())
            raw = txn.get(keys.ROUTING_VERSION)
            return keys.read_u64(raw) if raw else 0

        version = self.kv.transact(run)
        return cluster_pb2.HeartbeatReply(routing_version=version)

    def routing_version(self) -> int:
        raw = self.kv.transact(lambda txn: txn.get(keys.ROUTING_VERSION), readonly=True)
        return keys.read_u64(raw) if raw else 0

    def node_alive(self, beat: cluster_pb2.NodeHeartbeat | None, now_ns: int) -> bool:
        return beat is not None and now_ns - beat.received_ns <= self.heartbeat_timeout * 1e9

    # -- routing info ------------------------------------------------------------------------------

    # -- meta servers ------------------------------------------------------------------------------

    def announce(self, address: str) -> None:
        """Record that the meta server at ``address`` lives (every few seconds); a server new to the
        list bumps the routing version so that clients learn of it."""
        now = self.clock()

        def run(txn):
            raw = txn.get(keys.meta_server(address))
            if raw is None or now - keys.read_u64(raw) > META_SERVER_TIMEOUT * 1e9:
                _bump_routing(txn)
            txn.set(keys.meta_server(address), keys.u64(now))

        self.kv.transact(run)

    def _live_meta_servers(self, txn) -> list[str]:
        now = self.clock()
        begin, end = keys.prefix_range(keys.META_SERVER)
        live = [k[len(keys.META_SERVER):].decode() for k, v in txn.get_range(begin, end)
                if now - keys.read_u64(v) <= META_SERVER_TIMEOUT * 1e9]
        return list(dict.fromkeys([*self.meta_addresses, *live]))

    def routing(self, known_version: int = 0, *, with_history: bool = False) -> cluster_pb2.GetRoutingInfoReply:
        """The routing info, unless the caller's ``known_version`` is current. Targets carry their state
        history only ``with_history``: every client and node fetches the routing info at each version
        bump, and the history is for operators (it would make a target's record several times larger)."""

        def run(txn):
            raw = txn.get(keys.ROUTING_VERSION)
            version = keys.read_u64(raw) if raw else 0
            if known_version and known_version == version:
                return None, None
            routing = cluster_pb2.RoutingInfo(
                version=version,
                nodes=_scan(txn, keys.NODE, cluster_pb2.NodeInfo),
                targets=_scan(txn, keys.TARGET, cluster_pb2.TargetInfo),
                chains=_scan(txn, keys.CHAIN, cluster_pb2.ChainInfo),
                tables=_scan(txn, keys.CHAIN_TABLE, cluster_pb2.ChainTable),
                meta_addresses=self._live_meta_servers(txn),
                moves=_replica_moves.current_moves(txn),
            )
            return routing, _scan(txn, keys.HEARTBEAT, cluster_pb2.NodeHeartbeat)

        routing, beats = self.kv.transact(run, readonly=True)
        if routing is None:
            return cluster_pb2.GetRoutingInfoReply(unchanged=True)
        if not with_history:
            for target in routing.targets:
                target.ClearField("history")
        self._merge_live_state(routing, {b.node_id: b for b in beats})
        return cluster_pb2.GetRoutingInfoReply(routing=routing)

    def view(self) -> tuple[cluster_pb2.RoutingInfo, dict[int, cluster_pb2.NodeHeartbeat]]:
        """The routing info with live state merged, and each node's last heartbeat (with its counters):
        what the admin API and /metrics show."""
        routing = self.routing(with_history=True).routing
        beats = self.kv.transact(lambda txn: _scan(txn, keys.HEARTBEAT, cluster_pb2.NodeHeartbeat), readonly=True)
        return routing, {b.node_id: b for b in beats}

    def _merge_live_state(self, routing: cluster_pb2.RoutingInfo, beats: dict[int, cluster_pb2.NodeHeartbeat]) -> None:
        """Node liveness and per-target usage from the last heartbeats (they do not change the routing
        version: only what the manager decides from them does)."""
        now = self.clock()
        up = set()
        for node in routing.nodes:
            beat = beats.get(node.id)
            alive = self.node_alive(beat, now)
            node.state = cluster_pb2.NODE_UP if alive else cluster_pb2.NODE_DOWN
            node.last_heartbeat_ns = beat.received_ns if beat else 0
            if alive:
                up.add(node.id)
        reports = {r.id: r for beat in beats.values() for r in beat.targets}
        for target in routing.targets:
            report = reports.get(target.id)
            if report is not None:
                target.used_bytes, target.chunk_count = report.used_bytes, report.chunk_count
                target.free_bytes, target.corruptions, target.repairs = (
                    report.free_bytes, report.corruptions, report.repairs
                )
                target.sync_percent = report.sync_percent
                target.lost_chunks = report.lost_chunks
                target.local_state = report.local_state
            if target.node_id not in up:
                target.local_state = cluster_pb2.LOCAL_OFFLINE

    def report_unreachable(self, address: str, reporter: str) -> bool:
        """A client cannot reach the node at ``address`` (see meta/_unreachable.py); whether enough
        clients agree now (the manager takes its targets out at its next pass)."""
        return _unreachable.report(self.kv, address, reporter, self.clock(), self.unreachable_quorum,
                                   self.unreachable_window)

    # -- operators ---------------------------------------------------------------------------------

    def set_target_offline(self, target_id: int, offline: bool) -> cluster_pb2.TargetInfo:
        """Take a target out of service (its chain moves on without it), or let it back in."""

        def run(txn):
            raw = txn.get(keys.target(target_id))
            if raw is None:
                raise NotFound(f"No such target: {target_id}")
            info = cluster_pb2.TargetInfo.FromString(raw)
            if info.admin_offline != offline:
                info.admin_offline = offline
                txn.set(keys.target(target_id), info.SerializeToString())
                _bump_routing(txn)
            return info

        return self.kv.transact(run)

    # -- chains ------------------------------------------------------------------------------------

    def create_chains(self, replicas: int, table_id: int = 0) -> cluster_pb2.CreateChainTableReply:
        """Group every target not yet in a chain into new chains of ``replicas`` targets and append them
        to the chain table (creating it). Idempotent: with no free targets nothing changes."""
        if replicas < 1 or replicas > 16:
            raise InvalidArgument(f"Invalid argument: replicas must be 1..16, not {replicas}")
        table_id = table_id or CHAIN_TABLE_ID

        def run(txn):
            raw = txn.get(keys.chain_table(table_id))
            table = cluster_pb2.ChainTable.FromString(raw) if raw else cluster_pb2.ChainTable(
                id=table_id, replicas=replicas
            )
            if table.replicas != replicas:
                raise InvalidArgument(
                    f"Invalid argument: chain table {table_id} has {table.replicas} replicas, not {replicas}"
                )
            targets = _scan(txn, keys.TARGET, cluster_pb2.TargetInfo)
            draining = {n.id for n in _scan(txn, keys.NODE, cluster_pb2.NodeInfo) if n.draining}
            free: dict[int, list[int]] = {}
            for t in targets:  # (retired targets rejoin through `grow`, which makes them sync first)
                if not t.chain_id and not t.retired and not t.admin_offline and t.node_id not in draining:
                    free.setdefault(t.node_id, []).append(t.id)
            planned = plan_chains(free, replicas)
            by_id = {t.id: t for t in targets}
            new = []
            for members in planned:
                chain = cluster_pb2.ChainInfo(id=_next_id(txn, "chain"), version=1, targets=members)
                txn.set(keys.chain(chain.id), chain.SerializeToString())
                for target_id in members:
                    by_id[target_id].chain_id = chain.id
                    txn.set(keys.target(target_id), by_id[target_id].SerializeToString())
                table.chains.append(chain.id)
                new.append(chain)
            if new or raw is None:
                table.version += 1
                txn.set(keys.chain_table(table_id), table.SerializeToString())
                _bump_routing(txn)
            return table, new

        table, new = self.kv.transact(run)
        return cluster_pb2.CreateChainTableReply(table=table, chains=new)

    def drain_node(self, node_id: int, dry_run: bool = False) -> cluster_pb2.ReplicaMovesReply:
        """Move every replica of ``node_id`` to a free target of another node (meta/_replica_moves.py)."""
        now = self.clock()
        return self.kv.transact(lambda txn: _replica_moves.drain(txn, node_id, dry_run, now, _bump_routing))

    def grow_chains(self, table_id: int = 0, dry_run: bool = False) -> cluster_pb2.ReplicaMovesReply:
        """Give free targets chains: new chains, or replicas moved onto them (meta/_chain_moves.py)."""
        now = self.clock()
        return self.kv.transact(lambda txn: _replica_moves.grow(txn, table_id or CHAIN_TABLE_ID, dry_run, now,
                                                                _bump_routing, _next_id))

    def remove_node(self, node_id: int) -> cluster_pb2.RemoveNodeReply:
        """Forget a drained node and its targets; it may not register again under its id."""
        now = self.clock()
        reply = self.kv.transact(lambda txn: _replica_moves.remove_node(txn, node_id, now, _bump_routing))
        return reply


def record_transition(info: cluster_pb2.TargetInfo, public: int, local: int, chain_version: int,
                      now_ns: int) -> None:
    """Append a public-state change to the target's history, keeping the last HISTORY_LIMIT."""
    info.history.add(public_state=public, local_state=local, chain_version=chain_version, time_ns=now_ns)
    if len(info.history) > HISTORY_LIMIT:
        del info.history[: len(info.history) - HISTORY_LIMIT]


def advance_chain(txn, chain: cluster_pb2.ChainInfo, members: list, targets: dict, why: str = "", *,
                  now_ns: int) -> bool:
    """Apply one round of the state table to ``chain`` (members with the local states to judge by) in
    ``txn``: the new order under a new chain version, and changed public states on the targets (each
    recorded in its history at ``now_ns``). Returns whether the chain changed; the caller bumps the
    routing version."""
    from ._chain_states import next_chain

    new = next_chain(members)
    if [(m.target, m.public) for m in new] == [(m.target, m.public) for m in members]:
        return False
    log.info("chain %d v%d -> v%d: %s%s", chain.id, chain.version, chain.version + 1,
             " ".join(f"{m.target}:{cluster_pb2.PublicState.Name(m.public).lower()}" for m in new), why)
    chain.version += 1
    del chain.targets[:]
    chain.targets.extend(m.target for m in new)
    txn.set(keys.chain(chain.id), chain.SerializeToString())
    for m in new:
        info = targets[m.target]
        if info.public_state != m.public:
            info.public_state = m.public
            record_transition(info, m.public, m.local, chain.version, now_ns)
            txn.set(keys.target(m.target), info.SerializeToString())
    return True


def _demote_restarted(txn, restarted: set[int], now_ns: int) -> None:
    """Known targets that registered again (their node restarted): their chains take the offline
    transition now, judged with these targets offline."""
    from ._chain_states import LOCAL_OFFLINE, ONLINE, Member

    if not restarted:
        return
    targets = {t.id: t for t in _scan(txn, keys.TARGET, cluster_pb2.TargetInfo)}
    for tid in restarted:
        targets[tid].local_state = LOCAL_OFFLINE
        txn.set(keys.target(tid), targets[tid].SerializeToString())
    for chain in _scan(txn, keys.CHAIN, cluster_pb2.ChainInfo):
        if restarted.intersection(chain.targets):
            # a peer not yet judged by any scan (no local state stored) is taken as alive, as a scan
            # takes a live node that has not reported yet: it must not leave service for this restart
            members = [Member(t, targets[t].public_state, targets[t].local_state or ONLINE) for t in chain.targets]
            advance_chain(txn, chain, members, targets, " (a member restarted)", now_ns=now_ns)
