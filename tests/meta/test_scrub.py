"""The chain scrub's pure parts (meta/_scrub.py): comparing the members' chunk listings, and judging
whether a chunk that differs is still needed by its file (live), garbage, or the collector's."""

from __future__ import annotations

from fs3.meta import _keys as keys
from fs3.meta import ops
from fs3.meta._scrub import GARBAGE, LIVE, UNDECIDED, Copy, chunk_verdict, classify
from fs3.meta.ops import ROOT_CRED as ROOT
from fs3.proto import meta_pb2

MiB = 1 << 20


def key(inode: int, index: int) -> bytes:
    return inode.to_bytes(8, "big") + index.to_bytes(8, "big")


def test_classify_sorts_chunks_into_in_sync_differing_and_pending():
    same = Copy(3, 0xAB, 0)
    head = {key(1, 0): same, key(1, 1): same, key(1, 2): same, key(1, 3): Copy(2, 0xCD, 3), key(2, 0): same}
    middle = {key(1, 0): same, key(1, 2): Copy(3, 0xEE, 0), key(1, 3): Copy(3, 0xEF, 0), key(2, 0): same,
              key(9, 9): Copy(0, 0, 1)}
    tail = {key(1, 0): same, key(1, 1): same, key(1, 2): same, key(1, 3): Copy(3, 0xEF, 0), key(2, 0): same,
            key(7, 0): same}
    seen, differ, pending = classify([head, middle, tail])
    assert seen == sorted(set(head) | set(middle) | set(tail))
    # 1:1 missing on the middle; 1:2 another checksum there; 7:0 only on the tail (the head lacks it)
    assert differ == [key(1, 1), key(1, 2), key(7, 0)]
    # an update in flight (1:3: pending at the head) or a new chunk not yet committed anywhere (9:9)
    assert pending == [key(1, 3), key(9, 9)]


def test_classify_calls_equal_copies_in_sync_and_a_lone_member_too():
    assert classify([{key(5, 0): Copy(1, 7, 0)}] * 3) == ([key(5, 0)], [], [])
    assert classify([{}, {}]) == ([], [], [])
    # a chunk none holds committed, only pending somewhere, is never "differing"
    assert classify([{key(5, 0): Copy(0, 0, 2)}, {}])[1] == []


def create(ctx, path: str, length: int) -> int:
    opened = ops.open_file(ctx, ROOT, meta_pb2.OpenRequest(path=path, write=True, create=True))
    ops.close_file(ctx, ROOT, meta_pb2.CloseRequest(inode=opened.inode.id, session=opened.session))
    if length:
        ops.set_length(ctx, opened.inode.id, length, path)
    return opened.inode.id


def verdict(ctx, ino: int, index: int) -> str:
    return ctx.kv.transact(lambda txn: chunk_verdict(txn, ino, index), readonly=True)


def test_a_chunk_within_the_length_of_a_file_is_live_and_past_it_garbage(ctx):
    ino = create(ctx, "/f", 2 * MiB + 1)
    assert [verdict(ctx, ino, i) for i in range(4)] == [LIVE, LIVE, LIVE, GARBAGE]
    empty = create(ctx, "/empty", 0)
    assert verdict(ctx, empty, 0) == GARBAGE


def test_a_file_open_for_writing_keeps_every_chunk(ctx):
    """A writer's chunks may lie past the length it has reported so far: none is garbage while it
    writes."""
    opened = ops.open_file(ctx, ROOT, meta_pb2.OpenRequest(path="/w", write=True, create=True))
    assert verdict(ctx, opened.inode.id, 7) == LIVE
    ops.close_file(ctx, ROOT, meta_pb2.CloseRequest(inode=opened.inode.id, session=opened.session))
    assert verdict(ctx, opened.inode.id, 7) == GARBAGE


def test_a_removed_file_is_the_collectors_until_reclaimed_then_garbage(ctx):
    ino = create(ctx, "/r", MiB)
    ops.remove(ctx, ROOT, meta_pb2.RemoveRequest(path="/r"))
    assert verdict(ctx, ino, 0) == UNDECIDED  # queued for the collector, which owns its chunks
    ctx.kv.transact(lambda txn: txn.clear(keys.garbage(ino)))  # what the collector does once reclaimed
    assert verdict(ctx, ino, 0) == GARBAGE
    assert verdict(ctx, 10**12, 0) == GARBAGE  # never existed


def test_a_chunk_of_a_directory_is_garbage(ctx):
    d = ops.mkdir(ctx, ROOT, meta_pb2.MkdirRequest(path="/d")).inode
    assert verdict(ctx, d.id, 0) == GARBAGE
