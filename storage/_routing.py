"""The storage node's copy of the routing info: which of its targets serves which chain, at what version.

Every chunk request names the chain and the chain version the client routed by. A request with an older
version is refused (the client refreshes and retries); a newer one makes the node refresh its own copy
first.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from fs3._errors import StaleRouting, Status
from fs3.proto import cluster_pb2

REFRESH_MIN_INTERVAL = 0.05


class NodeRouting:
    def __init__(self, fetch: Callable[[int], cluster_pb2.RoutingInfo | None]):
        self._fetch = fetch
        self._lock = threading.Lock()
        self._chains: dict[int, cluster_pb2.ChainInfo] = {}
        self._local: set[int] = set()
        self.version = 0
        self._last_refresh = 0.0

    def set_local_targets(self, target_ids) -> None:
        self._local = set(target_ids)

    def update(self, routing: cluster_pb2.RoutingInfo) -> None:
        with self._lock:
            if routing.version >= self.version:
                self._chains = {c.id: c for c in routing.chains}
                self.version = routing.version

    def refresh(self, *, force: bool = False) -> None:
        with self._lock:
            if not force and time.monotonic() - self._last_refresh < REFRESH_MIN_INTERVAL:
                return
            self._last_refresh = time.monotonic()
            known = self.version
        routing = self._fetch(known)
        if routing is not None:
            self.update(routing)

    def chain_version(self, chain_id: int) -> int:
        chain = self._chains.get(chain_id)
        return chain.version if chain is not None else 0

    def local_target(self, chain_id: int, chain_version: int, *, write: bool) -> int:
        """The id of this node's target in the chain, checked against the caller's chain version."""
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
            raise StaleRouting(
                f"chain {chain_id} has no target on this storage node", status=Status.TARGET_NOT_FOUND
            )
        if write and chain.targets[0] not in self._local:
            raise StaleRouting(
                f"writes to chain {chain_id} go to its head, target {chain.targets[0]}",
                status=Status.TARGET_NOT_SERVING,
            )
        return members[0]
