"""KV backends for the meta service, chosen by URL: ``sqlite:///path`` (one machine) or
``etcd://host:port,...[?credentials=FILE&prefix=PREFIX]`` (an etcd cluster; see ``_etcd_url``)."""

from __future__ import annotations

from ._base import ConflictError, KVError, KVStore, Transaction, prefix_end
from ._etcd import EtcdAccessError, EtcdKV
from ._etcd_url import EtcdCredentials, parse_endpoints, parse_url, read_credentials
from ._sqlite import SQLiteKV

__all__ = ["ConflictError", "KVError", "KVStore", "Transaction", "open_kv", "prefix_end", "EtcdKV", "SQLiteKV",
           "EtcdAccessError", "EtcdCredentials", "parse_endpoints", "parse_url", "read_credentials"]


def open_kv(url: str, *, cache: bool = True) -> KVStore:
    """Open the KV store a URL names: ``sqlite:///abs/path.db``, ``sqlite://rel/path.db``, or
    ``etcd://host:port[,host:port...][?credentials=FILE][&prefix=PREFIX]``. A URL that cannot work
    (no such option, a credentials file others may read, credentials etcd refuses) is a ValueError.
    ``cache``: for etcd, whether reads may be answered from the validated read cache."""
    if url.startswith("sqlite://"):
        path = url[len("sqlite://"):]
        if not path:
            raise ValueError(f"KV URL {url!r} names no database file (expected sqlite:///path/meta.db)")
        return SQLiteKV(path)
    if url.startswith("etcd://"):
        parsed = parse_url(url)
        credentials = read_credentials(parsed.credentials) if parsed.credentials else None
        kv = EtcdKV(parsed.endpoints, cache=cache, credentials=credentials, prefix=parsed.prefix)
        try:
            kv.check_access()
        except BaseException:
            kv.close()
            raise
        return kv
    raise ValueError(f"unsupported KV URL {url!r}: expected sqlite:///path/meta.db or etcd://host:port[,...]")
