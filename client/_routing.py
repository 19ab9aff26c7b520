"""The client's cache of the cluster's routing info: chains, their targets and the nodes serving them."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from fs3._errors import StaleRouting, Unavailable
from fs3.proto import cluster_pb2


class RoutingCache:
    def __init__(self, fetch: Callable[[int], Awaitable[cluster_pb2.GetRoutingInfoReply]]):
        self._fetch = fetch
        self.info = cluster_pb2.RoutingInfo()
        self._chains: dict[int, cluster_pb2.ChainInfo] = {}
        self._targets: dict[int, cluster_pb2.TargetInfo] = {}
        self._nodes: dict[int, cluster_pb2.NodeInfo] = {}
        self._readers: dict[int, tuple[list[str], int]] = {}
        self._refreshing: asyncio.Future | None = None

    @property
    def version(self) -> int:
        return self.info.version

    async def refresh(self) -> None:
        """Fetch the routing info if it changed; concurrent callers share one fetch."""
        if self._refreshing is None:
            self._refreshing = asyncio.ensure_future(self._fetch(self.info.version))
        task = self._refreshing
        try:
            reply = await asyncio.shield(task)
        finally:
            if self._refreshing is task and task.done():
                self._refreshing = None
        self.install(reply)

    def install(self, reply: cluster_pb2.GetRoutingInfoReply) -> None:
        if reply.unchanged or reply.routing.version < self.info.version:
            return
        info = reply.routing
        self.info = info
        self._chains = {c.id: c for c in info.chains}
        self._targets = {t.id: t for t in info.targets}
        self._nodes = {n.id: n for n in info.nodes}
        self._readers = {}

    def chain(self, chain_id: int) -> cluster_pb2.ChainInfo:
        chain = self._chains.get(chain_id)
        if chain is None:
            raise StaleRouting(f"chain {chain_id} is not in the routing info (version {self.version})")
        return chain

    def chain_version(self, chain_id: int) -> int:
        chain = self._chains.get(chain_id)
        return chain.version if chain is not None else 0

    def _data_address(self, target_id: int) -> str:
        target = self._targets.get(target_id)
        node = self._nodes.get(target.node_id) if target else None
        if node is None or not node.data_address:
            raise Unavailable(f"target {target_id} has no reachable storage node in the routing info")
        return node.data_address

    def data_head(self, chain_id: int) -> tuple[str, int]:
        """Data-plane address of the node holding the chain's head target, and the chain version."""
        chain = self.chain(chain_id)
        if not chain.targets:
            raise Unavailable(f"chain {chain_id} has no targets")
        head = self._targets.get(chain.targets[0])
        if head is None or head.public_state != cluster_pb2.SERVING:
            raise Unavailable(f"chain {chain_id} has no serving head (waiting for its targets to come back)")
        return self._data_address(chain.targets[0]), chain.version

    def data_readers(self, chain_id: int) -> tuple[list[str], int]:
        """Data-plane addresses that may serve reads of the chain (its serving members)."""
        cached = self._readers.get(chain_id)
        if cached is not None:
            return cached
        chain = self.chain(chain_id)
        serving = [
            t for t in chain.targets
            if self._targets.get(t) is not None and self._targets[t].public_state == cluster_pb2.SERVING
        ]
        if not serving:
            raise Unavailable(f"chain {chain_id} has no serving target")
        readers = ([self._data_address(t) for t in serving], chain.version)
        self._readers[chain_id] = readers
        return readers

    def node_serving(self, data_address: str) -> bool:
        """Whether the node at ``data_address`` still has a target the manager has not declared down."""
        for node in self._nodes.values():
            if node.data_address == data_address:
                return any(t.node_id == node.id and t.public_state in (cluster_pb2.SERVING, cluster_pb2.SYNCING)
                           for t in self._targets.values())
        return False

    def data_socket(self, address: str) -> str:
        """The local socket of the node serving the data plane at ``address`` ("" if none)."""
        for node in self._nodes.values():
            if node.data_address == address:
                return node.data_socket
        return ""

    def ucx_address(self, address: str) -> str:
        """The UCX listener of the node serving the data plane at ``address`` ("" if none)."""
        for node in self._nodes.values():
            if node.data_address == address:
                return node.ucx_address
        return ""

    def data_addresses(self) -> list[str]:
        return sorted({n.data_address for n in self._nodes.values() if n.data_address})
