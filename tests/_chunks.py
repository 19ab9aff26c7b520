"""Counting what the storage targets of a local cluster hold, by reading their chunk tables."""

from __future__ import annotations

import sqlite3
from pathlib import Path


def chunks_of(data_dir, ino: int) -> int:
    """How many chunks of inode ``ino`` the storage targets under ``data_dir`` hold."""
    n = 0
    for db in Path(data_dir).glob("storage-*/target-*/chunks.db"):
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
            n += conn.execute("SELECT count(*) FROM chunks WHERE id >= ? AND id < ?",
                              (ino.to_bytes(8, "big"), (ino + 1).to_bytes(8, "big"))).fetchone()[0]
    return n
