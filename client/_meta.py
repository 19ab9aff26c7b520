"""The client's connection to the meta service (namespace and cluster calls), on grpc.aio."""

from __future__ import annotations

import asyncio
import time

import grpc
import grpc.aio

from fs3._errors import Unavailable
from fs3._rpc import CHANNEL_OPTIONS, acall, error_from_rpc
from fs3.proto import cluster_pb2, cluster_pb2_grpc, meta_pb2_grpc

_CLUSTER_METHODS = {"RegisterNode", "Heartbeat", "GetRoutingInfo", "CreateChainTable", "GetDataToken",
                    "SetTargetOffline"}


class MetaConnection:
    def __init__(self, address: str, *, timeout: float = 60.0):
        self.address = address
        self.timeout = timeout
        self._channel = grpc.aio.insecure_channel(address, options=CHANNEL_OPTIONS)
        self.meta = meta_pb2_grpc.MetaStub(self._channel)
        self.cluster = cluster_pb2_grpc.ClusterStub(self._channel)

    async def connect(self, timeout: float) -> cluster_pb2.GetRoutingInfoReply:
        """Fetch the routing info, waiting up to ``timeout`` for a server that is still starting; a
        refused connection (nobody listening) fails after a few quick tries instead."""
        deadline = time.monotonic() + timeout
        refused = 0
        while True:
            remaining = deadline - time.monotonic()
            try:
                return await self.cluster.GetRoutingInfo(
                    cluster_pb2.GetRoutingInfoRequest(), timeout=max(0.1, remaining), wait_for_ready=False
                )
            except grpc.RpcError as err:
                if err.code() not in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
                    raise error_from_rpc(err, f"meta {self.address}") from None
                refused += "refused" in (err.details() or "").lower()
                if refused >= 5 or time.monotonic() + 0.1 >= deadline:
                    raise Unavailable(
                        f"cannot reach the fs3 meta server at {self.address} "
                        "(is the cluster running? start one with `fs3 up`)"
                    ) from None
                await asyncio.sleep(0.1)

    async def __call__(self, method: str, request, *, timeout: float | None = None):
        stub = self.cluster if method in _CLUSTER_METHODS else self.meta
        return await acall(getattr(stub, method), request, timeout=timeout or self.timeout,
                           what=f"meta {self.address}")

    async def routing(self, known_version: int = 0) -> cluster_pb2.GetRoutingInfoReply:
        return await self("GetRoutingInfo", cluster_pb2.GetRoutingInfoRequest(known_version=known_version))

    async def close(self) -> None:
        await self._channel.close()
