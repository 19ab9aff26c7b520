"""The client's cache of the cluster's routing info: chains, their targets and the nodes serving them."""

from __future__ import annotations

import threading
from collections.abc import Callable

from fs3._errors import StaleRouting, Unavailable
from fs3.proto import cluster_pb2


class RoutingCache:
    def __init__(self, fetch: Callable[[int], cluster_pb2.GetRoutingInfoReply]):
        self._fetch = fetch
        self._lock = threading.Lock()
        self.info = cluster_pb2.RoutingInfo()
        self._chains: dict[int, cluster_pb2.ChainInfo] = {}
        self._targets: dict[int, cluster_pb2.TargetInfo] = {}
        self._nodes: dict[int, cluster_pb2.NodeInfo] = {}

    @property
    def version(self) -> int:
        return self.info.version

    def refresh(self) -> None:
        self.install(self._fetch(self.info.version))

    def install(self, reply: cluster_pb2.GetRoutingInfoReply) -> None:
        if reply.unchanged:
            return
        with self._lock:
            info = reply.routing
            self.info = info
            self._chains = {c.id: c for c in info.chains}
            self._targets = {t.id: t for t in info.targets}
            self._nodes = {n.id: n for n in info.nodes}

    def chain(self, chain_id: int) -> cluster_pb2.ChainInfo:
        chain = self._chains.get(chain_id)
        if chain is None:
            raise StaleRouting(f"chain {chain_id} is not in the routing info (version {self.version})")
        return chain

    def _address(self, target_id: int) -> str:
        target = self._targets.get(target_id)
        node = self._nodes.get(target.node_id) if target else None
        if node is None or not node.address:
            raise Unavailable(f"target {target_id} has no reachable node in the routing info")
        return node.address

    def head(self, chain_id: int) -> tuple[str, int]:
        """Address of the node holding the chain's head target, and the chain version."""
        chain = self.chain(chain_id)
        if not chain.targets:
            raise Unavailable(f"chain {chain_id} has no targets")
        return self._address(chain.targets[0]), chain.version

    def readers(self, chain_id: int) -> tuple[list[str], int]:
        """Addresses that may serve reads of the chain (serving members), and the chain version."""
        chain = self.chain(chain_id)
        serving = [
            t for t in chain.targets
            if self._targets.get(t) is not None and self._targets[t].public_state == cluster_pb2.SERVING
        ]
        if not serving:
            raise Unavailable(f"chain {chain_id} has no serving target")
        return [self._address(t) for t in serving], chain.version
