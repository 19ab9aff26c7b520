"""Locks across mounts (as across hosts): fcntl record locks and flock taken through one `fs3 mount` hold
against another mount of the same cluster, and SQLite with several processes on two mounts ends with
every row and a clean integrity check, as on a local directory."""

from __future__ import annotations

import contextlib
import fcntl
import multiprocessing
import os
import sqlite3
import time
from pathlib import Path

import pytest
from _fuse import mounted
from _timing import wait_for


@pytest.fixture(scope="module")
def mounts(cluster, tmp_path_factory, mount_root):
    """Two more mounts of the session cluster, with --direct-io (what sharing a file between hosts takes)."""
    with contextlib.ExitStack() as stack:
        yield [stack.enter_context(mounted(cluster, tmp_path_factory.mktemp(f"lockmnt{k}"), "--direct-io"))
               for k in range(2)]


@pytest.fixture
def pair(mounts, mnt):
    """One directory as seen through the two mounts."""
    return [Path(m) / mnt.name for m in mounts]


def test_a_record_lock_on_one_mount_holds_against_another(pair):
    a_dir, b_dir = pair
    a = open(a_dir / "f", "w+b")  # noqa: SIM115 - held across the test
    b = open(b_dir / "f", "r+b")  # noqa: SIM115
    try:
        fcntl.lockf(a, fcntl.LOCK_EX | fcntl.LOCK_NB, 10, 0)
        with pytest.raises(BlockingIOError):
            fcntl.lockf(b, fcntl.LOCK_EX | fcntl.LOCK_NB, 10, 0)
        with pytest.raises(BlockingIOError):
            fcntl.lockf(b, fcntl.LOCK_SH | fcntl.LOCK_NB, 1, 5)  # a reader of a written range waits too
        fcntl.lockf(b, fcntl.LOCK_EX | fcntl.LOCK_NB, 10, 20)  # beside it: fine
        fcntl.lockf(a, fcntl.LOCK_UN, 10, 0)
        fcntl.lockf(b, fcntl.LOCK_EX | fcntl.LOCK_NB, 10, 0)
    finally:
        b.close()
    # closing a descriptor releases the process's locks on the file, on the other mount too
    fcntl.lockf(a, fcntl.LOCK_EX | fcntl.LOCK_NB, 0, 0)
    a.close()


def test_flock_on_one_mount_holds_against_another_until_closed(pair):
    a_dir, b_dir = pair
    a = open(a_dir / "g", "w+b")  # noqa: SIM115
    b = open(b_dir / "g", "r+b")  # noqa: SIM115
    try:
        fcntl.flock(a, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(BlockingIOError):
            fcntl.flock(b, fcntl.LOCK_SH | fcntl.LOCK_NB)
        a.close()  # the flock goes with the last descriptor (FUSE releases it after close returns)

        def taken() -> bool:
            try:
                fcntl.flock(b, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return False
            return True
        wait_for(taken, what="the closed file's flock to be released on the other mount")
    finally:
        b.close()


def _inserts(path: str, who: int, n: int) -> None:
    con = sqlite3.connect(path, timeout=120)
    for i in range(n):
        for _ in range(10_000):
            try:
                with con:
                    con.execute("INSERT INTO t(who, i) VALUES (?, ?)", (who, i))
                break
            except sqlite3.OperationalError as exc:  # busy: another process holds the lock
                if "locked" not in str(exc) and "busy" not in str(exc):
                    raise
                time.sleep(0.01)
    con.close()


def _sqlite_run(dirs: list[Path], procs: int, n: int) -> tuple[int, str, list]:
    first = str(dirs[0] / "db.sqlite")
    con = sqlite3.connect(first)
    con.execute("PRAGMA journal_mode=DELETE")
    con.execute("CREATE TABLE t(who INTEGER, i INTEGER)")
    con.commit()
    con.close()
    ctx = multiprocessing.get_context("spawn")  # (no fork after the client's threads)
    ps = [ctx.Process(target=_inserts, args=(str(dirs[w % len(dirs)] / "db.sqlite"), w, n)) for w in range(procs)]
    for p in ps:
        p.start()
    for p in ps:
        p.join(600)
    con = sqlite3.connect(first)
    try:
        rows = con.execute("SELECT count(*) FROM t").fetchone()[0]
        return rows, con.execute("PRAGMA integrity_check").fetchone()[0], [p.exitcode for p in ps]
    finally:
        con.close()


def test_sqlite_from_processes_on_two_mounts_keeps_every_row(pair, local):
    assert _sqlite_run([local], 3, 60) == (180, "ok", [0, 0, 0])
    assert _sqlite_run(pair, 3, 60) == (180, "ok", [0, 0, 0])
    assert os.path.getsize(pair[0] / "db.sqlite") == os.path.getsize(pair[1] / "db.sqlite")
