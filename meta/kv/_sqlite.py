"""The embedded KV backend: one SQLite database in WAL mode.

Read-only transactions run as deferred transactions on a WAL snapshot, so they never block writers.
Read-write transactions take SQLite's write lock up front (BEGIN IMMEDIATE), which makes them
serializable without read tracking; several meta processes may share one database file. Commits are
durable (synchronous=FULL): an acknowledged namespace change survives a power cut.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from ._base import ConflictError, KVError, KVStore, Transaction

T = TypeVar("T")


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


class SQLiteKV(KVStore):
    """``sqlite:///path/to/meta.db``: one connection per thread on a shared database file."""

    def __init__(self, path: str | Path, *, durable: bool = True):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._durable = durable
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        db = self._connection()
        db.execute("CREATE TABLE IF NOT EXISTS kv (k BLOB PRIMARY KEY, v BLOB NOT NULL) WITHOUT ROWID")

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

    def _run(self, fn: Callable[[Transaction], T], readonly: bool) -> T:
        db = self._connection()
        try:
            db.execute("BEGIN" if readonly else "BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc) or "busy" in str(exc):
                raise ConflictError(str(exc)) from exc
            raise KVError(str(exc)) from exc
        try:
            result = fn(_SQLiteTransaction(db, not readonly))
        except BaseException:
            db.execute("ROLLBACK")
            raise
        try:
            db.execute("COMMIT")
        except sqlite3.OperationalError as exc:
            db.execute("ROLLBACK")
            if "locked" in str(exc) or "busy" in str(exc):
                raise ConflictError(str(exc)) from exc
            raise KVError(str(exc)) from exc
        return result

    def close(self) -> None:
        with self._lock:
            for db in self._all:
                try:
                    db.close()
                except sqlite3.Error:
                    pass
            self._all.clear()
        self._local = threading.local()
