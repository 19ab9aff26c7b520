"""Programs that share a file do not lose each other's bytes: appenders in several processes, threads and
clients, and descriptors that see what the client's other descriptors wrote (docs/consistency.md).
Each runs on the mount and on a local directory, and the two must agree."""

from __future__ import annotations

import threading
from pathlib import Path

import fs3

from .conftest import sh

APPENDERS = r"""
for who in a b c; do
  ( exec 3>>log; for i in $(seq 1 200); do echo "$who line $i" >&3; done ) &
done
wait
"""


def _lines(d: Path) -> list[str]:
    return sorted((d / "log").read_text().splitlines())


def test_shells_appending_to_one_file_lose_nothing(mnt, local):
    for d in (mnt, local):
        sh(APPENDERS, d)
    assert _lines(mnt) == _lines(local)  # every line, whole (none torn, none lost)
    assert len(_lines(mnt)) == 600 and (mnt / "log").stat().st_size == (local / "log").stat().st_size


def test_threads_appending_through_their_own_descriptors_lose_nothing(mnt, local):
    def run(d: Path):
        def appender(who: str):
            with open(d / "log", "ab", buffering=0) as f:
                for i in range(100):
                    f.write(f"{who} {i:04d}\n".encode())
        threads = [threading.Thread(target=appender, args=(w,)) for w in "pqrs"]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    for d in (mnt, local):
        run(d)
    assert _lines(mnt) == _lines(local) and len(_lines(mnt)) == 400


def test_a_new_descriptor_sees_what_another_one_is_writing(mnt, local):
    for d in (mnt, local):
        with open(d / "f", "wb") as w:
            w.write(b"x" * 3000)
            w.flush()
            with open(d / "f", "rb") as r:
                assert r.read() == b"x" * 3000, d
            w.write(b"y" * 10)
            w.flush()
            with open(d / "f", "rb") as r:
                assert r.read() == b"x" * 3000 + b"y" * 10, d


def test_clients_appending_to_one_file_lose_nothing(cluster, client, workdir):
    """Two clients (as two hosts would be), each with two appenders, through the library."""
    path = f"{workdir}/shared.log"
    client.write(path, b"")
    clients = [fs3.connect(cluster.meta[0]) for _ in range(2)]
    try:
        def appender(c, who):
            with c.open(path, "ab") as f:
                for i in range(50):
                    f.write(f"{who} {i:03d}\n".encode())
                    f.flush()  # each its own append, interleaving with the others
        threads = [threading.Thread(target=appender, args=(c, f"{k}{j}")) for k, c in enumerate(clients)
                   for j in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        for c in clients:
            c.close()
    lines = client.read(path).decode().splitlines()
    assert sorted(lines) == sorted(f"{k}{j} {i:03d}" for k in range(2) for j in range(2) for i in range(50))


def test_the_length_is_the_furthest_end_of_all_writers_not_the_last_closer(client, workdir):
    path = f"{workdir}/two-writers"
    client.write(path, b"")
    far, near = client.open(path, "r+b"), client.open(path, "r+b")
    far.seek(10_000)
    far.write(b"F" * 100)
    near.write(b"N" * 10)
    far.close()
    near.close()  # closes last, having written less
    data = client.read(path)
    assert len(data) == 10_100 and data[:10] == b"N" * 10 and data[-100:] == b"F" * 100
