"""The metadata benchmark: creates, stats, readdir entries and removes per second with N concurrent
client processes, on a fresh local cluster per KV backend, each beside the raw backend's own rate of
single-key read-write transactions measured in the same run with the same concurrency; and one large
directory listed page by page, with the client's memory growth while it streams.
"""

from __future__ import annotations

import multiprocessing
import os
import resource
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

_client = None  # each worker process's connection


@dataclass
class MetaBenchResult:
    backend: str
    clients: int
    files: int
    raw_txn_per_s: float = 0.0        # the backend alone: single-key read-modify-write transactions
    raw_read_per_s: float = 0.0       # the backend alone: single-key reads
    kv_txn_per_s: float = 0.0         # the same through fs3's KV layer (its group commit, its read cache)
    create_per_s: float = 0.0         # open(create) + close of an empty file
    stat_per_s: float = 0.0
    readdir_entries_per_s: float = 0.0
    remove_per_s: float = 0.0
    big_dir_entries: int = 0
    big_dir_list_s: float = 0.0
    big_dir_client_rss_growth_mb: float = 0.0
    ratios: dict = field(default_factory=dict)

    def compute_ratios(self) -> None:
        raw = self.raw_txn_per_s or 1.0
        self.ratios = {
            "create_vs_raw_txn": self.create_per_s / raw,
            "stat_vs_raw_txn": self.stat_per_s / raw,
            "remove_vs_raw_txn": self.remove_per_s / raw,
        }


# -- the backend alone -------------------------------------------------------------------------------

def raw_rates(kv, clients: int, ops: int) -> tuple[float, float]:
    """(read-write transactions/s, reads/s) of ``clients`` threads on distinct keys."""
    per = max(1, ops // clients)

    def rmw(k: int) -> None:
        key = b"BNCH" + k.to_bytes(4, "big")
        for i in range(per):
            kv.transact(lambda t, i=i: (t.get(key), t.set(key, i.to_bytes(8, "big"))))

    def reads(k: int) -> None:
        key = b"BNCH" + k.to_bytes(4, "big")
        for _ in range(per):
            kv.transact(lambda t: t.get(key), readonly=True)

    rates = _rates(clients, per, rmw, reads)
    kv.transact(lambda t: t.clear_range(b"BNCH", b"BNCI"))
    return rates


def raw_sqlite_rates(path: Path, clients: int, ops: int) -> tuple[float, float]:
    """``raw_rates`` on SQLite itself, without fs3's KV layer: ``clients`` threads, each with its own
    connection to one database file in the mode meta uses (WAL, synchronous=FULL), each transaction
    BEGIN IMMEDIATE / SELECT / INSERT / COMMIT, as a plain SQLite program would do."""
    import sqlite3

    per = max(1, ops // clients)
    setup = sqlite3.connect(path, isolation_level=None)
    setup.execute("PRAGMA journal_mode=WAL")
    setup.execute("CREATE TABLE IF NOT EXISTS kv (k BLOB PRIMARY KEY, v BLOB NOT NULL) WITHOUT ROWID")
    setup.close()

    def connect():
        db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
        db.execute("PRAGMA synchronous=FULL")
        return db

    def rmw(k: int) -> None:
        db, key = connect(), b"BNCH" + k.to_bytes(4, "big")
        for i in range(per):
            db.execute("BEGIN IMMEDIATE")
            db.execute("SELECT v FROM kv WHERE k = ?", (key,)).fetchone()
            db.execute("INSERT OR REPLACE INTO kv (k, v) VALUES (?, ?)", (key, i.to_bytes(8, "big")))
            db.execute("COMMIT")
        db.close()

    def reads(k: int) -> None:
        db, key = connect(), b"BNCH" + k.to_bytes(4, "big")
        for _ in range(per):
            db.execute("BEGIN")
            db.execute("SELECT v FROM kv WHERE k = ?", (key,)).fetchone()
            db.execute("COMMIT")
        db.close()

    return _rates(clients, per, rmw, reads)


def _rates(clients: int, per: int, *workloads) -> tuple[float, ...]:
    """Operations/s of each workload, run by ``clients`` threads doing ``per`` operations each."""
    rates = []
    for fn in workloads:
        # daemon: a bench stopped by a signal must not wait at exit for threads still at work
        threads = [threading.Thread(target=fn, args=(k,), daemon=True) for k in range(clients)]
        start = time.perf_counter()
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        rates.append(per * clients / (time.perf_counter() - start))
    return tuple(rates)


# -- fs3 through its clients -------------------------------------------------------------------------

def _connect(address: str, token: str) -> None:
    global _client
    import fs3

    _client = fs3.connect(address, token=token)


def _phase(args: tuple[str, str, int, int]) -> int:
    op, directory, first, count = args
    c = _client
    if op == "mkdir":
        c.mkdir(directory, parents=True)
    elif op == "create":
        for i in range(first, first + count):
            c.open(f"{directory}/f{i}", "wb").close()
    elif op == "stat":
        for i in range(first, first + count):
            c.stat(f"{directory}/f{i}")
    elif op == "readdir":
        return sum(1 for _ in c.iterdir(directory))
    elif op == "remove":
        for i in range(first, first + count):
            c.unlink(f"{directory}/f{i}")
    elif op == "link":
        for i in range(first, first + count):
            c.symlink("target", f"{directory}/e{i:07d}")
    return count


def run_backend(backend: str, data_dir: Path, *, clients: int, files: int, big_dir: int,
                say: Callable[[str], None]) -> MetaBenchResult:
    from fs3._auth import TOKEN_FILE, read_token_file
    from fs3.local import LocalCluster, LocalClusterConfig
    from fs3.meta.kv import SQLiteKV, open_kv

    result = MetaBenchResult(backend, clients, files)
    say(f"{backend}: starting a cluster")
    cluster = LocalCluster.start(LocalClusterConfig(
        data_dir=data_dir, storage_nodes=1, replicas=1, etcd_members=3 if backend == "etcd" else 0,
    ), timeout=120)
    try:
        raw_ops = max(400, files // 2)
        if backend == "etcd":
            kv = open_kv(cluster.kv)  # (with the credentials `fs3 up` gave meta)
        else:
            kv = SQLiteKV(data_dir / "kv.db")
        say(f"{backend}: raw backend rate ({clients} threads)")
        result.kv_txn_per_s, _ = raw_rates(kv, clients, raw_ops)
        kv.close()
        if backend == "etcd":  # etcd's JSON gateway, every read a round trip: what a plain client does
            raw = open_kv(cluster.kv, cache=False)
            result.raw_txn_per_s, result.raw_read_per_s = raw_rates(raw, clients, raw_ops)
            raw.close()
        else:
            result.raw_txn_per_s, result.raw_read_per_s = raw_sqlite_rates(data_dir / "raw.db", clients, raw_ops)
        say(f"{backend}: raw backend {result.raw_txn_per_s:.0f} txn/s, {result.raw_read_per_s:.0f} reads/s")

        token = read_token_file(data_dir / TOKEN_FILE)
        per = files // clients
        ctx = multiprocessing.get_context("spawn")
        with ctx.Pool(clients, initializer=_connect, initargs=(cluster.meta[0], token)) as pool:
            dirs = [f"/bench/c{k}" for k in range(clients)]
            pool.map(_phase, [("mkdir", d, 0, 0) for d in dirs])
            for op in ("create", "stat", "readdir", "remove"):
                say(f"{backend}: {op} with {clients} clients")
                start = time.perf_counter()
                done = sum(pool.map(_phase, [(op, d, 0, per) for d in dirs]))
                rate = done / (time.perf_counter() - start)
                say(f"{backend}: {op} {rate:.0f}/s")
                setattr(result, {"readdir": "readdir_entries_per_s"}.get(op, f"{op}_per_s"), rate)
            if big_dir:
                say(f"{backend}: filling one directory with {big_dir} entries")
                pool.map(_phase, [("mkdir", "/bench/big", 0, 0)])
                share = big_dir // clients
                pool.map(_phase, [("link", "/bench/big", k * share, share) for k in range(clients)])
                result.big_dir_entries = share * clients
        if big_dir:
            say(f"{backend}: listing {result.big_dir_entries} entries page by page")
            _connect(cluster.meta[0], token)
            try:
                rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
                start = time.perf_counter()
                listed = sum(1 for _ in _client.iterdir("/bench/big"))
                result.big_dir_list_s = time.perf_counter() - start
                growth = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before
                result.big_dir_client_rss_growth_mb = growth / 1024
                if listed != result.big_dir_entries:
                    raise RuntimeError(f"listed {listed} entries of {result.big_dir_entries}")
            finally:
                _client.close()
    finally:
        say(f"{backend}: stopping its cluster")
        cluster.stop()
    result.compute_ratios()
    return result


def run(backends: list[str], *, clients: int = 4, files: int = 2000, big_dir: int = 10_000,
        data_dir: Path | None = None, say: Callable[[str], None] = lambda _m: None,
        on_result: Callable[[MetaBenchResult], None] = lambda _r: None) -> list[MetaBenchResult]:
    """``run_backend`` for each backend in turn, each result handed to ``on_result`` as soon as it is
    known (a caller prints it then, not after the last backend)."""
    base = Path(data_dir) if data_dir else Path(tempfile.mkdtemp(prefix="fs3-bench-meta-"))
    old_state = os.environ.get("FS3_STATE_DIR")
    os.environ["FS3_STATE_DIR"] = str(base / "state")  # keep the user's "last cluster" as it was
    try:
        results = []
        for b in backends:
            results.append(run_backend(b, base / b, clients=clients, files=files, big_dir=big_dir, say=say))
            on_result(results[-1])
        return results
    finally:
        if old_state is None:
            os.environ.pop("FS3_STATE_DIR", None)
        else:
            os.environ["FS3_STATE_DIR"] = old_state
