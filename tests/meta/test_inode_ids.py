"""Inode ids stay unique and allocation never deadlocks, also when ids are taken inside a transaction
(meta's call server runs a group of calls in one) while other threads take them outside."""

from __future__ import annotations

import threading

import pytest

from fs3.meta._inode_ids import InodeAllocator
from fs3.meta.kv import SQLiteKV


def test_ids_are_unique_inside_and_outside_transactions_and_rollbacks_hand_out_nothing(tmp_path):
    kv = SQLiteKV(tmp_path / "kv.db")
    alloc = InodeAllocator(kv, batch=8)
    kept: list[int] = []
    lock = threading.Lock()
    errors = []

    def inside(rounds: int) -> None:  # like a group commit: ids taken within a write transaction
        try:
            for i in range(rounds):
                def run(txn, i=i):
                    ids = [alloc() for _ in range(3)]
                    txn.set(b"g%d" % i, b"x")
                    if i % 4 == 3:
                        raise RuntimeError("the group fails: its ids were never used")
                    return ids
                try:
                    ids = kv.transact(run)
                except RuntimeError:
                    continue
                with lock:
                    kept.extend(ids)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    def outside(rounds: int) -> None:
        try:
            for _ in range(rounds):
                ino = alloc()
                with lock:
                    kept.append(ino)
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=inside, args=(60,)) for _ in range(2)]
    threads += [threading.Thread(target=outside, args=(150,)) for _ in range(2)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=60)
    assert not any(th.is_alive() for th in threads), "allocation deadlocked"
    assert not errors
    assert len(kept) == len(set(kept)) == 2 * 45 * 3 + 2 * 150
    kv.close()


def test_top_up_reserves_ahead(tmp_path):
    kv = SQLiteKV(tmp_path / "kv.db")
    alloc = InodeAllocator(kv, batch=8)
    alloc.top_up(100)
    first = alloc()
    got = kv.transact(lambda txn: [alloc() for _ in range(50)])  # from the range: no reservation inside
    assert got == list(range(first + 1, first + 51))
    with pytest.raises(ValueError):
        kv.transact(lambda txn: (alloc(), (_ for _ in ()).throw(ValueError("rolled back"))))
    assert alloc() == first + 52  # range ids are committed reservations: never handed out twice
    kv.close()
