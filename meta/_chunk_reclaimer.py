"""Meta's own storage calls: removing and shortening a file's chunks (truncate, garbage collection).

Routes by the routing info in the KV store; a chain's head applies the change (and, with replication,
passes it down the chain).
"""

from __future__ import annotations

import threading
from pathlib import Path

import grpc

from fs3._auth import NodeSigner
from fs3._errors import StaleRouting, Unavailable
from fs3._layout import chain_of
from fs3._retry import Backoff
from fs3._rpc import CHANNEL_OPTIONS, call
from fs3._tls import channel as open_channel
from fs3.proto import cluster_pb2, common_pb2, meta_pb2, storage_pb2, storage_pb2_grpc

from ._cluster import ClusterManager
from .ops import ChunkReclaimer

RETRY_TIMEOUT = 30.0


class GrpcChunkReclaimer(ChunkReclaimer):
    def __init__(self, cluster: ClusterManager, timeout: float = 10.0, *, ca: Path | None = None):
        self._cluster = cluster
        self._ca = ca  # the storage nodes' CA when TLS is on
        self._timeout = timeout
        self._lock = threading.Lock()
        self._channels: dict[str, grpc.Channel] = {}
        self._signer = NodeSigner(cluster.secret, "meta")

    def _head(self, chain_id: int) -> tuple[storage_pb2_grpc.StorageStub, int]:
        routing = self._cluster.routing().routing
        chain = next((c for c in routing.chains if c.id == chain_id), None)
        if chain is None or not chain.targets:
            raise StaleRouting(f"chain {chain_id} does not exist")
        target = next(t for t in routing.targets if t.id == chain.targets[0])
        node = next((n for n in routing.nodes if n.id == target.node_id), None)
        if node is None or node.state != cluster_pb2.NODE_UP:
            raise Unavailable(f"the head of chain {chain_id} (target {target.id}) is on a node that is down")
        with self._lock:
            channel = self._channels.get(node.address)
            if channel is None:
                channel = open_channel(node.address, self._ca, CHANNEL_OPTIONS)
                self._channels[node.address] = channel
        return storage_pb2_grpc.StorageStub(channel), chain.version

    def _retrying(self, chain_id: int, send) -> None:
        """Send to the chain's head, retrying through failover (a chain reconfigures within a few
        heartbeat timeouts) until ``RETRY_TIMEOUT``."""
        backoff = Backoff(RETRY_TIMEOUT)
        while True:
            try:
                stub, version = self._head(chain_id)
                send(stub, version)
                return
            except (StaleRouting, Unavailable):
                if backoff.expired:
                    raise
                backoff.sleep()

    def remove_chunks(self, inode: meta_pb2.Inode, from_index: int) -> None:
        for chain_id in set(inode.layout.chains):
            self._retrying(chain_id, lambda stub, version, chain_id=chain_id: call(
                stub.RemoveChunks,
                storage_pb2.RemoveChunksRequest(
                    chain_id=chain_id, chain_version=version, inode=inode.id, from_index=from_index
                ),
                timeout=self._timeout, what="storage", metadata=self._signer.metadata(),
            ))

    def truncate_chunk(self, inode: meta_pb2.Inode, index: int, length: int) -> None:
        layout = inode.layout
        chain_id = chain_of(layout.chains, layout.stripe, index)
        self._retrying(chain_id, lambda stub, version: call(
            stub.TruncateChunk,
            storage_pb2.TruncateChunkRequest(
                chain_id=chain_id, chain_version=version,
                chunk=common_pb2.ChunkId(inode=inode.id, index=index), length=length,
            ),
            timeout=self._timeout, what="storage", metadata=self._signer.metadata(),
        ))

    def close(self) -> None:
        with self._lock:
            for channel in self._channels.values():
                channel.close()
            self._channels.clear()
