"""KV backends for the meta service, chosen by URL (``sqlite:///path``; etcd comes later)."""

from __future__ import annotations

from ._base import ConflictError, KVError, KVStore, Transaction, prefix_end
from ._sqlite import SQLiteKV

__all__ = ["ConflictError", "KVError", "KVStore", "Transaction", "open_kv", "prefix_end", "SQLiteKV"]


def open_kv(url: str) -> KVStore:
    """Open the KV store a URL names: ``sqlite:///abs/path.db`` or ``sqlite://rel/path.db``."""
    if url.startswith("sqlite://"):
        path = url[len("sqlite://"):]
        if not path:
            raise ValueError(f"KV URL {url!r} names no database file (expected sqlite:///path/meta.db)")
        return SQLiteKV(path)
    raise ValueError(f"unsupported KV URL {url!r}: expected sqlite:///path/meta.db")
