"""Per-target chunk metadata: for each chunk its committed version and, while an update travels along
the chain, its pending one; each with length, checksums and the slot holding the bytes.

An embedded SQLite database in WAL mode with durable commits: a version's record is committed only
after its data is on disk, so after a crash the metadata names only complete data, and a pending
version stays pending (it is never served) until the chain commits or replaces it. Concurrent updates
share one transaction and one fsync (group commit). A chain member's commit of a pending version is
not waited for: its row goes with the next transaction (see ``commit_pending``).
"""

from __future__ import annotations

import logging
import sqlite3
import struct
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from fs3._errors import NoSpace
from fs3._private import private_database, tighten_sidecars

log = logging.getLogger(__name__)

_SQLITE_FULL = 13

_KEY = struct.Struct(">QQ")
DEFER_DELAY = 0.005  # seconds a deferred commit waits for a durable update's transaction to take it
SCHEMA_VERSION = 2
_COLUMNS = "version, length, crc, cls, slot, blocks"


def chunk_key(inode: int, index: int) -> bytes:
    """16 bytes that sort by (inode, index): a file's chunks are one key range."""
    return _KEY.pack(inode, index)


def split_key(key: bytes) -> tuple[int, int]:
    return _KEY.unpack(key)


@dataclass(frozen=True, slots=True)
class ChunkRecord:
    version: int   # 1 for a new chunk, +1 per update
    length: int    # bytes of data
    crc: int       # the chunk's checksum: CRC32C of its block CRC32Cs
    cls: int       # slot size class (log2 bytes)
    slot: int      # slot index in its class file
    blocks: bytes  # CRC32C per 4 KiB block, u32 each (native order)

    def row(self, key: bytes) -> tuple:
        return (key, self.version, self.length, self.crc, self.cls, self.slot, self.blocks)


class _Queued:
    __slots__ = ("statements", "flush", "durable", "deferred", "then", "done", "error")

    def __init__(self, statements: list[tuple[str, tuple]], flush, durable: bool, then=None, deferred=False):
        self.statements = statements
        self.flush = flush  # data files to flush before these records commit
        self.durable = durable
        self.deferred = deferred  # nobody waits: retried until written
        self.then = then  # a deferred update's follow-up, run once it is written
        self.done = False
        self.error: Exception | None = None


class ChunkMetaStore:
    """Two tables of the same shape: ``chunks`` (committed versions) and ``pending`` (updates staged on
    this target and not yet committed by the chain). The database is 0600 in a 0700 directory, and
    one found open to group/other is refused (see ``fs3._private``)."""

    def __init__(self, path: Path):
        self.path = private_database(path)
        self._local = threading.local()
        self._write_lock = threading.Lock()
        self._queue_lock = threading.Lock()
        self._queue: list[_Queued] = []
        self._durable = True
        self._connections: list[sqlite3.Connection] = []
        self._writer = self._connect()
        current = self._writer.execute("PRAGMA user_version").fetchone()[0]
        if current > SCHEMA_VERSION:
            raise RuntimeError(f"{path}: chunk metadata format {current} is newer than this fs3 ({SCHEMA_VERSION})")
        for table in ("chunks", "pending"):
            self._writer.execute(
                f"CREATE TABLE IF NOT EXISTS {table} (id BLOB PRIMARY KEY, version INTEGER NOT NULL, "
                "length INTEGER NOT NULL, crc INTEGER NOT NULL, cls INTEGER NOT NULL, slot INTEGER NOT NULL, "
                "blocks BLOB NOT NULL) WITHOUT ROWID"
            )
        self._writer.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        tighten_sidecars(path)
        self._closed = False
        self._deferred_ready = threading.Event()
        self._stopping = threading.Event()
        self._backoff = DEFER_DELAY  # longer while deferred rows keep failing
        self._deferred_writer = threading.Thread(target=self._write_deferred, name="chunk-meta-deferred",
                                                 daemon=True)
        self._deferred_writer.start()

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=60)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        self._connections.append(db)
        return db

    def _reader(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            with self._write_lock:
                db = self._connect()
            self._local.db = db
        return db

    # -- reads -------------------------------------------------------------------------------------

    def get(self, key: bytes) -> ChunkRecord | None:
        row = self._reader().execute(f"SELECT {_COLUMNS} FROM chunks WHERE id = ?", (key,)).fetchone()
        return None if row is None else ChunkRecord(*row)

    def all_pending(self) -> dict[bytes, ChunkRecord]:
        rows = self._writer.execute(f"SELECT id, {_COLUMNS} FROM pending").fetchall()
        return {row[0]: ChunkRecord(*row[1:]) for row in rows}

    def keys(self, lo: bytes, hi: bytes) -> list[bytes]:
        """Keys with a committed or a pending version in [lo, hi)."""
        rows = self._reader().execute(
            "SELECT id FROM chunks WHERE id >= ? AND id < ? UNION SELECT id FROM pending WHERE id >= ? AND id < ? "
            "ORDER BY id", (lo, hi, lo, hi),
        )
        return [row[0] for row in rows]

    def scan(self, lo: bytes = b"", hi: bytes = b"\xff" * 17, limit: int = -1) -> Iterator[tuple[bytes, ChunkRecord]]:
        cursor = self._reader().execute(
            f"SELECT id, {_COLUMNS} FROM chunks WHERE id >= ? AND id < ? ORDER BY id LIMIT ?", (lo, hi, limit),
        )
        for row in cursor:
            yield row[0], ChunkRecord(*row[1:])

    def used_slots(self) -> list[tuple[int, int]]:
        return self._writer.execute("SELECT cls, slot FROM chunks UNION ALL SELECT cls, slot FROM pending").fetchall()

    def totals(self) -> tuple[int, int]:
        count, total = self._writer.execute("SELECT COUNT(*), COALESCE(SUM(length), 0) FROM chunks").fetchone()
        return count, total

    # -- updates (durable when they return) --------------------------------------------------------

    def _apply(self, statements: list[tuple[str, tuple]], flush=(), durable: bool = True) -> None:
        """Run ``statements`` in a transaction that commits durably, after flushing the data files in
        ``flush`` (objects with ``sync()``) that the records point into. Concurrent callers share the
        work (group commit): whoever holds the writer flushes every file queued so far once, then
        commits every queued record (deferred ones too) in one transaction, with one fsync."""
        entry = _Queued(statements, flush, durable)
        with self._queue_lock:
            self._queue.append(entry)
        self._lead(entry)
        if entry.error is not None:
            raise entry.error

    def _defer(self, statements: list[tuple[str, tuple]], then) -> None:
        """Queue ``statements`` without waiting: the next transaction of this store runs them (in
        queue order, so before any update queued later), or the background writer does within
        ``DEFER_DELAY``. ``then()`` runs once they are written. Should their transaction fail, they go
        back to the head of the queue for the next one: they must be safe to run late (conditional)."""
        entry = _Queued(statements, (), False, then, deferred=True)
        with self._queue_lock:
            if self._closed:
                raise RuntimeError(f"{self.path}: chunk metadata is closed")
            self._queue.append(entry)
        self._deferred_ready.set()

    def _lead(self, entry: _Queued | None) -> None:
        """Write everything queued, unless ``entry`` was written meanwhile by another caller."""
        with self._write_lock:
            if entry is not None and entry.done:
                return
            with self._queue_lock:
                batch, self._queue = self._queue, []
            if not batch:
                return
            db = self._writer
            try:
                for f in {id(f): f for queued in batch for f in queued.flush}.values():
                    f.sync()
                durable = any(queued.durable for queued in batch)
                if durable != self._durable:
                    db.execute(f"PRAGMA synchronous={'FULL' if durable else 'NORMAL'}")
                    self._durable = durable
                db.execute("BEGIN IMMEDIATE")
                try:
                    for queued in batch:
                        for sql, params in queued.statements:
                            db.execute(sql, params)
                    db.execute("COMMIT")
                except BaseException:
                    if db.in_transaction:  # SQLite rolls back by itself on some errors (a full disk)
                        try:
                            db.execute("ROLLBACK")
                        except sqlite3.Error:
                            pass
                    raise
            except Exception as exc:  # every update of the batch failed with it
                if getattr(exc, "sqlite_errorcode", None) == _SQLITE_FULL:
                    exc = NoSpace(f"{self.path}: no space left on the disk for chunk metadata")
                retry = [queued for queued in batch if queued.deferred]
                if retry:
                    self._backoff = min(max(self._backoff * 2, 0.1), 5.0)
                    log.warning("%s: %d deferred commits not written (%s); retried in %.1f s or with the next "
                                "transaction", self.path, len(retry), exc, self._backoff)
                    with self._queue_lock:
                        self._queue[:0] = retry
                    self._deferred_ready.set()
                for queued in batch:
                    if not queued.deferred:
                        queued.error = exc
                        queued.done = True
                batch = []
            else:
                self._backoff = DEFER_DELAY
                for queued in batch:
                    queued.done = True
        for queued in batch:
            if queued.then is None:
                continue
            try:
                queued.then()
            except Exception:  # noqa: BLE001 - one bookkeeping failure must not fail the leader's update
                log.exception("%s: after a deferred commit", self.path)

    def _write_deferred(self) -> None:
        while not self._stopping.is_set():
            self._deferred_ready.wait()
            self._deferred_ready.clear()
            # A durable update's transaction usually takes them along first; close writes the rest.
            if self._stopping.wait(self._backoff):
                return
            self._lead(None)

    def put(self, key: bytes, rec: ChunkRecord, *, flush=()) -> None:
        """Commit ``rec`` as the chunk's committed version, dropping a pending one not newer than it,
        after flushing the data files in ``flush``."""
        self._apply([
            ("INSERT OR REPLACE INTO chunks VALUES (?, ?, ?, ?, ?, ?, ?)", rec.row(key)),
            ("DELETE FROM pending WHERE id = ? AND version <= ?", (key, rec.version)),
        ], flush)

    def put_pending(self, key: bytes, rec: ChunkRecord, *, flush=()) -> None:
        self._apply([("INSERT OR REPLACE INTO pending VALUES (?, ?, ?, ?, ?, ?, ?)", rec.row(key))], flush)

    def commit_pending(self, key: bytes, rec: ChunkRecord, then=None) -> None:
        """The pending version ``rec`` becomes the committed one, in one transaction, written later
        and not flushed (see ``_defer``; ``then()`` runs once it is written). Should a crash lose it,
        the version is still pending here (durably), and the chain's head rolls it forward, or
        recovery installs it, before it is read from this replica."""
        # Conditional, so that it is safe to run late (after a failed transaction): only while that
        # very pending record (version, slot and checksum: versions start again at 1 after a removal)
        # is still there, and nothing newer is committed.
        same = "id = ? AND version = ? AND cls = ? AND slot = ? AND crc = ?"
        match = (key, rec.version, rec.cls, rec.slot, rec.crc)
        self._defer([
            ("INSERT OR REPLACE INTO chunks SELECT ?, ?, ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM pending "
             f"WHERE {same}) AND NOT EXISTS (SELECT 1 FROM chunks WHERE id = ? AND version >= ?)",
             rec.row(key) + match + (key, rec.version)),
            (f"DELETE FROM pending WHERE {same}", match),
        ], then)

    def delete(self, key: bytes) -> None:
        self._apply([("DELETE FROM chunks WHERE id = ?", (key,)), ("DELETE FROM pending WHERE id = ?", (key,))])

    def close(self) -> None:
        """Write what is still deferred, then close."""
        with self._queue_lock:
            self._closed = True
        self._stopping.set()
        self._deferred_ready.set()
        self._deferred_writer.join()
        self._lead(None)
        if self._queue:
            log.error("%s: %d deferred commits could not be written at close; those chunks stay pending here "
                      "until their chain rolls them forward", self.path, len(self._queue))
        for db in self._connections:
            try:
                db.close()
            except sqlite3.Error:
                pass
        self._connections.clear()
