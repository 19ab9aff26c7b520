"""A chain member's commit is deferred: it shows at once in memory, and its metadata row rides along with
the next transaction. Its durable pending record covers a crash before then, and the slot of the version
it replaced stays taken until the row is written."""

from __future__ import annotations

import contextlib
import sqlite3
import subprocess
import sys
import textwrap
import threading

import pytest
from _timing import wait_for

from fs3.storage import ChunkStore, _chunk_meta, _record_cache
from fs3.storage._chunk_meta import chunk_key

MiB = 1 << 20


@pytest.fixture
def slow_deferral(monkeypatch):
    """Deferred rows wait (almost) for ever unless a durable update takes them along."""
    monkeypatch.setattr(_chunk_meta, "DEFER_DELAY", 60.0)


@contextlib.contextmanager
def _opened(tmp_path):
    """The test's chunk store, opened (again) on the same directory and closed at the end."""
    store = ChunkStore(tmp_path / "t")
    try:
        yield store
    finally:
        store.close()


def _stage(store: ChunkStore, inode: int, index: int, data: bytes):
    lease, length, version = store.build(inode, index, 0, data, MiB)
    with lease as buf:
        return store.stage(inode, index, version, memoryview(buf), length)


def _rows(path):
    """(committed, pending) versions of every chunk as the database file has them now."""
    db = sqlite3.connect(path / "chunks.db")
    try:
        committed = dict(db.execute("SELECT id, version FROM chunks"))
        pending = dict(db.execute("SELECT id, version FROM pending"))
    finally:
        db.close()
    return committed, pending


def test_a_commit_shows_at_once_and_its_row_rides_with_the_next_update(tmp_path, slow_deferral):
    with _opened(tmp_path) as store:
        store.write(1, 0, 0, b"a" * 5000, MiB)
        _stage(store, 1, 0, b"b" * 5000)
        store.commit(1, 0, 2)
        assert store.read(1, 0, 0, 5000)[0] == b"b" * 5000
        committed, pending = _rows(tmp_path / "t")
        assert committed[chunk_key(1, 0)] == 1 and pending[chunk_key(1, 0)] == 2  # not written yet

        _stage(store, 2, 0, b"c" * 100)  # a durable update: its transaction takes the commit along
        committed, pending = _rows(tmp_path / "t")
        assert committed[chunk_key(1, 0)] == 2 and chunk_key(1, 0) not in pending
        assert pending[chunk_key(2, 0)] == 1


def test_close_writes_what_is_deferred(tmp_path, slow_deferral):
    store = ChunkStore(tmp_path / "t")
    _stage(store, 4, 0, b"x" * 3000)
    store.commit(4, 0, 1)
    store.close()
    assert _rows(tmp_path / "t") == ({chunk_key(4, 0): 1}, {})
    with _opened(tmp_path) as store:
        assert store.read(4, 0, 0, 3000)[0] == b"x" * 3000


def test_the_background_writer_writes_a_lone_commit(tmp_path):
    with _opened(tmp_path) as store:
        _stage(store, 5, 0, b"y" * 100)
        written = threading.Event()
        store.meta.commit_pending(chunk_key(5, 0), store.state(5, 0)[1], then=written.set)
        assert written.wait(10)
        assert _rows(tmp_path / "t")[0] == {chunk_key(5, 0): 1}


def test_the_replaced_slot_stays_taken_until_the_commit_is_written(tmp_path, slow_deferral):
    with _opened(tmp_path) as store:
        old = store.write(1, 0, 0, b"a" * MiB, MiB)  # slots are handed out lowest first
        _stage(store, 1, 0, b"b" * MiB)
        store.commit(1, 0, 2)
        # Until the row is written the database still names the old slot: nothing may take it.
        slot = store.slots.allocate(old.cls)
        assert slot != old.slot
        store.slots.unallocate(old.cls, slot)
        store.write(2, 0, 0, b"c" * MiB, MiB)  # durable: its transaction writes the commit too
        assert store.slots.allocate(old.cls) == old.slot
        assert store.read(1, 0, 0, 4)[0] == b"bbbb" and store.read(2, 0, 0, 4)[0] == b"cccc"


def test_a_crash_before_the_row_is_written_leaves_the_version_pending(tmp_path):
    """A process that commits and dies at once: on restart the version is pending (never served until
    the chain rolls it forward), and the old version's slot is still held, so no other chunk's data can
    land in a slot the database still names."""
    target = tmp_path / "t"
    script = textwrap.dedent(f"""
        import os, sys
        sys.path.insert(0, {str(_repo_root())!r})
        from fs3.storage import _chunk_meta
        _chunk_meta.DEFER_DELAY = 60.0
        from fs3.storage import ChunkStore
        s = ChunkStore(__import__("pathlib").Path({str(target)!r}))
        s.write(1, 0, 0, b"a" * 8192, 1 << 20)
        lease, length, version = s.build(1, 0, 0, b"b" * 8192, 1 << 20)
        s.stage(1, 0, version, memoryview(lease.buf), length)
        s.commit(1, 0, version)
        print(version, flush=True)
        os._exit(0)
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "2"
    store = ChunkStore(target)
    try:
        committed, pending = store.state(1, 0)
        assert (committed.version, pending.version) == (1, 2)
        with pytest.raises(OSError) as info:
            store.read(1, 0, 0, 10)
        assert info.value.status == 3008  # pending: not served here
        used = set(store.meta.used_slots())
        assert (committed.cls, committed.slot) in used and (pending.cls, pending.slot) in used
        fresh = store.write(2, 0, 0, b"c" * 8192, MiB)
        assert (fresh.cls, fresh.slot) not in {(committed.cls, committed.slot), (pending.cls, pending.slot)}
        store.commit(1, 0, 2)  # what the chain's roll-forward does
        assert store.read(1, 0, 0, 8192)[0] == b"b" * 8192
    finally:
        store.close()


def test_an_evicted_record_is_not_read_back_stale_before_its_row_is_written(tmp_path, monkeypatch,
                                                                           slow_deferral):
    monkeypatch.setattr(_record_cache, "RECORD_CACHE_BYTES", 100)  # room for one record
    with _opened(tmp_path) as store:
        for i in range(8):
            store.write(7, i, 0, b"o" * 4096, MiB)
        for i in range(8):
            _stage(store, 7, i, bytes([i + 1]) * 4096)
        for i in range(8):
            store.commit(7, i, 2)
        # None of the commits is written yet, and the cache kept only the last record.
        assert set(_rows(tmp_path / "t")[0].values()) == {1}
        for i in range(8):
            assert store.query(7, i).version == 2
            assert store.read(7, i, 0, 4096)[0] == bytes([i + 1]) * 4096


def test_concurrent_updates_commits_and_drops_stay_consistent(tmp_path):
    """Threads stage, commit and drop chunks at once (leaders of one transaction run the follow-ups of
    others' commits): nothing deadlocks, and a reopened store holds exactly what memory said."""
    store = ChunkStore(tmp_path / "t")
    expect: dict[tuple[int, int], bytes | None] = {}
    lock = threading.Lock()

    def worker(w: int):
        for round_ in range(30):
            index = round_ % 5
            data = bytes([(w * 31 + round_) % 251]) * (4096 * (1 + round_ % 3))
            rec = _stage(store, w, index, data)  # over a longer version, its tail stays
            store.commit(w, index, rec.version)
            with lock:
                before = expect.get((w, index)) or b""
                expect[(w, index)] = data + before[len(data):]
            if round_ % 7 == 6:
                store.drop(w, index)
                with lock:
                    expect[(w, index)] = None

    threads = [threading.Thread(target=worker, args=(w,)) for w in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
        assert not t.is_alive(), "a worker is stuck"
    store.close()
    with _opened(tmp_path) as store:
        for (inode, index), data in expect.items():
            got, rec = store.read(inode, index, 0, MiB)
            assert (rec is None) if data is None else got == data, (inode, index)
            assert store.state(inode, index)[1] is None
        used = store.meta.used_slots()
        assert len(used) == len(set(used)) == sum(d is not None for d in expect.values())


def _repo_root():
    import pathlib

    return pathlib.Path(__file__).resolve().parents[2]


def test_try_commit_never_waits(tmp_path):
    """The event loop commits inline only when nothing can block: not while another thread holds the
    chunk's lock, nor when the committed record (or that there is none) is not in memory."""
    with _opened(tmp_path) as store:
        rec = _stage(store, 1, 0, b"n" * 5000)
        got = []
        with store._lock(1, 0):
            t = threading.Thread(target=lambda: got.append(store.try_commit(1, 0, rec.version)))
            t.start()
            t.join(10)
        assert got == [None] and store.state(1, 0)[1] is not None  # nothing done
        store.records.clear()
        assert store.try_commit(1, 0, rec.version) is None
        assert store.query(1, 0) is None  # looked up once: no committed version, and remembered
        assert store.try_commit(1, 0, rec.version) == rec
        assert store.read(1, 0, 0, 5000)[0] == b"n" * 5000


def test_a_chunk_known_absent_shows_once_written_and_after_a_drop(tmp_path):
    with _opened(tmp_path) as store:
        assert store.query(5, 0) is None and store.read(5, 0, 0, 10) == (b"", None)
        store.write(5, 0, 0, b"abc", MiB)
        assert store.query(5, 0).version == 1 and store.read(5, 0, 0, 3)[0] == b"abc"
        store.drop(5, 0)
        assert store.query(5, 0) is None and store.read(5, 0, 0, 10) == (b"", None)
        rec = _stage(store, 5, 0, b"def")
        assert store.query(5, 0) is None  # pending only
        store.commit(5, 0, rec.version)
        assert store.read(5, 0, 0, 3)[0] == b"def"


class _FailingFlush:
    """Another update's data file whose flush fails (EIO): its whole transaction fails with it."""

    def sync(self):
        raise OSError(5, "Input/output error")


def test_a_deferred_commit_whose_transaction_fails_is_retried_not_lost(tmp_path, slow_deferral):
    with _opened(tmp_path) as store:
        store.write(1, 0, 0, b"1" * 5000, MiB)
        _stage(store, 1, 0, b"2" * 5000)
        store.commit(1, 0, 2)
        with pytest.raises(OSError):  # the deferred row rode with this one, and failed with it
            store.meta.put_pending(chunk_key(9, 9), store.query(1, 0), flush=(_FailingFlush(),))
        assert _rows(tmp_path / "t") == ({chunk_key(1, 0): 1}, {chunk_key(1, 0): 2})
        _stage(store, 2, 0, b"x")  # the next transaction writes it after all
        committed, pending = _rows(tmp_path / "t")
        assert committed[chunk_key(1, 0)] == 2 and chunk_key(1, 0) not in pending


def test_a_late_deferred_commit_never_undoes_a_newer_put(tmp_path, slow_deferral):
    """A put (the tail's write, recovery, repair) after a failed deferred commit: the retried commit
    must change nothing, no stale pending row may stay behind, and no slot the database names is free."""
    with _opened(tmp_path) as store:
        store.write(1, 0, 0, b"1" * 5000, MiB)
        v2 = _stage(store, 1, 0, b"2" * 5000)
        store.commit(1, 0, 2)
        with pytest.raises(OSError):
            store.meta.put_pending(chunk_key(9, 9), v2, flush=(_FailingFlush(),))
        content = memoryview(store.buffers.acquire(8192))
        content[:5000] = b"3" * 5000
        content[5000:8192] = bytes(3192)
        v3 = store.put(1, 0, 3, content, 5000)
        assert _rows(tmp_path / "t") == ({chunk_key(1, 0): 3}, {})  # the retried commit ran: no effect
        assert store.read(1, 0, 0, 5000)[0] == b"3" * 5000
        slot = store.slots.allocate(v2.cls)
        assert slot != v3.slot
        store.slots.unallocate(v2.cls, slot)
    with _opened(tmp_path) as store:
        assert store.state(1, 0)[0].version == 3 and store.state(1, 0)[1] is None
        assert store.read(1, 0, 0, 5000)[0] == b"3" * 5000
        used = store.meta.used_slots()
        assert len(used) == len(set(used)) == 1


def test_a_full_metadata_disk_is_no_space(tmp_path):
    from fs3 import NoSpace
    from fs3.storage._chunk_meta import ChunkMetaStore, ChunkRecord

    meta = ChunkMetaStore(tmp_path / "chunks.db")
    try:
        pages = meta._writer.execute("PRAGMA page_count").fetchone()[0]
        meta._writer.execute(f"PRAGMA max_page_count={pages}")  # SQLite's own "disk full"
        with pytest.raises(NoSpace):
            for i in range(100):
                meta.put(chunk_key(1, i), ChunkRecord(1, 1, 0, 12, i, bytes(4096)))
        meta._writer.execute(f"PRAGMA max_page_count={1 << 30}")
        meta.put(chunk_key(2, 0), ChunkRecord(1, 1, 0, 12, 0, bytes(4)))  # usable again
        assert meta.get(chunk_key(2, 0)).version == 1
    finally:
        meta.close()


def test_the_shared_record_cache_survives_threads_evicting_at_once(tmp_path, monkeypatch):
    monkeypatch.setattr(_record_cache, "RECORD_CACHE_BYTES", 64 * 50)
    store = ChunkStore(tmp_path / "t")
    errors: list[BaseException] = []
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible

    def worker(w: int):
        try:
            for i in range(3000):
                assert store.query(w, i) is None  # a miss: remembered as absent, evicting others
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    try:
        threads = [threading.Thread(target=worker, args=(w,)) for w in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
    finally:
        sys.setswitchinterval(interval)
        store.close()
    assert not errors, errors[:3]
    records = store.records
    assert records._bytes == sum(len(r.blocks) + 64 for r in records.entries.values())


def test_a_late_deferred_commit_leaves_a_new_chunk_of_the_same_name_alone(tmp_path, slow_deferral):
    """A failed deferred commit, then a removal and a new chunk of the same name (versions start again
    at 1): the retried commit goes with the removal's transaction, ahead of it, and the new chunk's
    pending version 1 is untouched. (The commit's statements also match the pending record's slot and
    checksum, so even a later run could not take the new version 1 for the old.)"""
    with _opened(tmp_path) as store:
        old = _stage(store, 1, 0, b"o" * 5000)
        store.commit(1, 0, old.version)
        with pytest.raises(OSError):
            store.meta.put_pending(chunk_key(9, 9), old, flush=(_FailingFlush(),))
        store.drop(1, 0)
        new = _stage(store, 1, 0, b"n" * 7000)  # the retried commit rides with this transaction
        assert new.version == old.version == 1
        assert _rows(tmp_path / "t") == ({}, {chunk_key(1, 0): 1})
        assert store.state(1, 0) == (None, new)
        store.commit(1, 0, 1)
        assert store.read(1, 0, 0, 7000)[0] == b"n" * 7000
    with _opened(tmp_path) as store:
        assert store.read(1, 0, 0, 7000)[0] == b"n" * 7000
        assert len(store.meta.used_slots()) == 1


class _FailingWriter:
    """The metadata connection, failing the first ``times`` deferred commit rows (an I/O error)."""

    def __init__(self, db, times: int):
        self._db, self.times = db, times

    def execute(self, sql, *args):
        if sql.startswith("INSERT OR REPLACE INTO chunks SELECT") and self.times > 0:
            self.times -= 1
            raise sqlite3.OperationalError("disk I/O error")
        return self._db.execute(sql, *args)

    def __getattr__(self, name):
        return getattr(self._db, name)


def test_deferred_commits_that_failed_alone_are_retried_by_the_background_writer(tmp_path):
    with _opened(tmp_path) as store:
        rec = _stage(store, 1, 0, b"r" * 100)
        store.meta._writer = _FailingWriter(store.meta._writer, times=2)
        store.commit(1, 0, rec.version)  # no other update comes: only the background writer can retry
        wait_for(lambda: _rows(tmp_path / "t")[0].get(chunk_key(1, 0)) == 1, what="the background retry")
        assert _rows(tmp_path / "t") == ({chunk_key(1, 0): 1}, {})
        assert store.meta._writer.times == 0
