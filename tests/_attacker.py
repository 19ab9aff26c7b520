"""What an attacker with an ordinary fs3 token can do by hand on the data plane: get a data-plane token
from meta, find which node holds a chunk (all public), and speak the wire protocol to it directly
(``from _attacker import wire``)."""

from __future__ import annotations

import asyncio

import grpc

from fs3 import _wire
from fs3._data_client import NodeConnection
from fs3._rpc import CHANNEL_OPTIONS, call
from fs3.proto import cluster_pb2, cluster_pb2_grpc


def data_token(cluster, token: str) -> bytes:
    """What any user gets from meta: a data-plane token (its HELLO)."""
    channel = grpc.insecure_channel(cluster.meta[0], options=CHANNEL_OPTIONS)
    try:
        reply = call(cluster_pb2_grpc.ClusterStub(channel).GetDataToken, cluster_pb2.GetDataTokenRequest(client="x"),
                     metadata=(("authorization", f"Bearer {token}"),))
    finally:
        channel.close()
    return reply.token


def chunk_home(client, st, index: int = 0) -> tuple[str, int, int]:
    """(data address of the node holding chunk ``index``, chain id, chain version): all public."""
    routing = client.routing_info()
    chain_id = st.chains[index % st.stripe]
    chain = next(c for c in routing.chains if c.id == chain_id)
    target = next(t for t in routing.targets if t.id == chain.targets[0])
    node = next(n for n in routing.nodes if n.id == target.node_id)
    return node.data_address, chain.id, chain.version


def wire(address: str, token: bytes, frames) -> list:
    """Connect as the wire client does, send ``frames`` (GRANTs as raw bytes, then requests), and
    return each request's result."""
    async def run():
        conn = await NodeConnection.open(address, token, None, "mallory")
        try:
            futures = []
            for frame in frames:
                if isinstance(frame, bytes):
                    conn.transport.write(frame)
                elif isinstance(frame, _wire.ReadItem):
                    futures.append(_first(conn.send_read([frame], [memoryview(bytearray(frame.length))])))
                else:
                    item, data = frame
                    futures.append(conn.send_write(item, data))
            return [await asyncio.wait_for(f, 30) for f in futures]
        finally:
            conn.close()
    return asyncio.run(run())


async def _first(future):
    return (await future)[0]
