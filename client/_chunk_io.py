"""Chunk reads and writes: split a file range into chunk pieces, send each piece to the storage node
its chain names (pieces for one node share one batch), retry what stale routing or a restarting node
turned away."""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from concurrent.futures import Executor

import grpc

from fs3._checksum import crc32c
from fs3._errors import FS3Error, StaleRouting, Status, Unavailable, error_for
from fs3._layout import ChunkSlice, chain_of, slices
from fs3._rpc import CHANNEL_OPTIONS, call
from fs3.proto import common_pb2, meta_pb2, storage_pb2, storage_pb2_grpc

from ._routing import RoutingCache

RETRIES = 8
MAX_BATCH_BYTES = 64 << 20


class ChunkIO:
    def __init__(self, routing: RoutingCache, executor: Executor, *, timeout: float = 60.0):
        self.routing = routing
        self.executor = executor
        self.timeout = timeout
        self._lock = threading.Lock()
        self._channels: dict[str, grpc.Channel] = {}

    def _stub(self, address: str) -> storage_pb2_grpc.StorageStub:
        with self._lock:
            channel = self._channels.get(address)
            if channel is None:
                channel = grpc.insecure_channel(address, options=CHANNEL_OPTIONS)
                self._channels[address] = channel
        return storage_pb2_grpc.StorageStub(channel)

    def _retrying(self, fn):
        delay = 0.05
        for attempt in range(RETRIES):
            try:
                return fn()
            except (StaleRouting, Unavailable):
                if attempt == RETRIES - 1:
                    raise
                time.sleep(delay)
                delay = min(delay * 2, 1.0)
                self.routing.refresh()
        raise AssertionError("unreachable")

    # -- reads -------------------------------------------------------------------------------------

    def read(self, inode: meta_pb2.Inode, offset: int, out: memoryview) -> None:
        """Fill ``out`` with the file's bytes at ``offset`` (holes and short chunks read as zeros)."""
        layout = inode.layout
        pieces = slices(offset, len(out), layout.chunk_size)
        if not pieces:
            return
        groups: dict[int, list[ChunkSlice]] = defaultdict(list)
        for piece in pieces:
            groups[chain_of(layout.chains, layout.stripe, piece.index)].append(piece)
        # Batch per chain, then split batches that would be too large for one message.
        batches: list[tuple[int, list[ChunkSlice]]] = []
        for chain_id, group in groups.items():
            batch: list[ChunkSlice] = []
            size = 0
            for piece in group:
                if batch and size + piece.length > MAX_BATCH_BYTES:
                    batches.append((chain_id, batch))
                    batch, size = [], 0
                batch.append(piece)
                size += piece.length
            batches.append((chain_id, batch))
        if len(batches) == 1:
            self._retrying(lambda: self._read_batch(inode.id, *batches[0], out))
            return
        futures = [
            self.executor.submit(self._retrying, lambda b=b: self._read_batch(inode.id, *b, out)) for b in batches
        ]
        for f in futures:
            f.result()

    def _read_batch(self, ino: int, chain_id: int, pieces: list[ChunkSlice], out: memoryview) -> None:
        addresses, version = self.routing.readers(chain_id)
        request = storage_pb2.BatchReadRequest()
        for p in pieces:
            request.ios.add(
                chain_id=chain_id, chain_version=version, offset=p.chunk_offset, length=p.length,
                chunk=common_pb2.ChunkId(inode=ino, index=p.index),
            )
        reply = call(self._stub(addresses[0]).BatchRead, request, timeout=self.timeout, what="storage")
        for p, result in zip(pieces, reply.results, strict=True):
            dest = out[p.buffer_offset : p.buffer_offset + p.length]
            if result.status == Status.CHUNK_NOT_FOUND:
                dest[:] = bytes(p.length)
                continue
            if result.status:
                raise error_for(result.status, result.message)
            n = len(result.data)
            dest[:n] = result.data
            if n < p.length:
                dest[n:] = bytes(p.length - n)

    # -- writes ------------------------------------------------------------------------------------

    def write(self, inode: meta_pb2.Inode, offset: int, data: memoryview) -> None:
        """Write ``data`` at ``offset``; each chunk piece goes to its chain's head, in parallel."""
        layout = inode.layout
        pieces = slices(offset, len(data), layout.chunk_size)
        if len(pieces) == 1:
            self._retrying(lambda: self._write_piece(inode, pieces[0], data))
            return
        futures = [
            self.executor.submit(self._retrying, lambda p=p: self._write_piece(inode, p, data)) for p in pieces
        ]
        errors = []
        for f in futures:
            try:
                f.result()
            except FS3Error as exc:
                errors.append(exc)
        if errors:
            raise errors[0]

    def _write_piece(self, inode: meta_pb2.Inode, piece: ChunkSlice, data: memoryview) -> None:
        layout = inode.layout
        chain_id = chain_of(layout.chains, layout.stripe, piece.index)
        address, version = self.routing.head(chain_id)
        payload = bytes(data[piece.buffer_offset : piece.buffer_offset + piece.length])
        request = storage_pb2.WriteRequest(
            chain_id=chain_id, chain_version=version, offset=piece.chunk_offset, data=payload,
            chunk=common_pb2.ChunkId(inode=inode.id, index=piece.index), chunk_size=layout.chunk_size,
            crc32c=crc32c(payload),
        )
        call(self._stub(address).Write, request, timeout=self.timeout, what="storage")

    def close(self) -> None:
        with self._lock:
            for channel in self._channels.values():
                channel.close()
            self._channels.clear()


