"""KV conformance: ordered ranges, read-your-writes, atomic commit, rollback on error, conflicts."""

from __future__ import annotations

import threading

import pytest

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
