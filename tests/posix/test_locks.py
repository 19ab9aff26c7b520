"""Locks across mounts (as across hosts): fcntl record locks and flock taken through one `fs3 mount` hold
against another mount of the same cluster, and SQLite with several processes on two mounts ends with
every row and a clean integrity check, as on a local directory."""

from __future__ import annotations

import contextlib
import fcntl
import os
import subprocess
import sys
from pathlib import Path

import pytest
from _fuse import mounted
from _sqlite import sqlite_run
from _timing import wait_for


@pytest.fixture(scope="module")
def mounts(cluster, tmp_path_factory, mount_root):
    """Two more mounts of the session cluster, as two hosts would mount it (with the kernel's page cache:
    each mount caches what no other client writes)."""
    with contextlib.ExitStack() as stack:
        yield [stack.enter_context(mounted(cluster, tmp_path_factory.mktemp(f"lockmnt{k}"))) for k in range(2)]


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


def test_sqlite_from_processes_on_two_mounts_keeps_every_row(pair, local):
    assert sqlite_run([local], 3, 60) == (180, "ok", [0, 0, 0])
    assert sqlite_run(pair, 3, 60) == (180, "ok", [0, 0, 0])
    assert os.path.getsize(pair[0] / "db.sqlite") == os.path.getsize(pair[1] / "db.sqlite")


@pytest.mark.parametrize("journal", ["WAL", "DELETE"])
def test_sqlite_from_processes_on_one_mount_keeps_every_row(pair, journal):
    # Three processes on one mount share its page cache (WAL's -shm mapping too), as on a local disk.
    # (When concurrent reads shared chunk read rounds, 3 x 500 WAL inserts on a cluster made by `fs3 up`
    # ended with too many rows and "Rowid out of order"; this smaller run did not show it.)
    assert sqlite_run([pair[0]], 3, 200, journal=journal) == (600, "ok", [0, 0, 0])


def test_sqlite_wal_across_two_mounts_fails_rather_than_lose_rows(pair, local, tmp_path):
    """WAL needs its -shm file mapped coherently by every process (SQLite's own rule: one host). Across
    two clients that cannot be, so the second client's mapping is refused (SQLite says "disk I/O error")
    and no process that saw its transactions commit loses one (before: all exited 0, half the rows gone)."""
    assert sqlite_run([local], 3, 60, journal="WAL") == (180, "ok", [0, 0, 0])
    done = tmp_path / "done"
    done.mkdir()
    rows, integrity, codes = sqlite_run(pair, 4, 60, journal="WAL", done=done)
    committed = sum(int(f.read_text()) for f in done.iterdir())
    seen = f"{committed} transactions committed, {rows} rows kept, integrity {integrity}, exit codes {codes}"
    assert integrity == "ok" and rows == committed, seen
    assert 0 in codes, f"no process got its inserts done: {seen}"


WAITER = r"""
import fcntl, signal, sys
class Alarm(Exception):
    pass
def ring(signum, frame):
    raise Alarm
signal.signal(signal.SIGALRM, ring)
with open(sys.argv[1], "r+b") as f:
    print("waiting", flush=True)
    signal.alarm(1)
    try:
        fcntl.lockf(f, fcntl.LOCK_EX, 10, 0)
        print("granted", flush=True)
    except Alarm:
        print("interrupted", flush=True)
"""


def test_a_signal_interrupts_a_process_waiting_for_a_lock(pair, local):
    """F_SETLKW waits until the lock is free, or until a signal, as locally (alarm() is how programs
    put a time limit on a lock); before, a signal could not end the wait on a mount."""
    for holder_dir, waiter_dir in ((local, local), (pair[0], pair[1]), (pair[0], pair[0])):
        path = holder_dir / "w"
        path.write_bytes(b"x" * 100)
        with open(path, "r+b") as held:
            fcntl.lockf(held, fcntl.LOCK_EX, 10, 0)
            proc = subprocess.run([sys.executable, "-c", WAITER, str(waiter_dir / "w")], capture_output=True,
                                  text=True, timeout=60)
            assert proc.stdout.split() == ["waiting", "interrupted"], (waiter_dir, proc.stderr)
        path.unlink()
