"""The client's connection to the meta service (namespace and cluster calls)."""

from __future__ import annotations

import time

import grpc

from fs3._errors import Unavailable
from fs3._rpc import CHANNEL_OPTIONS, call, error_from_rpc
from fs3.proto import cluster_pb2, cluster_pb2_grpc, meta_pb2_grpc


class MetaConnection:
    def __init__(self, address: str, *, timeout: float = 60.0):
        self.address = address
        self.timeout = timeout
        self._channel = grpc.insecure_channel(address, options=CHANNEL_OPTIONS)
        self.meta = meta_pb2_grpc.MetaStub(self._channel)
        self.cluster = cluster_pb2_grpc.ClusterStub(self._channel)

    def connect(self, timeout: float) -> cluster_pb2.GetRoutingInfoReply:
        """Fetch the routing info, waiting up to ``timeout`` for a server that is still starting; a
        refused connection (nobody listening) fails after a few quick tries instead."""
        deadline = time.monotonic() + timeout
        refused = 0
        while True:
            remaining = deadline - time.monotonic()
            try:
                return self.cluster.GetRoutingInfo(
                    cluster_pb2.GetRoutingInfoRequest(), timeout=max(0.1, remaining), wait_for_ready=False
                )
            except grpc.RpcError as err:
                if err.code() != grpc.StatusCode.UNAVAILABLE and err.code() != grpc.StatusCode.DEADLINE_EXCEEDED:
                    raise error_from_rpc(err, f"meta {self.address}") from None
                refused += "refused" in (err.details() or "").lower()
                if refused >= 5 or time.monotonic() + 0.1 >= deadline:
                    raise Unavailable(
                        f"cannot reach the fs3 meta server at {self.address} "
                        "(is the cluster running? start one with `fs3 up`)"
                    ) from None
                time.sleep(0.1)

    def __call__(self, method: str, request, *, timeout: float | None = None):
        stub = self.cluster if method in _CLUSTER_METHODS else self.meta
        return call(getattr(stub, method), request, timeout=timeout or self.timeout, what=f"meta {self.address}")

    def routing(self, known_version: int = 0) -> cluster_pb2.GetRoutingInfoReply:
        return self("GetRoutingInfo", cluster_pb2.GetRoutingInfoRequest(known_version=known_version))

    def close(self) -> None:
        self._channel.close()


_CLUSTER_METHODS = {"RegisterNode", "Heartbeat", "GetRoutingInfo", "CreateChainTable"}
