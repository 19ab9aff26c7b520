"""A member after the head applying a forwarded update (storage/_replication.py ``_stage_update``): a
re-sent version it holds is answered as done, but a copy that only shares the version number (a chunk
kept from before a removal it missed: versions start again at 1) is replaced, at the tail and in the
middle, and the replacement survives a restart."""

from __future__ import annotations

import os

from fs3.storage._chunk_store import ChunkStore
from fs3.storage._replication import _stage_update

INODE, INDEX = 42, 2


def aligned(data: bytes) -> memoryview:
    buf = bytearray(-(-max(len(data), 1) // 4096) * 4096)
    buf[: len(data)] = data
    return memoryview(buf)


def committed(store: ChunkStore) -> tuple[int, bytes] | None:
    rec = store.query(INODE, INDEX)
    return None if rec is None else (rec.version, store.read(INODE, INDEX, 0, rec.length)[0])


def test_a_re_sent_version_the_member_holds_is_answered_as_done(tmp_path):
    store = ChunkStore(tmp_path / "t", direct=False)
    data = os.urandom(10_000)
    store.put(INODE, INDEX, 3, aligned(data), len(data))
    held, staged = _stage_update(store, INODE, INDEX, 3, aligned(data), len(data), None, tail=False)
    assert held is not None and held.version == 3 and staged is None
    assert committed(store) == (3, data) and not store.has_pending(INODE, INDEX)
    store.close()


def test_the_tail_replaces_a_stale_copy_of_the_same_version(tmp_path):
    store = ChunkStore(tmp_path / "t", direct=False)
    old, new = os.urandom(10_000), os.urandom(7_000)
    store.put(INODE, INDEX, 1, aligned(old), len(old))
    held, staged = _stage_update(store, INODE, INDEX, 1, aligned(new), len(new), None, tail=True)
    assert held is not None and staged is None
    assert committed(store) == (1, new)
    store.close()
    reopened = ChunkStore(tmp_path / "t", direct=False)
    assert committed(reopened) == (1, new)
    reopened.close()


def test_a_middle_member_stages_over_a_stale_higher_version_and_its_commit_lasts(tmp_path):
    store = ChunkStore(tmp_path / "t", direct=False)
    old, new = os.urandom(10_000), os.urandom(5_000)
    for _ in range(3):  # version 3 of the removed file's chunk
        store.write(INODE, INDEX, 0, old, 1 << 20)
    held, staged = _stage_update(store, INODE, INDEX, 1, aligned(new), len(new), None, tail=False)
    assert held is None and staged is not None and staged.version == 1
    assert store.query(INODE, INDEX) is None  # the stale copy is gone, never served again
    store.commit(INODE, INDEX, 1)  # the tail committed it: the answer passes back
    assert committed(store) == (1, new)
    store.close()  # (writes the deferred commit)
    reopened = ChunkStore(tmp_path / "t", direct=False)
    assert committed(reopened) == (1, new) and not reopened.has_pending(INODE, INDEX)
    reopened.close()
