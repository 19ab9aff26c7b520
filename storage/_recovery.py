"""Recovery and repair, both on the storage node's data-plane loop.

Recovery (3FS's chunk sync): when the member right after one of this node's SERVING targets is SYNCING,
this node streams it every chunk whose committed version or checksum differs (FLAG_SYNC installs a
version as committed), removes the chunks it holds that this target does not, and then tells it that it
is up to date; its node reports so and the manager makes it SERVING. Writes keep flowing meanwhile: each
chunk is compared and sent under the same per-chunk lock that updates take, and a pending version here is
rolled forward first. A chain version change stops a run; the next routing info starts a new one.

Repair: a chunk that failed its checksum here is fetched whole from another SERVING member of its chain,
checked against the version and checksum this target recorded, and rewritten to a fresh slot.
"""

from __future__ import annotations

import array
import asyncio
import concurrent.futures
import functools
import logging

import grpc

from fs3 import _wire
from fs3._checksum import block_crcs
from fs3._errors import ChecksumMismatch, FS3Error
from fs3._rpc import call
from fs3._wire import ChainRef, ChunkId
from fs3.proto import storage_pb2, storage_pb2_grpc

from ._chunk_meta import split_key
from ._chunk_store import chunk_checksum
from ._replication import Replicator
from ._routing import SYNCING, NodeRouting, Peer
from ._target import Target

log = logging.getLogger(__name__)

LIST_PAGE = 10_000
CLOSE_TIMEOUT = 5.0  # seconds close waits for cancelled runs and repairs to end


class Recovery:
    """Feeds this node's syncing successors (recovery) and repairs its damaged chunks from their replicas,
    on the data-plane loop. Every run and repair is a task it owns: failures are logged (a failed
    recovery is retried), and ``close`` cancels them and waits for them to end."""

    def __init__(self, routing: NodeRouting, targets: dict[int, Target], replicator: Replicator):
        self.routing = routing
        self.targets = targets
        self.replicator = replicator
        self.loop: asyncio.AbstractEventLoop | None = None
        self.progress: dict[int, int] = {}        # this node's target -> percent of the sync it feeds
        self.synced: dict[int, int] = {}          # this node's target -> chain version it was synced at
        self.repairs: dict[int, int] = {}         # target -> chunks repaired
        self.lost: dict[int, set[tuple[int, int]]] = {}  # target -> chunks damaged on every replica
        self._jobs: dict[tuple[int, int], tuple[int, asyncio.Task]] = {}
        self._repairing: set[tuple[int, int, int]] = set()
        self._repairs: set[asyncio.Task] = set()  # repair tasks running now
        self._channels: dict[str, grpc.Channel] = {}
        self._closed = False

    def attach(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop

    # -- recovery (feeding a syncing successor) ----------------------------------------------------

    def routing_changed(self) -> None:
        """Called from any thread when the node's routing info changed."""
        if self.loop is not None:
            self.loop.call_soon_threadsafe(self._schedule)

    def _schedule(self) -> None:
        if self._closed:
            return
        for chain, target_id in self.routing.local_chains():
            successor = self.routing.successor(chain, target_id)
            key = (chain.id, target_id)
            job = self._jobs.get(key)
            wanted = successor is not None and successor.public_state == SYNCING \
                and self.routing.public_state(target_id) != SYNCING
            if job is not None and (not wanted or job[0] != chain.version):
                job[1].cancel()
                del self._jobs[key]
                job = None
            if wanted and job is None and target_id in self.targets:
                task = asyncio.ensure_future(self._sync(self.targets[target_id], chain.id, chain.version, successor))
                self._jobs[key] = (chain.version, task)
                task.add_done_callback(lambda t, key=key: self._finished(key, t))

    def _finished(self, key, task: asyncio.Task) -> None:
        job = self._jobs.get(key)
        if job is not None and job[1] is task:
            del self._jobs[key]
        if not task.cancelled() and task.exception() is not None:
            log.warning("recovery of chain %d failed: %s (will retry)", key[0], task.exception())
            self.loop.call_later(1.0, self._schedule)

    def _stub(self, address: str) -> storage_pb2_grpc.StorageStub:
        channel = self._channels.get(address)
        if channel is None:
            channel = self._channels[address] = self.replicator.peers.grpc_channel(address)  # (TLS as the node)
        return storage_pb2_grpc.StorageStub(channel)

    async def _remote_chunks(self, peer: Peer) -> dict[bytes, tuple[int, int, int]]:
        stub = self._stub(peer.address)
        out: dict[bytes, tuple[int, int, int]] = {}
        after = b""
        while True:
            reply = await asyncio.to_thread(
                call, stub.ListChunks,
                storage_pb2.ListChunksRequest(target_id=peer.target_id, start_after=after, limit=LIST_PAGE),
                timeout=60, what="storage", metadata=self.replicator.peers.signer.metadata(),
            )
            for c in reply.chunks:
                out[c.key] = (c.committed_version, c.checksum, c.pending_version)
            if not reply.more or not reply.chunks:
                return out
            after = reply.chunks[-1].key

    async def _sync(self, target: Target, chain_id: int, chain_version: int, peer: Peer) -> None:
        log.info("recovery: target %d -> syncing target %d (chain %d v%d) starts",
                 target.target_id, peer.target_id, chain_id, chain_version)
        store = target.store
        replicator = self.replicator
        remote = await self._remote_chunks(peer)
        local_keys = await replicator.disk(store.meta.keys, b"", b"\xff" * 17)
        total = max(1, len(local_keys) + len(remote))
        done = sent = removed = 0
        self.progress[target.target_id] = 0

        def still_current() -> bool:
            return self.routing.chain_version(chain_id) == chain_version

        chain = ChainRef(chain_id, chain_version)
        lost = 0
        for key in local_keys:
            if not still_current():
                return
            chunk = ChunkId(*split_key(key))
            theirs = remote.pop(key, None)
            try:
                sent += await self._sync_chunk(target, chain, chunk, theirs, peer)
            except ChecksumMismatch:
                # Damaged here: mend it from an intact replica, then send it. With no intact copy anywhere
                # the chunk is lost: reported (the node's heartbeat, `fs3 cluster status`), left as it is
                # (its reads fail with EIO, never return bad bytes), and the sync goes on without it.
                if await self._repair(target, chunk.inode, chunk.index, attempts=2):
                    sent += await self._sync_chunk(target, chain, chunk, theirs, peer)
                else:
                    lost += 1
                    self._lose(target.target_id, chunk)
                    sent += await self._sync_chunk(target, chain, chunk, theirs, peer, damaged=True)
            done += 1
            self.progress[target.target_id] = done * 100 // total
        for key in list(remote):  # what the successor holds and this target does not
            if not still_current():
                return
            inode, index = chunk = ChunkId(*split_key(key))
            async with replicator.locks.hold((target.target_id, inode, index)):
                committed, pending = await replicator.disk(store.state, inode, index)
                if committed is None and pending is None:
                    await self._send(peer, chain, chunk, 0, None, _wire.FLAG_SYNC | _wire.FLAG_REMOVE)
                    removed += 1
            done += 1
            self.progress[target.target_id] = done * 100 // total
        await asyncio.to_thread(
            call, self._stub(peer.address).SyncDone,
            storage_pb2.SyncDoneRequest(target_id=peer.target_id, chain_id=chain_id, chain_version=chain_version),
            timeout=30, what="storage", metadata=self.replicator.peers.signer.metadata(),
        )
        self.progress.pop(target.target_id, None)
        log.info("recovery: target %d -> target %d done: %d chunks sent, %d removed, %d checked, %d lost",
                 target.target_id, peer.target_id, sent, removed, len(local_keys), lost)

    async def _sync_chunk(self, target: Target, chain: ChainRef, chunk: ChunkId, theirs, peer: Peer, *,
                          damaged: bool = False) -> int:
        """Send the successor this target's copy of ``chunk`` unless it holds the same; 1 if sent.
        ``damaged``: the copy is known to fail its checksum and none better exists: it goes as it is,
        with the block CRCs it was written with, so the successor's reads of it fail as every other
        replica's do (a chunk it lacked would read as zeros)."""
        replicator = self.replicator
        store = target.store
        async with replicator.locks.hold((target.target_id, chunk.inode, chunk.index)):
            await replicator.settle_pending(target, chain, chunk, 0, peer)
            committed, _pending = await replicator.disk(store.state, chunk.inode, chunk.index)
            if committed is None or (theirs is not None and not theirs[2]
                                     and theirs[:2] == (committed.version, committed.crc)):
                return 0
            load = store.load_damaged if damaged else store.load
            with await replicator.disk(load, chunk.inode, chunk.index, committed) as buf:
                await self._send(peer, chain, chunk, committed.version, memoryview(buf)[: committed.length],
                                 _wire.FLAG_SYNC, blocks=bytes(committed.blocks) if damaged else None)
            return 1

    def _lose(self, target_id: int, chunk: ChunkId) -> None:
        lost = self.lost.setdefault(target_id, set())
        if (chunk.inode, chunk.index) not in lost:
            lost.add((chunk.inode, chunk.index))
            log.error("target %d: chunk %d:%d is damaged here and on every other replica: lost (its reads "
                      "fail with EIO); recovery goes on without it", target_id, chunk.inode, chunk.index)

    async def _send(self, peer: Peer, chain: ChainRef, chunk: ChunkId, version: int, data, flags: int,
                    blocks: bytes | None = None) -> None:
        status = (await self.replicator.forward(peer, chain, chunk, version, data, flags=flags, blocks=blocks)).status
        if status:
            raise FS3Error(f"syncing target {peer.target_id} refused chunk {chunk.inode}:{chunk.index}",
                           status=status)

    def mark_synced(self, target_id: int, chain_version: int) -> None:
        """A predecessor finished recovering this node's target (called by the gRPC servicer)."""
        self.synced[target_id] = chain_version

    # -- repair ------------------------------------------------------------------------------------

    def chunk_corrupt(self, target_id: int, inode: int, index: int) -> None:
        """Called from any thread when a read found a damaged chunk on one of this node's targets."""
        if self.loop is not None:
            self.loop.call_soon_threadsafe(self._start_repair, target_id, inode, index)

    def _start_repair(self, target_id: int, inode: int, index: int) -> None:
        key = (target_id, inode, index)
        if key in self._repairing or target_id not in self.targets or self._closed:
            return
        self._repairing.add(key)
        task = asyncio.ensure_future(self._repair(self.targets[target_id], inode, index))
        self._repairs.add(task)
        task.add_done_callback(functools.partial(self._repaired, key))

    def _repaired(self, key: tuple[int, int, int], task: asyncio.Task) -> None:
        self._repairing.discard(key)
        self._repairs.discard(task)
        if not task.cancelled() and task.exception() is not None:
            target_id, inode, index = key
            log.error("target %d: repairing chunk %d:%d failed", target_id, inode, index, exc_info=task.exception())

    async def _repair(self, target: Target, inode: int, index: int, attempts: int = 5) -> bool:
        store = target.store
        for attempt in range(attempts):
            found = [(c, t) for c, t in self.routing.local_chains() if t == target.target_id]
            if not found:
                return False
            chain, _ = found[0]
            async with self.replicator.locks.hold((target.target_id, inode, index)):
                committed, _pending = await self.replicator.disk(store.state, inode, index)
                if committed is None:
                    return False
                for peer in self.routing.serving_peers(chain, target.target_id):
                    try:
                        data = await self._fetch(peer, chain.id, chain.version, inode, index, committed.length)
                    except (FS3Error, OSError) as exc:
                        log.info("repair of chunk %d:%d: peer target %d: %s", inode, index, peer.target_id, exc)
                        continue
                    if data is None:
                        continue
                    lease, version = data
                    with lease as buf:
                        view = memoryview(buf)[: committed.length]
                        blocks = array.array("I", block_crcs(view)).tobytes()
                        if version != committed.version or chunk_checksum(blocks) != committed.crc:
                            log.error("repair of chunk %d:%d: the copy on target %d is another version or "
                                      "content (v%d)", inode, index, peer.target_id, version)
                            continue
                        await self.replicator.disk(store.put, inode, index, committed.version,
                                                    memoryview(buf), committed.length)
                    self.repairs[target.target_id] = self.repairs.get(target.target_id, 0) + 1
                    log.warning("target %d: repaired chunk %d:%d v%d from target %d", target.target_id, inode,
                                index, committed.version, peer.target_id)
                    return True
            await asyncio.sleep(0.5 * (attempt + 1))
        log.error("target %d: chunk %d:%d could not be repaired (no intact replica reachable)",
                  target.target_id, inode, index)
        return False

    async def _fetch(self, peer: Peer, chain_id: int, chain_version: int, inode: int, index: int, length: int):
        """A peer's whole copy of a chunk: (leased pooled buffer, version), or None."""
        conn = await self.replicator.peers.connection(peer)
        store_buffers = next(iter(self.targets.values())).store.buffers
        lease = store_buffers.lease(max(length, 1))
        with lease as buf:  # given back unless the copy is handed over
            results = await conn.send_read([_wire.ReadItem(chain_id, chain_version, inode, index, 0, length)],
                                           [memoryview(buf)[:length]])
            status, n, version, _chunk_len = results[0]
            if status or n != length:
                return None
            with memoryview(buf) as view:
                tail = -length % 4096
                if tail:
                    view[length : length + tail] = bytes(tail)
            return lease.hand_over(), version

    def close(self) -> None:
        """Stop every recovery run and repair and wait for them to end (from any thread; the tasks live
        on the data-plane loop), then close the channels to peers."""
        self._closed = True
        loop = self.loop
        try:
            here = asyncio.get_running_loop()
        except RuntimeError:
            here = None
        if loop is not None and loop.is_running() and loop is not here:
            try:
                asyncio.run_coroutine_threadsafe(self._stop_tasks(), loop).result(timeout=CLOSE_TIMEOUT)
            except (concurrent.futures.TimeoutError, concurrent.futures.CancelledError, RuntimeError) as exc:
                log.warning("recovery: tasks still running at close (%r)", exc)
        else:  # not running (or this is its thread): cancelling is all that can be done
            for task in self._tasks():
                task.cancel()
        for channel in self._channels.values():
            channel.close()

    def _tasks(self) -> list[asyncio.Task]:
        return [job[1] for job in self._jobs.values()] + list(self._repairs)

    async def _stop_tasks(self) -> None:
        tasks = self._tasks()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

