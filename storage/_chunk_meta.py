"""Per-target chunk metadata: for each chunk its version, length, checksums and the slot holding it.

An embedded SQLite database in WAL mode with durable commits: a chunk's new metadata is committed only
after its data is on disk, so after a crash the metadata names only complete, committed data.
"""

from __future__ import annotations

import sqlite3
import struct
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

_KEY = struct.Struct(">QQ")
SCHEMA_VERSION = 1


def chunk_key(inode: int, index: int) -> bytes:
    """16 bytes that sort by (inode, index): a file's chunks are one key range."""
    return _KEY.pack(inode, index)


def split_key(key: bytes) -> tuple[int, int]:
    return _KEY.unpack(key)


@dataclass(frozen=True, slots=True)
class ChunkRecord:
    version: int   # committed version, 1 for a new chunk, +1 per update
    length: int    # bytes of data
    crc: int       # CRC32C of the whole chunk
    cls: int       # slot size class (log2 bytes)
    slot: int      # slot index in its class file
    blocks: bytes  # CRC32C per 4 KiB block, little-endian u32 each


class _Pending:
    __slots__ = ("row", "done", "error")

    def __init__(self, row: tuple):
        self.row = row
        self.done = False
        self.error: Exception | None = None


class ChunkMetaStore:
    def __init__(self, path: Path):
        self.path = path
        self._local = threading.local()
        self._write_lock = threading.Lock()
        self._queue_lock = threading.Lock()
        self._queue: list[_Pending] = []
        self._connections: list[sqlite3.Connection] = []
        self._writer = self._connect()
        current = self._writer.execute("PRAGMA user_version").fetchone()[0]
        if current > SCHEMA_VERSION:
            raise RuntimeError(f"{path}: chunk metadata format {current} is newer than this fs3 ({SCHEMA_VERSION})")
        self._writer.execute(
            "CREATE TABLE IF NOT EXISTS chunks (id BLOB PRIMARY KEY, version INTEGER NOT NULL, "
            "length INTEGER NOT NULL, crc INTEGER NOT NULL, cls INTEGER NOT NULL, slot INTEGER NOT NULL, "
            "blocks BLOB NOT NULL) WITHOUT ROWID"
        )
        self._writer.execute(f"PRAGMA user_version={SCHEMA_VERSION}")

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

    def get(self, key: bytes) -> ChunkRecord | None:
        row = self._reader().execute(
            "SELECT version, length, crc, cls, slot, blocks FROM chunks WHERE id = ?", (key,)
        ).fetchone()
        return None if row is None else ChunkRecord(*row)

    def put(self, key: bytes, rec: ChunkRecord) -> None:
        """Commit one chunk's record durably. Concurrent callers share commits (group commit): whoever
        holds the writer commits every record queued so far in one transaction, one fsync."""
        entry = _Pending((key, rec.version, rec.length, rec.crc, rec.cls, rec.slot, rec.blocks))
        with self._queue_lock:
            self._queue.append(entry)
        with self._write_lock:
            if not entry.done:
                with self._queue_lock:
                    batch, self._queue = self._queue, []
                db = self._writer
                try:
                    db.execute("BEGIN IMMEDIATE")
                    try:
                        db.executemany("INSERT OR REPLACE INTO chunks VALUES (?, ?, ?, ?, ?, ?, ?)",
                                       [e.row for e in batch])
                        db.execute("COMMIT")
                    except BaseException:
                        db.execute("ROLLBACK")
                        raise
                except Exception as exc:  # every record of the batch failed with it
                    for e in batch:
                        e.error = exc
                finally:
                    for e in batch:
                        e.done = True
        if entry.error is not None:
            raise entry.error

    def delete(self, key: bytes) -> None:
        with self._write_lock:
            self._writer.execute("DELETE FROM chunks WHERE id = ?", (key,))

    def delete_keys(self, keys: list[bytes]) -> list[tuple[bytes, ChunkRecord]]:
        """Remove the records of ``keys`` in one commit; returns those that existed."""
        with self._write_lock:
            db = self._writer
            db.execute("BEGIN IMMEDIATE")
            try:
                removed = []
                for key in keys:
                    row = db.execute(
                        "SELECT version, length, crc, cls, slot, blocks FROM chunks WHERE id = ?", (key,)
                    ).fetchone()
                    if row is not None:
                        db.execute("DELETE FROM chunks WHERE id = ?", (key,))
                        removed.append((key, ChunkRecord(*row)))
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        return removed

    def keys(self, lo: bytes, hi: bytes) -> list[bytes]:
        rows = self._reader().execute("SELECT id FROM chunks WHERE id >= ? AND id < ? ORDER BY id", (lo, hi))
        return [row[0] for row in rows]

    def scan(self, lo: bytes = b"", hi: bytes = b"\xff" * 17) -> Iterator[tuple[bytes, ChunkRecord]]:
        cursor = self._reader().execute(
            "SELECT id, version, length, crc, cls, slot, blocks FROM chunks WHERE id >= ? AND id < ? ORDER BY id",
            (lo, hi),
        )
        for row in cursor:
            yield row[0], ChunkRecord(*row[1:])

    def used_slots(self) -> list[tuple[int, int]]:
        return self._writer.execute("SELECT cls, slot FROM chunks").fetchall()

    def totals(self) -> tuple[int, int]:
        count, total = self._writer.execute("SELECT COUNT(*), COALESCE(SUM(length), 0) FROM chunks").fetchone()
        return count, total

    def close(self) -> None:
        for db in self._connections:
            try:
                db.close()
            except sqlite3.Error:
                pass
        self._connections.clear()
