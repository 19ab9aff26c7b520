"""The storage gRPC servicer (control calls): checks routing, then hands each request to the target's
chunk store. Chunk reads and writes take the data plane (_data_server.py)."""

from __future__ import annotations

import logging

from fs3._errors import StaleRouting, Status
from fs3._rpc import servicer_method
from fs3.proto import common_pb2, storage_pb2, storage_pb2_grpc

from ._chunk_meta import ChunkRecord
from ._routing import NodeRouting
from ._target import Target

log = logging.getLogger(__name__)


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
