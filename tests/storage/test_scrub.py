"""The head's side of a chain scrub (storage/_scrub.py), over real chunk stores: each member of a chain
of three is a store, and the peers' calls (QueryChunk, the FLAG_SYNC send, the whole-chunk fetch) act on
them directly, as the real ones would. What the head decides for each kind of disagreement, and that it
never touches a chunk with an update in flight."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

import pytest

from fs3 import _wire
from fs3._wire import ChainRef, ChunkId
from fs3.proto import cluster_pb2, storage_pb2
from fs3.storage._chunk_store import ChunkStore
from fs3.storage._replication import Replicator
from fs3.storage._routing import SERVING, Peer
from fs3.storage._scrub import Scrubber
from fs3.storage._target import Target

CHAIN = ChainRef(4, 9)
HEAD, MIDDLE, TAIL = 1, 2, 3
CHUNK = ChunkId(77, 3)


class Routing:
    def chain(self, chain_id):
        return cluster_pb2.ChainInfo(id=CHAIN.chain_id, version=CHAIN.chain_version, targets=[HEAD, MIDDLE, TAIL])

    def public_state(self, target_id):
        return SERVING

    def peer(self, target_id):
        return Peer(target_id, f"data-{target_id}", "", SERVING, f"ctl-{target_id}")


class Signer:
    def metadata(self):
        return ()


class Peers:
    signer = Signer()


class MemberStub:
    """A member node's QueryChunk, answered from its store as the servicer does."""

    def __init__(self, store: ChunkStore):
        self.store = store

    def QueryChunk(self, request, timeout=None, metadata=None):  # noqa: N802 - a gRPC method's name
        committed, pending = self.store.state(request.chunk.inode, request.chunk.index)
        meta = storage_pb2.ChunkMeta(chunk=request.chunk)
        if committed is not None:
            meta.version, meta.length, meta.crc32c = committed.version, committed.length, committed.crc
        meta.pending_version = pending.version if pending else 0
        return storage_pb2.QueryChunkReply(exists=committed is not None, meta=meta)


class Recovery:
    """Recovery's peer paths, acting on the members' stores; records what was sent."""

    def __init__(self, stores: dict[int, ChunkStore], damage_fetches: bool = False):
        self.stores = stores
        self.sent: list[tuple[int, int, int]] = []  # (target, version, flags)
        self.damage_fetches = damage_fetches

    def _stub(self, address: str):
        return MemberStub(self.stores[int(address.rsplit("-", 1)[1])])

    async def _send(self, peer, chain, chunk, version, data, flags):
        assert chain == CHAIN
        self.sent.append((peer.target_id, version, flags))
        store = self.stores[peer.target_id]
        if flags & _wire.FLAG_REMOVE:
            store.drop(chunk.inode, chunk.index)
        else:
            buf = bytearray(-(-max(len(data), 1) // 4096) * 4096)
            buf[: len(data)] = data
            store.put(chunk.inode, chunk.index, version, memoryview(buf), len(data))

    async def _fetch(self, peer, chain_id, chain_version, inode, index, length):
        store = self.stores[peer.target_id]
        rec = store.query(inode, index)
        lease = store.load(inode, index, rec)
        if self.damage_fetches:
            with memoryview(lease.buf) as view:
                view[0] ^= 0xFF
        return lease, rec.version


@pytest.fixture
def chain(tmp_path):
    stores = {t: ChunkStore(tmp_path / f"t{t}", direct=False) for t in (HEAD, MIDDLE, TAIL)}
    executor = ThreadPoolExecutor(2)
    yield stores, executor
    executor.shutdown()
    for store in stores.values():
        store.close()


def run(stores, executor, chunks, *, damage_fetches=False):
    recovery = Recovery(stores, damage_fetches)
    routing = Routing()
    scrubber = Scrubber(routing, Replicator(routing, executor, Peers()), recovery)
    head = Target(stores[HEAD].root, stores[HEAD], HEAD)
    results = asyncio.run(scrubber.scrub(head, CHAIN, chunks, compared=len(chunks)))
    return results, recovery.sent, scrubber.ops.snapshot()


def put(store: ChunkStore, data: bytes, times: int = 1) -> None:
    for _ in range(times):
        store.write(CHUNK.inode, CHUNK.index, 0, data, 1 << 20)


def copy(store: ChunkStore):
    """The committed copy of the chunk: (version, length, checksum), or None."""
    rec = store.query(*CHUNK)
    return None if rec is None else (rec.version, rec.length, rec.crc)


def test_a_live_chunk_lost_on_two_members_is_sent_to_both(chain):
    stores, executor = chain
    put(stores[HEAD], b"x" * 5000, times=2)  # version 2 at the head only
    (result,), sent, ops = run(stores, executor, [(CHUNK, True)])
    assert result.action == storage_pb2.SCRUB_RESTORED and list(result.targets) == [MIDDLE, TAIL]
    assert not result.head_restored
    assert [(t, v) for t, v, _ in sent] == [(MIDDLE, 2), (TAIL, 2)]
    assert all(flags == _wire.FLAG_SYNC for _, _, flags in sent)
    assert copy(stores[MIDDLE]) == copy(stores[TAIL]) == copy(stores[HEAD])
    assert ops["scrub"].count == 1 and ops["scrub_repair"].count == 1


def test_a_stale_copy_is_replaced_even_with_a_higher_version(chain):
    """Versions start again at 1 after a removal: a member that missed one may hold a higher version
    of older content. The head's copy wins."""
    stores, executor = chain
    put(stores[HEAD], b"new")
    put(stores[MIDDLE], b"new")
    put(stores[TAIL], b"old", times=3)
    (result,), sent, _ = run(stores, executor, [(CHUNK, True)])
    assert result.action == storage_pb2.SCRUB_RESTORED and list(result.targets) == [TAIL]
    assert copy(stores[TAIL]) == copy(stores[HEAD])


def test_a_chunk_the_head_lost_is_taken_from_the_first_member_that_holds_it(chain):
    stores, executor = chain
    put(stores[TAIL], b"t" * 9000, times=2)
    (result,), sent, _ = run(stores, executor, [(CHUNK, True)])
    assert result.action == storage_pb2.SCRUB_RESTORED and result.head_restored
    assert list(result.targets) == [HEAD, MIDDLE]
    assert copy(stores[HEAD]) == copy(stores[MIDDLE]) == copy(stores[TAIL])
    assert copy(stores[HEAD])[0] == 2  # the version the member recorded


def test_a_copy_that_does_not_match_its_checksum_is_not_taken(chain):
    stores, executor = chain
    put(stores[MIDDLE], b"m" * 9000)
    (result,), sent, ops = run(stores, executor, [(CHUNK, True)], damage_fetches=True)
    assert result.action == storage_pb2.SCRUB_FAILED and "checksum" in result.detail
    assert copy(stores[HEAD]) is None and copy(stores[TAIL]) is None and not sent
    assert ops["scrub_repair"].errors == 1


def test_garbage_goes_from_every_member_that_holds_it(chain):
    stores, executor = chain
    put(stores[HEAD], b"g")
    put(stores[TAIL], b"g")
    (result,), sent, _ = run(stores, executor, [(CHUNK, False)])
    assert result.action == storage_pb2.SCRUB_REMOVED and sorted(result.targets) == [HEAD, TAIL]
    assert sent == [(TAIL, 0, _wire.FLAG_SYNC | _wire.FLAG_REMOVE)]
    assert all(copy(s) is None for s in stores.values())


@pytest.mark.parametrize("where", [HEAD, TAIL])
def test_a_chunk_with_an_update_in_flight_is_left_alone(chain, where):
    stores, executor = chain
    put(stores[HEAD], b"a")
    data = bytearray(4096)
    stores[where].stage(CHUNK.inode, CHUNK.index, 2, memoryview(data), 10)  # pending version 2
    before = {t: (copy(s), s.state(*CHUNK)[1]) for t, s in stores.items()}
    for live in (True, False):
        (result,), sent, _ = run(stores, executor, [(CHUNK, live)])
        assert result.action == storage_pb2.SCRUB_PENDING and not sent
    assert {t: (copy(s), s.state(*CHUNK)[1]) for t, s in stores.items()} == before


def test_chunks_every_member_agrees_on_are_in_sync(chain):
    stores, executor = chain
    for store in stores.values():
        put(store, b"same")
    other = ChunkId(CHUNK.inode, CHUNK.index + 1)  # held by nobody
    results, sent, _ = run(stores, executor, [(CHUNK, True), (other, True), (other, False)])
    assert [r.action for r in results] == [storage_pb2.SCRUB_IN_SYNC] * 3 and not sent
    assert [(r.chunk.inode, r.chunk.index) for r in results] == [tuple(CHUNK), tuple(other), tuple(other)]
