"""The embedded KV backend: one SQLite database in WAL mode.

Read-only transactions run as deferred transactions on a WAL snapshot, so they never block writers.
Read-write transactions take SQLite's write lock up front (BEGIN IMMEDIATE), which makes them
serializable without read tracking; several meta processes may share one database file. Commits are
durable (synchronous=FULL): an acknowledged namespace change survives a power cut.
"""

from __future__ import annotations

import _thread
import logging
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from fs3._private import private_database, tighten_sidecars

from ._base import ConflictError, KVError, KVStore, Transaction

T = TypeVar("T")
log = logging.getLogger(__name__)


class _SQLiteTransaction(Transaction):
    __slots__ = ("_db", "_writable")

    def __init__(self, db: sqlite3.Connection, writable: bool):
        self._db = db
        self._writable = writable

    def get(self, key: bytes) -> bytes | None:
        row = self._db.execute("SELECT v FROM kv WHERE k = ?", (key,)).fetchone()
        return None if row is None else row[0]

    def get_range(self, begin, end, *, limit=0, reverse=False):
        order = "DESC" if reverse else "ASC"
        sql = f"SELECT k, v FROM kv WHERE k >= ? AND k < ? ORDER BY k {order}"
        if limit > 0:
            return self._db.execute(sql + " LIMIT ?", (begin, end, limit)).fetchall()
        return self._db.execute(sql, (begin, end)).fetchall()

    def _check_writable(self) -> None:
        if not self._writable:
            raise KVError("write in a read-only transaction")

    def set(self, key, value):
        self._check_writable()
        self._db.execute("INSERT OR REPLACE INTO kv (k, v) VALUES (?, ?)", (key, value))

    def clear(self, key):
        self._check_writable()
        self._db.execute("DELETE FROM kv WHERE k = ?", (key,))

    def clear_range(self, begin, end):
        self._check_writable()
        self._db.execute("DELETE FROM kv WHERE k >= ? AND k < ?", (begin, end))


MAX_GROUP = 64  # transactions committed together at most


def _refused(exc: sqlite3.Error) -> KVError:
    if "locked" in str(exc) or "busy" in str(exc):
        return ConflictError(str(exc))
    return KVError(str(exc))


class _Writer:
    """A read-write transaction waiting for its group's commit."""

    __slots__ = ("fn", "wake", "lead", "done", "result", "error")

    def __init__(self, fn):
        self.fn = fn
        self.wake = _thread.allocate_lock()
        self.wake.acquire()
        self.lead = self.done = False
        self.result = self.error = None


class SQLiteKV(KVStore):
    """``sqlite:///path/to/meta.db``: one connection per thread on a shared database file.

    The database holds the cluster secret and the user records: its directory is made 0700 and the
    database 0600 (its -wal and -shm files too), and one found open to group/other is refused
    (``PermissionDenied``, naming the ``chmod`` that fixes it)."""

    local_reads = True

    def __init__(self, path: str | Path, *, durable: bool = True):
        self.path = private_database(path)
        self._durable = durable
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._queue_lock = threading.Lock()
        self._queue: list[_Writer] = []
        self._leading = False
        db = self._connection()
        db.execute("CREATE TABLE IF NOT EXISTS kv (k BLOB PRIMARY KEY, v BLOB NOT NULL) WITHOUT ROWID")
        tighten_sidecars(self.path)

    def _connection(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            try:
                db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
                db.execute("PRAGMA journal_mode=WAL")
                db.execute(f"PRAGMA synchronous={'FULL' if self._durable else 'NORMAL'}")
            except sqlite3.Error as exc:
                raise KVError(f"cannot open SQLite database {self.path}: {exc}") from exc
            self._local.db = db
            with self._lock:
                self._all.append(db)
        return db

    def in_transaction(self) -> bool:
        return bool(getattr(self._local, "depth", 0))

    def _run(self, fn: Callable[[Transaction], T], readonly: bool) -> T:
        depth = getattr(self._local, "depth", 0)
        if depth:  # called from inside a transaction of this thread: a savepoint of it
            return self._nested(fn, readonly, depth)
        if readonly:
            return self._read(fn)
        # Group commit: writers queue their transactions; one of them (the leader) runs a group of them
        # in one SQLite transaction, each inside a savepoint of its own (one that fails is rolled back
        # alone), commits once, and hands the lead to the next writer waiting. Serial order, so still
        # serializable; every result is released only after the commit that made it durable. SQLite
        # admits one writer at a time anyway, and a thread refused its write lock would sleep 1, 2, 5...
        # ms in SQLite's busy handler. (Other processes on the same file still meet the busy handler.)
        me = _Writer(fn)
        with self._queue_lock:
            self._queue.append(me)
            if not self._leading:
                self._leading = me.lead = True
        if not me.lead:
            me.wake.acquire()  # our group was committed, or we were asked to lead
        if not me.done:
            self._lead()
        if me.error is not None:
            raise me.error
        return me.result

    def _lead(self) -> None:
        with self._queue_lock:
            group = self._queue[:MAX_GROUP]
            del self._queue[:MAX_GROUP]
        try:
            self._commit_group(group)
        except BaseException as exc:  # noqa: BLE001 - before or instead of the commit: nothing is durable
            for w in group:
                w.result, w.error = None, KVError(f"the metadata store failed: {type(exc).__name__}: {exc}")
        finally:
            with self._queue_lock:
                following = self._queue[0] if self._queue else None
                if following is None:
                    self._leading = False
                else:
                    following.lead = True
            for w in group:
                w.done = True
                w.wake.release()
            if following is not None:
                following.wake.release()

    def _commit_group(self, group: list[_Writer]) -> None:
        db = self._connection()
        try:
            db.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            for w in group:
                w.error = _refused(exc)
            return
        txn = _SQLiteTransaction(db, True)
        self._local.depth = 1
        try:
            for w in group:
                db.execute("SAVEPOINT one")
                try:
                    w.result = w.fn(txn)
                except BaseException as exc:  # noqa: BLE001 - that writer's own error, raised in its thread
                    db.execute("ROLLBACK TO one")
                    w.error = exc
                db.execute("RELEASE one")
            self._local.depth = 0
            db.execute("COMMIT")
        except sqlite3.Error as exc:
            if db.in_transaction:
                try:
                    db.execute("ROLLBACK")
                except sqlite3.Error:
                    log.exception("rolling back a failed group commit")
            for w in group:  # nothing of the group is durable: every writer retries or fails
                w.result, w.error = None, _refused(exc)
        finally:
            self._local.depth = 0

    def _nested(self, fn: Callable[[Transaction], T], readonly: bool, depth: int) -> T:
        """A transaction inside the one this thread runs (a writer's work that calls ``transact``
        again, or several calls committed as one by ``meta``'s call server): a savepoint, rolled back
        alone if ``fn`` fails, durable when the outer transaction commits."""
        db = self._connection()
        name = f"nested{depth}"
        db.execute(f"SAVEPOINT {name}")
        self._local.depth = depth + 1
        try:
            result = fn(_SQLiteTransaction(db, not readonly))
        except BaseException:
            db.execute(f"ROLLBACK TO {name}")
            db.execute(f"RELEASE {name}")
            raise
        finally:
            self._local.depth = depth
        db.execute(f"RELEASE {name}")
        return result

    def _read(self, fn: Callable[[Transaction], T]) -> T:
        """A read-only transaction: a deferred one on a WAL snapshot (writers go through the group)."""
        db = self._connection()
        try:
            db.execute("BEGIN")
        except sqlite3.OperationalError as exc:
            raise _refused(exc) from exc
        self._local.depth = 1
        try:
            return fn(_SQLiteTransaction(db, False))
        finally:
            self._local.depth = 0
            db.execute("ROLLBACK")  # nothing to keep: ends the snapshot

    def close(self) -> None:
        with self._lock:
            for db in self._all:
                try:
                    db.close()
                except sqlite3.Error:
                    pass
            self._all.clear()
        self._local = threading.local()
