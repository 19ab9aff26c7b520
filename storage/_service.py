"""The storage gRPC servicer (control calls): removal and truncation from meta, which the head carries
down its chain; the chunk listing and the completion call of recovery; chunk queries; the head's part
of a chain scrub (_scrub.py). Chunk reads and writes take the data plane (_data_server.py)."""

from __future__ import annotations

import asyncio
import logging

from fs3._auth import check_node
from fs3._errors import NotFound, StaleRouting, Status
from fs3._rpc import servicer_method
from fs3._wire import ChainRef, ChunkId
from fs3.proto import common_pb2, storage_pb2, storage_pb2_grpc

from ._chunk_meta import ChunkRecord, split_key
from ._recovery import Recovery
from ._replication import Replicator
from ._routing import ANY, WRITE, NodeRouting
from ._scrub import Scrubber
from ._target import Target

log = logging.getLogger(__name__)

CONTROL_TIMEOUT = 120.0


def chunk_meta(chunk: common_pb2.ChunkId, rec: ChunkRecord | None) -> storage_pb2.ChunkMeta:
    if rec is None:
        return storage_pb2.ChunkMeta(chunk=chunk)
    return storage_pb2.ChunkMeta(chunk=chunk, version=rec.version, length=rec.length, crc32c=rec.crc)


class StorageServicer(storage_pb2_grpc.StorageServicer):
    def __init__(self, targets: dict[int, Target], routing: NodeRouting, replicator: Replicator,
                 recovery: Recovery, loop: asyncio.AbstractEventLoop, secret, scrubber: Scrubber | None = None):
        self.secret = secret  # callable: the cluster secret, which node tokens are checked against
        self.scrubber = scrubber or Scrubber(routing, replicator, recovery)
        self.targets = targets
        self.routing = routing
        self.replicator = replicator
        self.recovery = recovery
        self.loop = loop

    def _target(self, chain_id: int, chain_version: int, role: str) -> Target:
        target_id = self.routing.local_target(chain_id, chain_version, role=role)
        target = self.targets.get(target_id)
        if target is None:
            raise StaleRouting(f"target {target_id} is not on this node", status=Status.TARGET_NOT_FOUND)
        return target

    def _on_loop(self, coro):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(CONTROL_TIMEOUT)

    @servicer_method
    def RemoveChunks(self, request, context):
        check_node(context, self.secret())
        target = self._target(request.chain_id, request.chain_version, WRITE)
        removed = self._on_loop(self.replicator.remove(
            target, request.chain_id, request.chain_version, request.inode, request.from_index))
        return storage_pb2.RemoveChunksReply(removed=removed)

    @servicer_method
    def TruncateChunk(self, request, context):
        check_node(context, self.secret())
        target = self._target(request.chain_id, request.chain_version, WRITE)
        rec = self._on_loop(self.replicator.truncate(
            target, request.chain_id, request.chain_version, request.chunk.inode, request.chunk.index,
            request.length))
        return storage_pb2.TruncateChunkReply(meta=chunk_meta(request.chunk, rec))

    @servicer_method
    def QueryChunk(self, request, context):
        check_node(context, self.secret())
        target = self._target(request.chain_id, self.routing.chain_version(request.chain_id), ANY)
        committed, pending = target.store.state(request.chunk.inode, request.chunk.index)
        meta = chunk_meta(request.chunk, committed)
        meta.pending_version = pending.version if pending else 0
        return storage_pb2.QueryChunkReply(exists=committed is not None, meta=meta)

    @servicer_method
    def ListChunks(self, request, context):
        check_node(context, self.secret())
        target = self.targets.get(request.target_id)
        if target is None:
            raise NotFound(f"target {request.target_id} is not on this node")
        limit = min(request.limit or 10_000, 100_000)
        lo = request.start_after + b"\0" if request.start_after else b""
        hi = request.until + b"\0" if request.until else b"\xff" * 17
        rows = target.store.list_chunks(lo, hi, limit + 1)
        reply = storage_pb2.ListChunksReply(more=len(rows) > limit)
        for key, committed, checksum, pending in rows[:limit]:
            split_key(key)  # a well-formed key
            reply.chunks.add(key=key, committed_version=committed, checksum=checksum, pending_version=pending)
        return reply

    @servicer_method
    def SyncDone(self, request, context):
        check_node(context, self.secret())
        if request.target_id not in self.targets:
            raise NotFound(f"target {request.target_id} is not on this node")
        self.recovery.mark_synced(request.target_id, request.chain_version)
        log.info("target %d is up to date (recovered under chain %d v%d)", request.target_id, request.chain_id,
                 request.chain_version)
        return storage_pb2.SyncDoneReply()

    @servicer_method
    def ScrubChunks(self, request, context):
        check_node(context, self.secret())
        target = self._target(request.chain_id, request.chain_version, WRITE)
        chunks = [(ChunkId(c.chunk.inode, c.chunk.index), c.live) for c in request.chunks]
        results = self._on_loop(self.scrubber.scrub(target, ChainRef(request.chain_id, request.chain_version),
                                                    chunks, request.compared))
        return storage_pb2.ScrubChunksReply(chunks=results)
