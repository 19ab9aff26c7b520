"""The storage gRPC servicer: checks routing, then hands each request to the target's chunk store."""

from __future__ import annotations

import logging

from fs3._checksum import crc32c
from fs3._errors import FS3Error, InvalidArgument, StaleRouting, Status
from fs3._rpc import servicer_method
from fs3.proto import common_pb2, storage_pb2, storage_pb2_grpc

from ._chunk_meta import ChunkRecord
from ._routing import NodeRouting
from ._target import Target

log = logging.getLogger(__name__)

MAX_BATCH_BYTES = 128 << 20


def chunk_meta(chunk: common_pb2.ChunkId, rec: ChunkRecord | None) -> storage_pb2.ChunkMeta:
    if rec is None:
        return storage_pb2.ChunkMeta(chunk=chunk)
    return storage_pb2.ChunkMeta(chunk=chunk, version=rec.version, length=rec.length, crc32c=rec.crc)


class StorageServicer(storage_pb2_grpc.StorageServicer):
    def __init__(self, targets: dict[int, Target], routing: NodeRouting):
        self.targets = targets
        self.routing = routing

    def _target(self, chain_id: int, chain_version: int, *, write: bool) -> Target:
        target_id = self.routing.local_target(chain_id, chain_version, write=write)
        target = self.targets.get(target_id)
        if target is None:
            raise StaleRouting(f"target {target_id} is not on this node", status=Status.TARGET_NOT_FOUND)
        return target

    @servicer_method
    def Write(self, request, context):
        if crc32c(request.data) != request.crc32c:
            raise InvalidArgument("Invalid argument: write data failed its CRC32C in transit")
        target = self._target(request.chain_id, request.chain_version, write=True)
        rec = target.store.write(
            request.chunk.inode, request.chunk.index, request.offset, request.data, request.chunk_size
        )
        return storage_pb2.WriteReply(meta=chunk_meta(request.chunk, rec))

    @servicer_method
    def BatchRead(self, request, context):
        total = sum(io.length for io in request.ios)
        if total > MAX_BATCH_BYTES:
            raise InvalidArgument(f"Invalid argument: batch asks for {total} bytes (limit {MAX_BATCH_BYTES})")
        reply = storage_pb2.BatchReadReply()
        for io in request.ios:
            result = reply.results.add()
            try:
                target = self._target(io.chain_id, io.chain_version, write=False)
                data, rec = target.store.read(io.chunk.inode, io.chunk.index, io.offset, io.length)
            except FS3Error as exc:
                result.status, result.message = int(exc.status), exc.strerror or ""
                continue
            if rec is None:
                result.status = int(Status.CHUNK_NOT_FOUND)
                result.message = "chunk not found"
                continue
            result.data, result.version, result.chunk_length = data, rec.version, rec.length
        return reply

    @servicer_method
    def RemoveChunks(self, request, context):
        target = self._target(request.chain_id, request.chain_version, write=True)
        removed = target.store.remove_from(request.inode, request.from_index)
        return storage_pb2.RemoveChunksReply(removed=removed)

    @servicer_method
    def TruncateChunk(self, request, context):
        target = self._target(request.chain_id, request.chain_version, write=True)
        rec = target.store.truncate(request.chunk.inode, request.chunk.index, request.length)
        return storage_pb2.TruncateChunkReply(meta=chunk_meta(request.chunk, rec))

    @servicer_method
    def QueryChunk(self, request, context):
        version = self.routing.chain_version(request.chain_id)
        target = self._target(request.chain_id, version, write=False)
        rec = target.store.query(request.chunk.inode, request.chunk.index)
        return storage_pb2.QueryChunkReply(exists=rec is not None, meta=chunk_meta(request.chunk, rec))
