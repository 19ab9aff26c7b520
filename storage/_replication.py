"""CRAQ replication along a chain (as in 3FS): writes enter at the head, which serializes updates per
chunk, stages the chunk's next version as pending and forwards the whole new content to its successor;
the tail commits it at once and answers; each member commits as the answer passes back, and the client
is answered by the head only after the tail committed.

A head that finds a pending version left by an earlier, unfinished update rolls it forward (forwards and
commits it) before it takes a new one: some member after it may already have committed that version,
so it can never be dropped. A member that already holds a version answers a re-sent update of it as
done. Recovery installs versions with FLAG_SYNC, and removals travel with FLAG_REMOVE.
"""

from __future__ import annotations

import array
import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from concurrent.futures import Executor
from pathlib import Path

import grpc

from fs3 import _token, _wire
from fs3._auth import NodeSigner
from fs3._checksum import block_crcs, crc32c
from fs3._data_client import NodeConnection, NodePool
from fs3._errors import FS3Error, Status, Unavailable
from fs3._rpc import CHANNEL_OPTIONS
from fs3._tls import channel, client_context
from fs3._wire import ChainRef, ChunkId

from ._buffers import Lease
from ._chunk_meta import chunk_key, split_key
from ._chunk_store import chunk_checksum
from ._routing import NodeRouting, Peer
from ._target import Target

log = logging.getLogger(__name__)

TOKEN_LIFETIME = 3600.0
WATCH_INTERVAL = 0.5
REMOVE_BATCH = 64  # chunks of one file removed at once


class _ChunkLocks:
    """One asyncio lock per chunk being updated (made on demand, dropped when nobody holds or waits)."""

    def __init__(self):
        self._locks: dict[tuple, list] = {}

    @contextlib.asynccontextmanager
    async def hold(self, key: tuple):
        entry = self._locks.get(key)
        if entry is None:
            entry = self._locks[key] = [asyncio.Lock(), 0]
        entry[1] += 1
        try:
            async with entry[0]:
                yield
        finally:
            entry[1] -= 1
            if entry[1] == 0:
                del self._locks[key]


class Peers:
    """Connections from this node to the data planes of its chains' other members, and gRPC channels to
    their control services (recovery); verified against ``ca`` when TLS is on."""

    def __init__(self, secret: Callable[[], bytes], node_name: Callable[[], str], *, ca: Path | None = None):
        self._secret = secret
        self._node_name = node_name
        self._pools: dict[str, NodePool] = {}
        self._sockets: dict[str, str] = {}
        self.signer = NodeSigner(secret, "node")  # node tokens for storage control calls to peers
        self.ca = ca
        self._tls = client_context(ca) if ca is not None else None

    def grpc_channel(self, address: str) -> grpc.Channel:
        """A channel to a peer's gRPC service (TLS as this node's own)."""
        return channel(address, self.ca, CHANNEL_OPTIONS)

    async def _open(self, address: str) -> NodeConnection:
        claims = _token.TokenClaims(expiry=int(time.time() + TOKEN_LIFETIME), uid=0, gid=0,
                                    client=self._node_name(), role=_token.ROLE_NODE)
        token = _token.sign(self._secret(), claims)
        return await NodeConnection.open(address, token, None, self._node_name(), self._sockets.get(address, ""),
                                         tls=self._tls)

    def connection(self, peer: Peer):
        self._sockets[peer.data_address] = peer.data_socket
        pool = self._pools.get(peer.data_address)
        if pool is None:
            pool = self._pools[peer.data_address] = NodePool(peer.data_address, self._open, 2)
        return pool.get()

    def close(self) -> None:
        for pool in self._pools.values():
            pool.close()
        self._pools.clear()


class Replicator:
    """This node's part in every chain it belongs to: as head it orders a client's writes per chunk,
    stages each new version, forwards it to the successor and commits once the tail has; as a later
    member it applies the UPDATEs its predecessor forwards (staging, installing with FLAG_SYNC, removing
    with FLAG_REMOVE) and passes them on. Disk work runs on ``executor``; successors are reached through
    ``peers``."""

    def __init__(self, routing: NodeRouting, executor: Executor, peers: Peers):
        self.routing = routing
        self.executor = executor
        self.peers = peers
        self.locks = _ChunkLocks()

    async def disk(self, fn, *args):
        """``fn(*args)`` on a disk thread. Cancelled meanwhile, it raises only once the thread is done:
        callers give the buffers ``fn`` reads or fills back to the pool when this returns or raises, and
        a buffer must never be handed out again while a disk thread still uses it."""
        future = asyncio.get_running_loop().run_in_executor(self.executor, fn, *args)
        try:
            return await asyncio.shield(future)
        except asyncio.CancelledError:
            while not future.done():
                try:
                    await asyncio.wait([future])
                except asyncio.CancelledError:  # cancelled again: still not before the thread is done
                    pass
            if not future.cancelled():
                future.exception()  # (retrieved: the cancellation is what the caller hears of)
            raise

    async def forward(self, peer: Peer, chain: ChainRef, chunk: ChunkId, version: int, data, *, chunk_size: int = 0,
                      flags: int = 0, blocks: bytes | None = None) -> _wire.UpdateResult:
        """Send ``version`` of ``chunk`` to the next member, with the block CRCs of its data when known
        (the next member then stores them instead of computing them again)."""
        conn = await self.peers.connection(peer)
        length = len(data) if data is not None else 0
        if length and conn.status is not None and conn.status.channel == "unix":
            flags |= _wire.FLAG_NO_CRC  # a peer on this host: the bytes stay in memory
            crc = 0
        else:
            crc = crc32c(data) if length else 0
        item = _wire.UpdateItem.of(chain, chunk, version, length, chunk_size, crc)
        chain_id, chain_version = chain
        if blocks is not None and length:
            flags |= _wire.FLAG_BLOCKS
            data = [data, blocks]
        future = conn.send_update(item, data, flags)
        # A successor that stops answering is given up on when the chain moves on without it (the
        # manager declared it offline, so it has fenced itself and will not apply this update late).
        while True:
            done, _ = await asyncio.wait({future}, timeout=WATCH_INTERVAL)
            if done:
                return future.result()
            if self.routing.chain_version(chain_id) != chain_version:
                conn.abort(Unavailable(f"target {peer.target_id} stopped answering; chain {chain_id} moved on"))
                return await future

    # -- the head: a client's write --------------------------------------------------------------

    async def client_write(self, target: Target, item: _wire.WriteItem, data, aligned=None):
        """Apply a client's write (``item``, its ``data``) at the head and carry it down the chain.
        Returns the committed record."""
        chain, chunk = item.chain, item.chunk
        inode, index, offset, chunk_size = item.inode, item.index, item.offset, item.chunk_size
        async with self.locks.hold((target.target_id, inode, index)):
            members = self.routing.chain(chain.chain_id)
            successor = self.routing.successor(members, target.target_id) if members is not None else None
            store = target.store
            if successor is None:
                # A chain of one (now): commit here, after rolling forward what an earlier head began.
                await self.settle_pending(target, chain, chunk, chunk_size, None)
                return await self.disk(lambda: store.write(inode, index, offset, data, chunk_size, aligned=aligned))
            await self.settle_pending(target, chain, chunk, chunk_size, successor)
            lease, staged, view = await self.disk(_stage_write, store, inode, index, offset, data, chunk_size,
                                                  aligned)
            with lease or contextlib.nullcontext():  # no lease: staged straight from the received buffer
                await self._pass_on(successor, chain, chunk, staged.version, view[: staged.length], chunk_size,
                                    staged.blocks)
                return await self._commit(store, inode, index, staged.version)

    async def _commit(self, store, inode: int, index: int, version: int):
        """Commit a pending version: right here on the loop when that cannot block, else on a disk thread."""
        rec = store.try_commit(inode, index, version)
        return rec if rec is not None else await self.disk(store.commit, inode, index, version)

    async def settle_pending(self, target: Target, chain: ChainRef, chunk: ChunkId, chunk_size: int,
                             successor: Peer | None) -> None:
        """Roll forward a pending version this target holds of ``chunk`` (with the chunk's lock held)."""
        store = target.store
        inode, index = chunk
        if not store.has_pending(inode, index):
            return
        _committed, pending = await self.disk(store.state, inode, index)
        if pending is None:
            return
        if successor is not None:
            with await self.disk(store.load, inode, index, pending) as buf:
                await self._pass_on(successor, chain, chunk, pending.version, memoryview(buf)[: pending.length],
                                    chunk_size)
        await self.disk(store.commit, inode, index, pending.version)
        log.info("target %d: rolled forward pending version %d of chunk %d:%d",
                 target.target_id, pending.version, inode, index)

    async def _pass_on(self, successor: Peer, chain: ChainRef, chunk: ChunkId, version: int, data,
                       chunk_size: int, blocks: bytes | None = None) -> None:
        try:
            status = (await self.forward(successor, chain, chunk, version, data, chunk_size=chunk_size,
                                         blocks=blocks)).status
        except Unavailable as exc:
            raise FS3Error(f"chain {chain.chain_id}: successor target {successor.target_id} unreachable ({exc}); "
                           "retry after the chain is reconfigured", status=Status.UNAVAILABLE) from None
        if status:
            raise FS3Error(f"chain {chain.chain_id}: successor target {successor.target_id} refused version "
                           f"{version} of chunk {chunk.inode}:{chunk.index} ({Status(status).name})", status=status)

    # -- a member after the head: a forwarded update ---------------------------------------------

    async def apply_update(self, target: Target, item: _wire.UpdateItem, data, flags: int, aligned=None,
                           blocks: bytes | None = None) -> tuple[int, int]:
        """Apply an update (``item``, its ``data``) forwarded by the predecessor; returns (committed version,
        checksum)."""
        store = target.store
        chain, chunk = item.chain, item.chunk
        inode, index = item.inode, item.index
        async with self.locks.hold((target.target_id, inode, index)):
            members = self.routing.chain(chain.chain_id)
            successor = self.routing.successor(members, target.target_id) if members is not None else None
            if flags & _wire.FLAG_REMOVE:
                await self.disk(store.drop, inode, index)
                if successor is not None and not flags & _wire.FLAG_SYNC:
                    await self._pass_on_remove(successor, chain, chunk)
                return 0, 0
            length = len(data) if data is not None else 0
            if aligned is not None:  # received page-aligned: no copy
                _zero_tail(aligned, length)
                return await self._apply_data(target, item, aligned, length, flags, blocks, successor)
            # The view goes before the buffer: a pool that closes it finds it no longer exported.
            with _aligned_copy(store, data) as buf, memoryview(buf) as view:
                return await self._apply_data(target, item, view, length, flags, blocks, successor)

    async def _apply_data(self, target: Target, item: _wire.UpdateItem, view, length: int, flags: int,
                          blocks: bytes | None, successor: Peer | None) -> tuple[int, int]:
        """``apply_update`` once the data is in a page-aligned buffer ``view`` (with the chunk's lock)."""
        store = target.store
        chain, chunk = item.chain, item.chunk
        inode, index, version = item.inode, item.index, item.version
        if flags & _wire.FLAG_SYNC:  # recovery: this version is the chain's committed state
            rec = await self.disk(lambda: store.put(inode, index, version, view, length, blocks=blocks))
            return rec.version, rec.crc
        held, staged = await self.disk(_stage_update, store, inode, index, version, view, length, blocks,
                                       successor is None)
        if held is not None:  # the tail committed it, or we already hold it (a re-sent update)
            return held.version, held.crc
        await self._pass_on(successor, chain, chunk, version, view[:length], item.chunk_size, staged.blocks)
        rec = await self._commit(store, inode, index, version)
        return rec.version, rec.crc

    async def _pass_on_remove(self, successor: Peer, chain: ChainRef, chunk: ChunkId) -> None:
        try:
            status = (await self.forward(successor, chain, chunk, 0, None, flags=_wire.FLAG_REMOVE)).status
        except Unavailable as exc:
            raise FS3Error(f"chain {chain.chain_id}: successor unreachable ({exc})",
                           status=Status.UNAVAILABLE) from None
        if status:
            raise FS3Error(f"chain {chain.chain_id}: successor refused a removal ({Status(status).name})",
                           status=status)

    # -- head-side control operations (from meta: truncation and garbage collection) --------------

    async def truncate(self, target: Target, chain_id: int, chain_version: int, inode: int, index: int,
                       length: int):
        store = target.store
        chain, chunk = ChainRef(chain_id, chain_version), ChunkId(inode, index)
        async with self.locks.hold((target.target_id, inode, index)):
            members = self.routing.chain(chain_id)
            successor = self.routing.successor(members, target.target_id) if members is not None else None
            await self.settle_pending(target, chain, chunk, 0, successor)
            if length == 0:
                await self.disk(store.drop, inode, index)
                if successor is not None:
                    await self._pass_on_remove(successor, chain, chunk)
                return None
            built = await self.disk(store.build_truncated, inode, index, length)
            if built is None:
                return await self.disk(store.query, inode, index)
            lease, new_len, version = built
            with lease as buf:
                view = memoryview(buf)
                if successor is None:
                    return await self.disk(lambda: store.put(inode, index, version, view, new_len))
                await self.disk(store.stage, inode, index, version, view, new_len)
                await self._pass_on(successor, chain, chunk, version, view[:new_len], 0)
                return await self.disk(store.commit, inode, index, version)

    async def remove(self, target: Target, chain_id: int, chain_version: int, inode: int, from_index: int) -> int:
        """Remove chunks ``from_index`` onwards of ``inode`` on every member of the chain. Up to
        ``REMOVE_BATCH`` chunks go at once: their removals share transactions here and down the chain."""
        store = target.store
        chain = ChainRef(chain_id, chain_version)
        members = self.routing.chain(chain_id)
        successor = self.routing.successor(members, target.target_id) if members is not None else None
        keys = await self.disk(store.meta.keys, chunk_key(inode, from_index), chunk_key(inode + 1, 0))

        async def one(key: bytes) -> int:
            _ino, index = split_key(key)
            async with self.locks.hold((target.target_id, inode, index)):
                # Down the chain first, then here: the chunks to remove are found by listing this
                # member's, so were it to drop one before a successor failed to, the caller's retry would
                # no longer find it, and the successors would keep it. Were a later chunk of the same name
                # then written (its versions start again at 1), they would take their stale copy for it.
                if successor is not None:
                    await self._pass_on_remove(successor, chain, ChunkId(inode, index))
                return await self.disk(store.drop, inode, index)

        removed = 0
        for start in range(0, len(keys), REMOVE_BATCH):
            results = await asyncio.gather(*(one(key) for key in keys[start : start + REMOVE_BATCH]),
                                           return_exceptions=True)
            for result in results:
                if isinstance(result, BaseException):
                    raise result
            removed += sum(results)
        return removed


def _stage_write(store, inode: int, index: int, offset: int, data, chunk_size: int, aligned):
    """(On a disk thread, at the head.) Stage a client's write as the chunk's next version: straight
    from the page-aligned buffer it came in when it replaces the whole chunk, else over a copy of the
    committed content. Returns (the copy's lease, or None, pending record, its bytes)."""
    committed = store.query(inode, index)
    if aligned is not None and offset == 0 and (committed is None or len(data) >= committed.length):
        _zero_tail(aligned, len(data))
        version = (committed.version if committed else 0) + 1
        return None, store.stage(inode, index, version, aligned, len(data)), aligned
    lease, length, version = store.build(inode, index, offset, data, chunk_size)
    with lease as buf:  # given back should staging fail
        view = memoryview(buf)
        staged = store.stage(inode, index, version, view, length)
        return lease.hand_over(), staged, view


def _stage_update(store, inode: int, index: int, version: int, view, length: int, blocks, tail: bool):
    """(On a disk thread, after the head.) Apply a forwarded update: returns (committed record, None)
    when this member already holds ``version`` or, as the tail, has just committed it; else (None,
    pending record) staged for the successor.

    "Already holds" means that very version, bytes and all (a re-sent update: a head rolling forward a
    version this member committed). A committed copy at ``version`` or later with other bytes is stale:
    versions start again at 1 after a removal, and a member that missed one (it was offline, and its
    recovery had not reached the chunk yet) still holds the removed file's chunk, at a version the new
    chunk reaches again. It is replaced, never taken for the new version."""
    committed = store.query(inode, index)
    if committed is not None and committed.version >= version:
        if blocks is None:
            blocks = array.array("I", block_crcs(view[:length])).tobytes()
        if (committed.version, committed.length, committed.crc) == (version, length, chunk_checksum(blocks)):
            return committed, None
        log.warning("target %s: chunk %d:%d v%d held here is stale (another v%d arrives): replaced", store.name,
                    inode, index, committed.version, version)
        if not tail:  # (a pending version commits only over an older committed one)
            store.drop(inode, index)
    if tail:
        return store.put(inode, index, version, view, length, blocks=blocks), None
    return None, store.stage(inode, index, version, view, length, blocks)


def _zero_tail(view: memoryview, length: int) -> None:
    tail = -length % 4096
    if tail:
        view[length : length + tail] = bytes(tail)


def _aligned_copy(store, data) -> Lease:
    """The update's data in a leased, pooled, page-aligned buffer (what the chunk store writes with
    O_DIRECT), with zeros up to the next 4 KiB."""
    length = len(data) if data is not None else 0
    lease = store.buffers.lease(max(length, 1))
    with lease as buf, memoryview(buf) as view:
        if length:
            view[:length] = data
        tail = -length % 4096
        if tail:
            view[length : length + tail] = bytes(tail)
        return lease.hand_over()
