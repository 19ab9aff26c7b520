"""Scrub at a chain's head: repair the chunks that the chain's serving members disagree on.

Meta (meta/_scrub.py) compares the members' chunk lists and hands the head each chunk that differs, with
its verdict: live (its file still needs it) or garbage. The head takes the chunk's lock, the one every
write, truncation and removal of that chunk holds at the head while it travels the chain, so nothing
changes the chunk meanwhile; it looks again at its own copy and every serving member's (QueryChunk),
then:

- a pending version anywhere (an update in flight, or a failed one the next write rolls forward): left
  alone;
- garbage: removed from every member that holds it (``FLAG_SYNC | FLAG_REMOVE``: no member passes it
  on), then from the head;
- live, committed at the head: the head's copy is the chain's. Every update enters at the head and the
  head commits last, so with nothing pending every acknowledged version reached it; a member that holds
  nothing, or another version or content, lost it (a forged or half-applied removal; versions start
  again at 1 after a removal, so even a higher version elsewhere is a stale one). The head's copy goes
  to it with ``FLAG_SYNC``, recovery's send path;
- live, missing at the head: the copy of the first member in chain order that holds it (the newest, as
  versions only move down a chain) is read whole, checked against the checksum that member recorded,
  installed at the head and sent to the others. Meta judges such a chunk again afterwards and has it
  removed if its file went meanwhile.

Members that are syncing are recovery's, and are neither compared nor touched.
"""

from __future__ import annotations

import array
import asyncio
import logging
import time

from fs3 import _wire
from fs3._checksum import block_crcs
from fs3._errors import FS3Error, StaleRouting
from fs3._metrics import OpCounters
from fs3._rpc import call
from fs3._wire import ChainRef, ChunkId
from fs3.proto import common_pb2, storage_pb2

from ._chunk_store import chunk_checksum
from ._recovery import Recovery
from ._replication import Replicator
from ._routing import SERVING, NodeRouting, Peer
from ._target import Target

log = logging.getLogger(__name__)

QUERY_TIMEOUT = 30.0


class Scrubber:
    """The head's side of a chain scrub (see the module docstring). It counts in ``ops``, the node's
    data-plane counters that heartbeats carry to meta's ``/metrics`` (``fs3_storage_requests``): ``scrub``,
    the chunks meta compared in this head's chains; ``scrub_repair``, the chunks restored or removed
    somewhere (its errors: those that could not be). It reaches its peers through recovery's channels and
    send and fetch paths (node credentials only)."""

    def __init__(self, routing: NodeRouting, replicator: Replicator, recovery: Recovery,
                 ops: OpCounters | None = None):
        self.routing = routing
        self.replicator = replicator
        self.recovery = recovery
        self.ops = ops or OpCounters()

    def _members(self, chain: ChainRef, head: int) -> list[Peer]:
        """The chain's serving members after the head, in chain order."""
        info = self.routing.chain(chain.chain_id)
        if info is None or info.version != chain.chain_version:
            raise StaleRouting(f"chain {chain.chain_id} moved on from version {chain.chain_version}")
        out = []
        for t in info.targets:
            if t != head and self.routing.public_state(t) == SERVING:
                peer = self.routing.peer(t)
                if peer is not None:
                    out.append(peer)
        return out

    async def scrub(self, target: Target, chain: ChainRef, chunks: list[tuple[ChunkId, bool]],
                    compared: int = 0) -> list[storage_pb2.ScrubbedChunk]:
        """Repair each of ``chunks`` (chunk, live) of ``chain``, whose head ``target`` is; one result each.
        ``compared``: how many chunks meta compared to find them (counted)."""
        begun = time.perf_counter()
        members = self._members(chain, target.target_id)
        out = []
        for chunk, live in chunks:
            started = time.perf_counter()
            try:
                result = await self._one(target, chain, members, chunk, live)
            except (FS3Error, OSError) as exc:
                log.warning("scrub of chunk %d:%d on chain %d failed: %s", chunk.inode, chunk.index,
                            chain.chain_id, exc)
                result = storage_pb2.ScrubbedChunk(action=storage_pb2.SCRUB_FAILED, detail=str(exc))
            result.chunk.CopyFrom(common_pb2.ChunkId(inode=chunk.inode, index=chunk.index))
            failed = result.action == storage_pb2.SCRUB_FAILED
            if result.targets or failed:
                self.ops.observe("scrub_repair", time.perf_counter() - started, error=failed)
            if result.targets:
                log.warning("scrub: chunk %d:%d of chain %d %s on targets %s", chunk.inode, chunk.index,
                            chain.chain_id, storage_pb2.ScrubAction.Name(result.action).lower()[6:],
                            list(result.targets))
            out.append(result)
        if compared:
            self.ops.observe("scrub", time.perf_counter() - begun, compared)
        return out

    async def _query(self, peer: Peer, chain_id: int, chunk: ChunkId) -> storage_pb2.QueryChunkReply:
        request = storage_pb2.QueryChunkRequest(
            chain_id=chain_id, chunk=common_pb2.ChunkId(inode=chunk.inode, index=chunk.index))
        return await asyncio.to_thread(call, self.recovery._stub(peer.address).QueryChunk, request,
                                       timeout=QUERY_TIMEOUT, what="storage",
                                       metadata=self.replicator.peers.signer.metadata())

    async def _one(self, target: Target, chain: ChainRef, members: list[Peer], chunk: ChunkId,
                   live: bool) -> storage_pb2.ScrubbedChunk:
        replicator, store = self.replicator, target.store
        inode, index = chunk
        async with replicator.locks.hold((target.target_id, inode, index)):
            committed, pending = await replicator.disk(store.state, inode, index)
            theirs = [(peer, await self._query(peer, chain.chain_id, chunk)) for peer in members]
            if pending is not None or any(q.meta.pending_version for _, q in theirs):
                return storage_pb2.ScrubbedChunk(action=storage_pb2.SCRUB_PENDING)
            if not live:
                removed = []
                for peer, q in theirs:
                    if q.exists:
                        await self.recovery._send(peer, chain, chunk, 0, None, _wire.FLAG_SYNC | _wire.FLAG_REMOVE)
                        removed.append(peer.target_id)
                if committed is not None:
                    await replicator.disk(store.drop, inode, index)
                    removed.append(target.target_id)
                action = storage_pb2.SCRUB_REMOVED if removed else storage_pb2.SCRUB_IN_SYNC
                return storage_pb2.ScrubbedChunk(action=action, targets=removed)
            repaired = []
            head_restored = False
            if committed is None:
                holders = [(peer, q) for peer, q in theirs if q.exists]
                if not holders:
                    return storage_pb2.ScrubbedChunk(action=storage_pb2.SCRUB_IN_SYNC)
                committed = await self._take(target, chain, chunk, *holders[0])
                if committed is None:
                    return storage_pb2.ScrubbedChunk(
                        action=storage_pb2.SCRUB_FAILED,
                        detail=f"the copy on target {holders[0][0].target_id} could not be read whole or "
                               "does not match its checksum")
                repaired.append(target.target_id)
                head_restored = True
            stale = [peer for peer, q in theirs
                     if not q.exists or (q.meta.version, q.meta.crc32c) != (committed.version, committed.crc)]
            if stale:
                with await replicator.disk(store.load, inode, index, committed) as buf:
                    data = memoryview(buf)[: committed.length]
                    for peer in stale:
                        await self.recovery._send(peer, chain, chunk, committed.version, data, _wire.FLAG_SYNC)
                        repaired.append(peer.target_id)
            action = storage_pb2.SCRUB_RESTORED if repaired else storage_pb2.SCRUB_IN_SYNC
            return storage_pb2.ScrubbedChunk(action=action, targets=repaired, head_restored=head_restored)

    async def _take(self, target: Target, chain: ChainRef, chunk: ChunkId, peer: Peer,
                    q: storage_pb2.QueryChunkReply):
        """Install at the head the committed copy ``peer`` holds (as ``q`` describes it), checked against
        the version and checksum it recorded; returns the head's new record, or None."""
        fetched = await self.recovery._fetch(peer, chain.chain_id, chain.chain_version, chunk.inode,
                                            chunk.index, q.meta.length)
        if fetched is None:
            return None
        lease, version = fetched
        with lease as buf:
            view = memoryview(buf)
            blocks = array.array("I", block_crcs(view[: q.meta.length])).tobytes()
            if version != q.meta.version or chunk_checksum(blocks) != q.meta.crc32c:
                return None
            return await self.replicator.disk(
                lambda: target.store.put(chunk.inode, chunk.index, version, view, q.meta.length, blocks=blocks))
