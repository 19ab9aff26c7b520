"""SQLite from several processes at once (spawned: no fork after a client's threads), for the tests that
share a database through fs3 mounts; a module of its own so spawned processes can import it."""

from __future__ import annotations

import multiprocessing
import sqlite3
import time
from pathlib import Path


def inserts(path: str, who: int, n: int, done: str | None = None) -> None:
    """``n`` inserts, one transaction each; ``done``: a file where the count committed so far is kept."""
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
        if done:
            Path(done).write_text(str(i + 1))
    con.close()


def sqlite_run(dirs: list[Path], procs: int, n: int, journal: str = "DELETE",
               done: Path | None = None) -> tuple[int, str, list]:
    """``procs`` processes, spread over ``dirs``, each making ``n`` inserts into one new database; the
    rows and integrity check at the end, and the processes' exit codes."""
    first = str(dirs[0] / "db.sqlite")
    con = sqlite3.connect(first)
    con.execute(f"PRAGMA journal_mode={journal}")
    con.execute("CREATE TABLE t(who INTEGER, i INTEGER)")
    con.commit()
    con.close()
    ctx = multiprocessing.get_context("spawn")  # (no fork after the client's threads)
    ps = [ctx.Process(target=inserts, args=(str(dirs[w % len(dirs)] / "db.sqlite"), w, n,
                                            str(done / str(w)) if done else None)) for w in range(procs)]
    ps[0].start()
    if done is not None:  # the first process maps the WAL's -shm before the others come (the first
        # host to map it keeps it; two mounts mapping it at the same moment may both be refused)
        first_done = done / "0"
        deadline = time.monotonic() + 300
        while not first_done.exists() and ps[0].is_alive() and time.monotonic() < deadline:
            time.sleep(0.02)
    for p in ps[1:]:
        p.start()
    for p in ps:
        p.join(600)
    con = sqlite3.connect(first)
    try:
        rows = con.execute("SELECT count(*) FROM t").fetchone()[0]
        return rows, con.execute("PRAGMA integrity_check").fetchone()[0], [p.exitcode for p in ps]
    finally:
        con.close()
