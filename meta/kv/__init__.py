"""KV backends for the meta service, chosen by URL: ``sqlite:///path`` (one machine) or
``etcd://host:port,...`` (an etcd cluster)."""

from __future__ import annotations

from ._base import ConflictError, KVError, KVStore, Transaction, prefix_end
from ._etcd import EtcdKV, parse_endpoints
from ._sqlite import SQLiteKV

__all__ = ["ConflictError", "KVError", "KVStore", "Transaction", "open_kv", "prefix_end", "EtcdKV", "SQLiteKV"]


def open_kv(url: str) -> KVStore:
    """Open the KV store a URL names: ``sqlite:///abs/path.db``, ``sqlite://rel/path.db``, or
    ``etcd://host:port[,host:port...]``."""
    if url.startswith("sqlite://"):
        path = url[len("sqlite://"):]
        if not path:
            raise ValueError(f"KV URL {url!r} names no database file (expected sqlite:///path/meta.db)")
        return SQLiteKV(path)
    if url.startswith("etcd://"):
        return EtcdKV(parse_endpoints(url))
    raise ValueError(f"unsupported KV URL {url!r}: expected sqlite:///path/meta.db or etcd://host:port[,...]")
