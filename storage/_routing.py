"""The storage node's copy of the routing info: which of its targets serves which chain, in what state,
at what version, and who comes next in each chain.

Every chunk request names the chain and the chain version the requester routed by. A request with an
older version is refused (the requester refreshes and retries); a newer one makes the node refresh its
own copy first. Reads are served only by SERVING targets, client writes only by a chain's head, and
updates forwarded along a chain only by its SERVING or SYNCING members.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from fs3._errors import StaleRouting, Status
from fs3.proto import cluster_pb2

REFRESH_MIN_INTERVAL = 0.05
SERVING = cluster_pb2.SERVING
SYNCING = cluster_pb2.SYNCING

READ, WRITE, UPDATE, ANY = "read", "write", "update", "any"


@dataclass(frozen=True)
class Peer:
    """The next member of a chain, where updates are forwarded."""

    target_id: int
    data_address: str
    data_socket: str
    public_state: int
    address: str = ""  # the node's gRPC address (control calls)


class NodeRouting:
    def __init__(self, fetch: Callable[[int], cluster_pb2.RoutingInfo | None]):
        self._fetch = fetch
        self._lock = threading.Lock()
        self._chains: dict[int, cluster_pb2.ChainInfo] = {}
        self._targets: dict[int, cluster_pb2.TargetInfo] = {}
        self._nodes: dict[int, cluster_pb2.NodeInfo] = {}
        self._tables: dict[int, list[int]] = {}
        self._local: set[int] = set()
        self.version = 0
        self._last_refresh = 0.0
        self.info = cluster_pb2.RoutingInfo()
        self.listeners: list[Callable[[], None]] = []  # called after each change

    def set_local_targets(self, target_ids) -> None:
        self._local = set(target_ids)

    def update(self, routing: cluster_pb2.RoutingInfo) -> bool:
        """Install a newer routing info; True when it changed."""
        with self._lock:
            if routing.version < self.version or (routing.version == self.version and self.version):
                return False
            self._chains = {c.id: c for c in routing.chains}
            self._targets = {t.id: t for t in routing.targets}
            self._nodes = {n.id: n for n in routing.nodes}
            self._tables = {t.id: list(t.chains) for t in routing.tables}
            self.version = routing.version
            self.info = routing
        for listener in self.listeners:
            listener()
        return True

    def refresh(self, *, force: bool = False) -> bool:
        with self._lock:
            if not force and time.monotonic() - self._last_refresh < REFRESH_MIN_INTERVAL:
                return False
            self._last_refresh = time.monotonic()
            known = self.version
        routing = self._fetch(known)
        return routing is not None and self.update(routing)

    def chain_version(self, chain_id: int) -> int:
        chain = self._chains.get(chain_id)
        return chain.version if chain is not None else 0

    def public_state(self, target_id: int) -> int:
        target = self._targets.get(target_id)
        return target.public_state if target is not None else cluster_pb2.PUBLIC_STATE_UNSPECIFIED

    def chain(self, chain_id: int) -> cluster_pb2.ChainInfo | None:
        return self._chains.get(chain_id)

    def table_chain(self, table_id: int, position: int) -> int:
        """The chain at ``position`` of chain table ``table_id`` (0: not known here)."""
        chains = self._tables.get(table_id)
        return chains[position] if chains is not None and position < len(chains) else 0

    def local_chains(self) -> list[tuple[cluster_pb2.ChainInfo, int]]:
        """(chain, this node's target in it) for every chain this node is part of."""
        out = []
        for chain in self._chains.values():
            for t in chain.targets:
                if t in self._local:
                    out.append((chain, t))
        return out

    def peer(self, target_id: int) -> Peer | None:
        target = self._targets.get(target_id)
        node = self._nodes.get(target.node_id) if target is not None else None
        if node is None or not node.data_address:
            return None
        return Peer(target_id, node.data_address, node.data_socket, target.public_state, node.address)

    def serving_peers(self, chain: cluster_pb2.ChainInfo, target_id: int) -> list[Peer]:
        """The chain's other SERVING members (where a damaged chunk can be fetched from)."""
        out = []
        for t in chain.targets:
            if t != target_id and self.public_state(t) == SERVING:
                peer = self.peer(t)
                if peer is not None:
                    out.append(peer)
        return out

    def successor(self, chain: cluster_pb2.ChainInfo, target_id: int) -> Peer | None:
        """The member after ``target_id`` that takes writes (SERVING or SYNCING), if any."""
        members = list(chain.targets)
        for t in members[members.index(target_id) + 1 :]:
            state = self.public_state(t)
            if state in (SERVING, SYNCING):
                return self.peer(t)
            return None  # waiting/offline members sit at the end and take no writes
        return None

    def local_target(self, chain_id: int, chain_version: int, *, role: str = READ) -> int:
        """This node's target in the chain, checked against the requester's chain version and against
        what the request needs: a SERVING target for a read, the SERVING head for a client write, a
        SERVING or SYNCING member after the head for a forwarded update."""
        chain = self._chains.get(chain_id)
        if chain is None or chain_version > chain.version:
            self.refresh()
            chain = self._chains.get(chain_id)
        if chain is None:
            raise StaleRouting(f"chain {chain_id} is unknown to this storage node", status=Status.TARGET_NOT_FOUND)
        if chain_version != chain.version:
            raise StaleRouting(
                f"stale routing: chain {chain_id} is at version {chain.version}, request used {chain_version}"
            )
        members = [t for t in chain.targets if t in self._local]
        if not members:
            raise StaleRouting(f"chain {chain_id} has no target on this storage node", status=Status.TARGET_NOT_FOUND)
        target = members[0]
        if role == ANY:
            return target
        state = self.public_state(target)
        if role == READ and state != SERVING:
            raise StaleRouting(f"target {target} does not serve reads now", status=Status.TARGET_NOT_SERVING)
        if role == WRITE and (chain.targets[0] != target or state != SERVING):
            raise StaleRouting(f"writes to chain {chain_id} go to its head, target {chain.targets[0]}",
                               status=Status.TARGET_NOT_SERVING)
        if role == UPDATE and (chain.targets[0] == target or state not in (SERVING, SYNCING)):
            raise StaleRouting(f"target {target} takes no forwarded updates now", status=Status.TARGET_NOT_SERVING)
        return target
