"""The distributed KV backend: an etcd v3 cluster, spoken to through its JSON gateway (HTTP).

Transactions are optimistic and serializable. Every read of a transaction sees one snapshot (the
revision of its first read); writes are buffered (and read back by the transaction itself). At commit,
one etcd ``Txn`` applies the writes only if nothing the transaction read has changed since its
snapshot: each key read must still have the modification revision it was read at (0: still absent),
and every range read must hold no key modified after the snapshot. Otherwise the commit is refused and
``transact`` runs the function again on a fresh snapshot. Read-only transactions are a single snapshot
and need no validation.

Reads go through a cache of the values this process has read or written, with their modification
revisions. A transaction that took anything from it is validated like any other: a read-write one by
its commit's compares, a read-only one (and one that raises) by a Txn of compares alone, one round
trip instead of one per key. A stale entry fails validation; its keys are dropped from the cache and the
transaction runs again on fresh reads. So a stat, which reads a key per path component, costs one
round trip when the path is cached, and every answer is still checked against etcd's current state.

A commit whose reply is lost (the member died mid-call) is retried on another member like a conflict:
a mutation that did commit then fails its compares and is re-run from a fresh snapshot, which is why
namespace mutations record their request ids in the same transaction.

etcd limits operations per transaction (``--max-txn-ops``, 128 by default); fs3's largest transactions
(batches of the garbage collector) need about 1,000: run etcd with ``--max-txn-ops 10000``.

With credentials (an etcd with authentication on), the client authenticates as that user (the v3 Auth
API's ``Authenticate``, through the same gateway) and sends the token it gets with every call. etcd
forgets tokens: after a few idle minutes, when a member restarts, when the auth store changes. A call
it refuses for its token authenticates again and is sent again, a few times at most. A key prefix, when
given, is added to every key on the wire and taken off every key read back: the layers above never see
it (see ``_etcd_url``).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TypeVar

from ._base import ConflictError, KVError, KVStore, Transaction, prefix_end
from ._etcd_client import EtcdAccessError as EtcdAccessError
from ._etcd_client import _b64, _Client, _unb64, _Unreachable
from ._etcd_url import EtcdCredentials

T = TypeVar("T")
log = logging.getLogger(__name__)

CACHE_ENTRIES = 200_000  # values kept by the read cache (emptied when full)
MAX_VALIDATION_COMPARES = 100  # beyond this, cached keys are validated by reading them again


_STALE = ("stale",)  # a cache entry that failed validation: read the key, assume nothing


class _ReadCache:
    """key -> (value or None, mod revision, revision it was observed at), shared by the threads of a
    process; bounded (emptied when full)."""

    def __init__(self, limit: int = CACHE_ENTRIES):
        self._entries: dict[bytes, tuple[bytes | None, int, int]] = {}
        self._lock = threading.Lock()
        self.limit = limit

    def get(self, key: bytes):
        hit = self._entries.get(key)
        return None if hit is _STALE else hit

    def known_stale(self, key: bytes) -> bool:
        """Whether the key must be read: it failed validation lately (or the cache is off)."""
        return not self.limit or self._entries.get(key) is _STALE

    def put(self, key: bytes, value: bytes | None, mod_revision: int, observed: int) -> None:
        if not self.limit:
            return
        with self._lock:
            old = self._entries.get(key)
            if old is not None and old is not _STALE and old[2] > observed:
                return  # a newer observation stays
            if len(self._entries) >= self.limit:
                self._entries.clear()
            self._entries[key] = (value, mod_revision, observed)

    def drop(self, keys) -> None:
        """Forget these keys' values, remembering that they must be read (see get_expecting_absent)."""
        if not self.limit:
            return
        with self._lock:
            if len(self._entries) >= self.limit:
                self._entries.clear()
            for key in keys:
                self._entries[key] = _STALE

    def drop_range(self, begin: bytes, end: bytes) -> None:
        with self._lock:
            for key in [k for k in self._entries if begin <= k < end]:
                del self._entries[key]


class _EtcdTransaction(Transaction):
    def __init__(self, client: _Client, writable: bool, cache: _ReadCache, prefix: bytes = b""):
        self._client = client
        self._writable = writable
        self._cache = cache
        self._prefix = prefix                               # on the wire only: see _wire, _key_of
        self.cached: set[bytes] = set()                     # keys whose value came from the cache
        self.revision = 0                                   # the snapshot, fixed by the first read
        self.read_keys: dict[bytes, int] = {}               # key -> mod revision seen (0: absent)
        self.read_ranges: list[tuple[bytes, bytes]] = []
        self.writes: dict[bytes, bytes | None] = {}         # None: cleared
        self.cleared_ranges: list[tuple[bytes, bytes]] = []

    # -- keys on the wire --------------------------------------------------------------------------

    def _wire(self, key: bytes) -> str:
        return _b64(self._prefix + key)

    def _key_of(self, kv: dict) -> bytes:
        return _unb64(kv["key"])[len(self._prefix):]

    # -- reads -------------------------------------------------------------------------------------

    def _range(self, begin: bytes, end: bytes | None, limit: int, reverse: bool) -> list[dict]:
        body: dict = {"key": self._wire(begin)}
        if end is not None:
            body["range_end"] = self._wire(end)
        if limit:
            body["limit"] = str(limit)
        if reverse:
            body["sort_order"] = "DESCEND"
            body["sort_target"] = "KEY"
        if self.revision:
            body["revision"] = str(self.revision)
        reply = self._client.call("/v3/kv/range", body)
        if not self.revision:
            self.revision = int(reply["header"]["revision"])
        return reply.get("kvs", [])

    def mod_revision_at_snapshot(self, key: bytes) -> int:
        """The key's modification revision at this transaction's snapshot (0: absent)."""
        kvs = self._range(key, None, 0, False)
        return int(kvs[0]["mod_revision"]) if kvs else 0

    def _cleared(self, key: bytes) -> bool:
        return any(b <= key < e for b, e in self.cleared_ranges)

    def get(self, key):
        if key in self.writes:
            return self.writes[key]
        if self._cleared(key):
            return None
        if key in self.read_keys:
            hit = self._cache.get(key)
            if hit is not None and hit[1] == self.read_keys[key]:
                return hit[0]
        else:
            hit = self._cache.get(key)
            if hit is not None:
                self.cached.add(key)
                self.read_keys[key] = hit[1]
                return hit[0]
        kvs = self._range(key, None, 0, False)
        value = _unb64(kvs[0].get("value", "")) if kvs else None
        revision = int(kvs[0]["mod_revision"]) if kvs else 0
        if key in self.read_keys and self.read_keys[key] != revision:  # read twice, differently
            raise ConflictError("a key changed while the transaction read it")
        self.read_keys[key] = revision
        self._cache.put(key, value, revision, self.revision)
        return value

    def get_expecting_absent(self, key):
        if key in self.writes or self._cleared(key) or key in self.read_keys or self._cache.known_stale(key):
            return self.get(key)
        hit = self._cache.get(key)
        if hit is not None:
            return self.get(key)
        self.cached.add(key)        # an assumption, validated like a cached read:
        self.read_keys[key] = 0     # the commit requires the key still absent
        return None

    def get_range(self, begin, end, *, limit=0, reverse=False):
        pending = [k for k in self.writes if begin <= k < end]
        overlapping_clear = any(b < end and begin < e for b, e in self.cleared_ranges)
        fetch = 0 if overlapping_clear or not limit else limit + len(pending)
        kvs = self._range(begin, end, fetch, reverse)
        rows: dict[bytes, bytes] = {}
        for kv in kvs:
            key = self._key_of(kv)
            self.read_keys.setdefault(key, int(kv["mod_revision"]))
            if not self._cleared(key):
                rows[key] = _unb64(kv.get("value", ""))
        complete = not fetch or len(kvs) < fetch
        if complete:
            self.read_ranges.append((begin, end))
        elif reverse:
            self.read_ranges.append((self._key_of(kvs[-1]), end))
        else:
            self.read_ranges.append((begin, self._key_of(kvs[-1]) + b"\0"))
        # Own writes: those within what the server listing covers (a truncated listing stops at its
        # last key: past it, the order against unlisted keys is unknown).
        lo, hi = self.read_ranges[-1]
        for key in pending:
            if lo <= key < hi:
                value = self.writes[key]
                if value is None:
                    rows.pop(key, None)
                else:
                    rows[key] = value
        keys = sorted(rows, reverse=reverse)
        if limit:
            keys = keys[:limit]
        return [(k, rows[k]) for k in keys]

    # -- writes ------------------------------------------------------------------------------------

    def _check_writable(self) -> None:
        if not self._writable:
            raise KVError("write in a read-only transaction")

    def set(self, key, value):
        self._check_writable()
        self.writes[bytes(key)] = bytes(value)

    def clear(self, key):
        self._check_writable()
        self.writes[bytes(key)] = None

    def clear_range(self, begin, end):
        self._check_writable()
        for key in [k for k in self.writes if begin <= k < end]:
            del self.writes[key]
        self.cleared_ranges.append((bytes(begin), bytes(end)))

    # -- commit ------------------------------------------------------------------------------------

    def compares(self) -> list[dict]:
        compare = [
            {"key": self._wire(key), "target": "MOD", "result": "EQUAL", "mod_revision": str(rev)}
            for key, rev in self.read_keys.items()
        ]
        compare += [
            {"key": self._wire(b), "range_end": self._wire(e), "target": "MOD", "result": "LESS",
             "mod_revision": str(self.revision + 1)}
            for b, e in _merge(self.read_ranges)
        ]
        return compare

    def commit_body(self) -> dict:
        compare = self.compares()
        success = [{"request_delete_range": {"key": self._wire(b), "range_end": self._wire(e)}}
                   for b, e in self.cleared_ranges]
        for key, value in self.writes.items():
            if value is None:
                success.append({"request_delete_range": {"key": self._wire(key)}})
            else:
                success.append({"request_put": {"key": self._wire(key), "value": _b64(value)}})
        return {"compare": compare, "success": success}


def _merge(ranges: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    out: list[tuple[bytes, bytes]] = []
    for b, e in sorted(ranges):
        if out and b <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], e))
        else:
            out.append((b, e))
    return out


class EtcdKV(KVStore):
    """``etcd://host:port[,host:port...]``: an etcd v3 cluster (3.4 or later). ``cache=False``: every
    read is a round trip (what a plain etcd client does; the benchmark's baseline). ``credentials``:
    the etcd user to authenticate as (checked here: EtcdAccessError when etcd refuses them);
    ``prefix``: put before every key on the wire (see ``_etcd_url``)."""

    def __init__(self, endpoints: list[str], *, cache: bool = True, credentials: EtcdCredentials | None = None,
                 prefix: bytes = b""):
        if not endpoints:
            raise ValueError("an etcd KV store needs at least one endpoint (etcd://host:port,...)")
        self.endpoints = endpoints
        self.prefix = prefix
        self._client = _Client(endpoints, credentials)
        self._cache = _ReadCache(CACHE_ENTRIES if cache else 0)
        try:
            self._client.authenticate()
        except _Unreachable as exc:
            raise KVError(f"the metadata store is unreachable: {exc}") from None

    def _run(self, fn: Callable[[Transaction], T], readonly: bool) -> T:
        txn = _EtcdTransaction(self._client, not readonly, self._cache, self.prefix)
        try:
            result = fn(txn)
        except _Unreachable as exc:
            raise KVError(f"the metadata store is unreachable: {exc}") from None
        except ConflictError:
            self._cache.drop(txn.read_keys)
            raise
        except Exception:
            self._validate(txn)  # an error drawn from a stale cache entry is no answer
            raise
        if readonly or (not txn.writes and not txn.cleared_ranges):
            self._validate(txn)
            return result
        try:
            reply = self._client.call("/v3/kv/txn", txn.commit_body())
        except _Unreachable as exc:
            # Unknown outcome: run the transaction again; if it did commit, its compares now fail
            # or its request id is recorded.
            self._cache.drop([*txn.read_keys, *txn.writes])
            raise ConflictError(f"commit outcome unknown: {exc}") from None
        if not reply.get("succeeded"):
            self._cache.drop(txn.read_keys)
            raise ConflictError("a key read by the transaction changed before it committed")
        revision = int(reply["header"]["revision"])
        for begin, end in txn.cleared_ranges:
            self._cache.drop_range(begin, end)
        for key, value in txn.writes.items():
            self._cache.put(key, value, revision if value is not None else 0, revision)
        return result

    def check_access(self) -> None:
        """One read of fs3's whole key range (as its role must allow): EtcdAccessError now, with what
        to fix, rather than at the first transaction."""
        begin, end = (self.prefix, prefix_end(self.prefix)) if self.prefix else (b"\0", b"\0")
        try:
            self._client.call("/v3/kv/range", {"key": _b64(begin), "range_end": _b64(end), "limit": "1",
                                               "keys_only": True})
        except _Unreachable as exc:
            raise KVError(f"the metadata store is unreachable: {exc}") from None

    def _validate(self, txn: _EtcdTransaction) -> None:
        """Check what a transaction took from the cache; ConflictError, with the entries dropped, if
        any of it was stale. Usually one Txn of compares alone against etcd's current state. A
        transaction that also listed many keys (a directory page) would need a compare per listed
        key (etcd caps a Txn's operations): there, each cached key is read again at the snapshot its
        listings were read at, which the rest of its reads are consistent with."""
        if not txn.cached:
            return
        compares = txn.compares()
        try:
            if len(compares) <= MAX_VALIDATION_COMPARES:
                fresh = self._client.call("/v3/kv/txn", {"compare": compares, "success": []}).get("succeeded")
            else:
                fresh = all(txn.mod_revision_at_snapshot(key) == txn.read_keys[key] for key in txn.cached)
        except _Unreachable as exc:
            raise KVError(f"the metadata store is unreachable: {exc}") from None
        if not fresh:
            self._cache.drop(txn.read_keys)
            raise ConflictError("a cached key changed: read it again")

    def close(self) -> None:
        self._client.close()

