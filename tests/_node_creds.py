"""Node credentials in an attacker's (or a test's) hands: the cluster secret read from a local cluster
(what root on the meta host can do), node tokens minted from it, and what they let one do to a
storage node directly: list a target's chunks, and remove or install one chunk on one chain member
without its chain (an UPDATE with FLAG_SYNC, recovery's path). ``from _node_creds import ...``."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path

import grpc

from fs3 import _token, _wire
from fs3._auth import NodeSigner
from fs3._checksum import crc32c
from fs3._data_client import NodeConnection
from fs3._rpc import call
from fs3._wire import ChainRef, ChunkId
from fs3.proto import cluster_pb2, storage_pb2, storage_pb2_grpc


def cluster_secret(data_dir: Path) -> bytes:
    """The secret that signs node tokens, as root on the meta host reads it from a local cluster: its
    own file (``fs3 up`` keeps it in DATA/cluster.secret, 0600), else the KV store (older clusters)."""
    secret_file = Path(data_dir) / "cluster.secret"
    if secret_file.exists():
        return bytes.fromhex(secret_file.read_text().strip())
    db = Path(data_dir) / "meta" / "meta.db"
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        row = conn.execute("SELECT v FROM kv WHERE k = ?", (b"SECR",)).fetchone()
    assert row is not None, f"no cluster secret in {db}"
    return bytes(row[0])


def _target_node(routing: cluster_pb2.RoutingInfo, target_id: int) -> cluster_pb2.NodeInfo:
    target = next(t for t in routing.targets if t.id == target_id)
    return next(n for n in routing.nodes if n.id == target.node_id)


def list_chunks(secret: bytes, routing: cluster_pb2.RoutingInfo, target_id: int) -> dict[tuple[int, int], tuple]:
    """Every chunk on a target: (inode, index) -> (committed version, checksum, pending version)."""
    node = _target_node(routing, target_id)
    with grpc.insecure_channel(node.address) as channel:
        reply = call(storage_pb2_grpc.StorageStub(channel).ListChunks,
                     storage_pb2.ListChunksRequest(target_id=target_id, limit=100_000), timeout=30,
                     what="storage", metadata=NodeSigner(secret, "test").metadata())
    out = {}
    for c in reply.chunks:
        out[(int.from_bytes(c.key[:8], "big"), int.from_bytes(c.key[8:], "big"))] = (
            c.committed_version, c.checksum, c.pending_version)
    return out


def forge_update(secret: bytes, routing: cluster_pb2.RoutingInfo, target_id: int, chunk: ChunkId, *,
                 data: bytes | None = None, version: int = 1) -> int:
    """On one member of the chunk's chain (not its head, which takes no UPDATE), remove the chunk
    (``data`` None) or install ``data`` as its committed ``version``, as recovery would, and nothing
    else: no other member hears of it. Returns the UPDATE's status (0: done)."""
    target = next(t for t in routing.targets if t.id == target_id)
    chain = next(c for c in routing.chains if c.id == target.chain_id)
    node = _target_node(routing, target_id)
    flags = _wire.FLAG_SYNC | (_wire.FLAG_REMOVE if data is None else 0)
    payload = data or b""
    item = _wire.UpdateItem.of(ChainRef(chain.id, chain.version), chunk, 0 if data is None else version,
                               len(payload), 0, crc32c(payload) if payload else 0)
    token = _token.sign(secret, _token.TokenClaims(expiry=int(time.time()) + 600, uid=0, gid=0, client="forger",
                                                   role=_token.ROLE_NODE))

    async def send() -> int:
        conn = await NodeConnection.open(node.data_address, token, None, "forger")
        try:
            return (await conn.send_update(item, payload or None, flags)).status
        finally:
            conn.close()

    return asyncio.run(send())
