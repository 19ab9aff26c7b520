"""KV conformance, run on SQLite and on a real 3-member etcd cluster: ordered ranges, read-your-writes,
atomic commit, rollback on error, serializable conflicts (also on ranges), and etcd losing a member."""

from __future__ import annotations

import threading

import pytest
from _timing import wait_for

from fs3.meta.kv import KVError, prefix_end


def test_get_set_clear(kv):
    kv.transact(lambda t: t.set(b"a", b"1"))
    assert kv.transact(lambda t: t.get(b"a"), readonly=True) == b"1"
    kv.transact(lambda t: t.clear(b"a"))
    assert kv.transact(lambda t: t.get(b"a"), readonly=True) is None


def test_ranges_are_ordered_bytewise(kv):
    keys = [b"p\x00", b"p\x01", b"p\xff", b"p", b"q", b"o\xff"]

    def fill(t):
        for k in keys:
            t.set(k, k)

    kv.transact(fill)
    got = kv.transact(lambda t: t.get_range(b"p", prefix_end(b"p")), readonly=True)
    assert [k for k, _ in got] == [b"p", b"p\x00", b"p\x01", b"p\xff"]
    rev = kv.transact(lambda t: t.get_range(b"p", prefix_end(b"p"), limit=2, reverse=True), readonly=True)
    assert [k for k, _ in rev] == [b"p\xff", b"p\x01"]
    kv.transact(lambda t: t.clear_range(b"p\x00", b"p\xff"))
    got = kv.transact(lambda t: t.get_range(b"p", prefix_end(b"p")), readonly=True)
    assert [k for k, _ in got] == [b"p", b"p\xff"]


def test_read_your_writes_and_rollback(kv):
    def run(t):
        t.set(b"k", b"v")
        assert t.get(b"k") == b"v"
        raise RuntimeError("abort")

    with pytest.raises(RuntimeError):
        kv.transact(run)
    assert kv.transact(lambda t: t.get(b"k"), readonly=True) is None


def test_readonly_transaction_refuses_writes(kv):
    with pytest.raises(KVError):
        kv.transact(lambda t: t.set(b"k", b"v"), readonly=True)


def test_concurrent_increments_are_serializable(kv):
    kv.transact(lambda t: t.set(b"n", b"0"))

    def bump(t):
        t.set(b"n", str(int(t.get(b"n")) + 1).encode())

    def worker():
        for _ in range(50):
            kv.transact(bump)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert kv.transact(lambda t: t.get(b"n"), readonly=True) == b"200"


def test_prefix_end():
    assert prefix_end(b"ab") == b"ac"
    assert prefix_end(b"a\xff") == b"b"
    with pytest.raises(ValueError):
        prefix_end(b"\xff")


def test_own_writes_merge_into_ranges_with_limits(kv):
    kv.transact(lambda t: [t.set(k, b"old") for k in (b"r1", b"r3", b"r5", b"r7")])

    def run(t):
        t.set(b"r2", b"new")
        t.clear(b"r1")
        t.set(b"r5", b"new")
        assert t.get_range(b"r", b"s", limit=3) == [(b"r2", b"new"), (b"r3", b"old"), (b"r5", b"new")]
        assert t.get_range(b"r", b"s", limit=2, reverse=True) == [(b"r7", b"old"), (b"r5", b"new")]
        t.clear_range(b"r3", b"r6")
        assert [k for k, _ in t.get_range(b"r", b"s")] == [b"r2", b"r7"]
        assert t.get(b"r3") is None

    kv.transact(run)
    assert [k for k, _ in kv.transact(lambda t: t.get_range(b"r", b"s"), readonly=True)] == [b"r2", b"r7"]


def _race(kv, first, second):
    """Run ``first`` in a transaction that, between its reads and its commit, lets ``second`` commit;
    returns how many times ``first`` ran (2: it conflicted and was retried)."""
    runs = []
    threads = []

    def txn(t):
        runs.append(1)
        first(t)
        if len(runs) == 1:
            th = threading.Thread(target=lambda: kv.transact(second))
            threads.append(th)
            th.start()
            th.join(timeout=0.5)  # SQLite serializes writers: the other commits after this one
        return len(runs)

    result = kv.transact(txn)
    for th in threads:
        th.join()
    return result


def test_a_range_read_conflicts_with_an_insert_or_a_delete_in_the_range(kv):
    kv.transact(lambda t: [t.set(b"d/a", b"1"), t.set(b"d/c", b"1"), t.set(b"count", b"2")])

    def count_entries(t):
        t.set(b"count", str(len(t.get_range(b"d/", b"d0"))).encode())

    # Serializable either way: the counter commits first (SQLite makes the other writer wait), or the
    # insert does and the counter, having read a stale range, must run again (etcd's optimistic
    # commit refuses it).
    optimistic = type(kv).__name__ == "EtcdKV"
    runs = _race(kv, count_entries, lambda t: t.set(b"d/b", b"1"))
    assert runs == (2 if optimistic else 1)
    assert kv.transact(lambda t: t.get(b"count"), readonly=True) == (b"3" if runs == 2 else b"2")
    kv.transact(count_entries)
    runs = _race(kv, count_entries, lambda t: t.clear(b"d/a"))
    assert runs == (2 if optimistic else 1)
    assert kv.transact(lambda t: t.get(b"count"), readonly=True) == (b"2" if runs == 2 else b"3")


def test_reads_of_one_transaction_see_one_snapshot(kv):
    kv.transact(lambda t: [t.set(b"x", b"1"), t.set(b"y", b"1")])
    stop = threading.Event()

    def writer():
        n = 2
        while not stop.is_set():
            kv.transact(lambda t, n=n: [t.set(b"x", str(n).encode()), t.set(b"y", str(n).encode())])
            n += 1

    th = threading.Thread(target=writer)
    th.start()
    try:
        for _ in range(30):
            x, y = kv.transact(lambda t: (t.get(b"x"), t.get(b"y")), readonly=True)
            assert x == y
    finally:
        stop.set()
        th.join()


def test_etcd_keeps_working_with_one_member_killed(etcd):
    from fs3.meta.kv import EtcdKV

    kv = EtcdKV(etcd.endpoints)
    kv.transact(lambda t: t.set(b"before", b"1"))
    etcd.kill(0)
    try:
        for i in range(20):
            kv.transact(lambda t, i=i: t.set(f"after{i}".encode(), b"1"))
        got = kv.transact(lambda t: t.get_range(b"after", prefix_end(b"after")), readonly=True)
        assert len(got) == 20 and kv.transact(lambda t: t.get(b"before"), readonly=True) == b"1"
    finally:
        etcd.start(0)
        kv.close()
    from fs3.local._etcd import healthy

    wait_for(lambda: healthy(etcd.endpoints[0]), what="the killed member to rejoin")


def test_sqlite_group_commit_rolls_back_a_failing_writer_alone(tmp_path):
    """Writers committed together: each in its own savepoint, so one that fails leaves the others'
    writes durable, and a transaction called from inside another nests in it."""
    from fs3.meta.kv import SQLiteKV

    kv = SQLiteKV(tmp_path / "kv.db")
    barrier = threading.Barrier(8)
    errors = []

    def writer(i: int) -> None:
        barrier.wait()
        for n in range(30):
            def run(t, n=n):
                t.set(f"w{i}-{n}".encode(), b"1")
                if i == 3 and n % 2:
                    raise ValueError("this writer fails")
            try:
                kv.transact(run)
            except ValueError:
                errors.append((i, n))

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    keys = {k.decode() for k, _ in kv.transact(lambda t: t.get_range(b"w", b"x"), readonly=True)}
    expected = {f"w{i}-{n}" for i in range(8) for n in range(30) if not (i == 3 and n % 2)}
    assert keys == expected and len(errors) == 15

    def outer(t):
        t.set(b"outer", b"1")
        kv.transact(lambda t2: t2.set(b"inner", b"1"))
        with pytest.raises(ValueError):
            kv.transact(lambda t2: (t2.set(b"gone", b"1"), (_ for _ in ()).throw(ValueError("no"))))
        assert kv.transact(lambda t2: t2.get(b"inner"), readonly=True) == b"1"

    kv.transact(outer)
    got = kv.transact(lambda t: [t.get(k) for k in (b"outer", b"inner", b"gone")], readonly=True)
    assert got == [b"1", b"1", None]
    kv.close()


def test_etcd_read_cache_never_answers_stale(etcd):
    """Two stores on one etcd cluster, as two meta servers: what one caches and the other changes is
    read fresh, by read-only transactions, by read-write ones, and by ones that fail on what they read."""
    from fs3.meta.kv import EtcdKV

    a = etcd.fresh_kv()
    b = EtcdKV(etcd.endpoints)
    a.transact(lambda t: t.set(b"x", b"1"))
    assert a.transact(lambda t: t.get(b"x"), readonly=True) == b"1"  # cached now
    assert a.transact(lambda t: t.get(b"absent"), readonly=True) is None  # cached as absent
    b.transact(lambda t: t.set(b"x", b"2"))
    b.transact(lambda t: t.set(b"absent", b"here"))
    assert a.transact(lambda t: t.get(b"x"), readonly=True) == b"2"
    assert a.transact(lambda t: t.get(b"absent"), readonly=True) == b"here"

    def must_exist(t):
        if t.get(b"y") is None:
            raise LookupError("y is missing")
        return t.get(b"y")

    with pytest.raises(LookupError):
        a.transact(must_exist, readonly=True)  # y cached as absent
    b.transact(lambda t: t.set(b"y", b"3"))
    assert a.transact(must_exist, readonly=True) == b"3"  # the error is re-checked, not served stale

    a.transact(lambda t: t.get(b"x"))
    b.transact(lambda t: t.set(b"x", b"4"))
    a.transact(lambda t: t.set(b"x", t.get(b"x") + b"+"))  # read-modify-write on a stale entry: rerun
    assert b.transact(lambda t: t.get(b"x"), readonly=True) == b"4+"

    # A listing of many keys beside a cached key (a directory page): validated without a compare per
    # listed key (etcd caps a Txn's operations), and still never stale.
    b.transact(lambda t: [t.set(b"dir/%05d" % i, b"e") for i in range(300)])

    def listing(t):
        return t.get(b"x"), len(t.get_range(b"dir/", b"dir0"))

    assert a.transact(listing, readonly=True) == (b"4+", 300)
    b.transact(lambda t: t.set(b"x", b"5"))
    assert a.transact(listing, readonly=True) == (b"5", 300)
    b.close()
