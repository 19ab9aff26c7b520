"""Sequential write throughput and where its CPU goes, on a running cluster.

Writes one file in 4 MiB writes, removes it, and prints the throughput with the CPU time of the client
and of each storage node process per MiB written (total and user). With ``--wait-reclaimed DATA_DIR``
(the cluster's data directory) it then waits until the nodes have reclaimed the file's chunks, so that
the next run does not share the machine with that work. Used for A/B runs of write-path changes:

    fs3 up --replicas 3 --detach --data-dir /tmp/c
    python benchmarks/write_cpu.py --size 2G --wait-reclaimed /tmp/c
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sqlite3
import subprocess
import time
from pathlib import Path

from fs3.bench import workloads
from fs3.cli._bench import parse_size
from fs3.client import AsyncClient

MiB = 1 << 20


def cpu_seconds(pid: int) -> tuple[float, float]:
    """(user + system, user) CPU seconds of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / tick, int(fields[11]) / tick


def chunks_left(data_dir: Path) -> int:
    total = 0
    for db in data_dir.glob("storage-*/target-*/chunks.db"):
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        try:
            total += conn.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]
        finally:
            conn.close()
    return total


async def run(size: int, path: str) -> str:
    client = await AsyncClient.connect(None)
    try:
        await client.makedirs(path.rsplit("/", 1)[0] or "/")
        nodes = [int(p) for p in subprocess.check_output(["pgrep", "-f", "fs3 storage"]).split()]
        before = [cpu_seconds(p) for p in nodes]
        mine = cpu_seconds(os.getpid())
        start = time.monotonic()
        await workloads.write_sequential(client, path, 4 * MiB, size)
        elapsed = time.monotonic() - start
        await client.remove(path)
        after = [cpu_seconds(p) for p in nodes]
        mine_after = cpu_seconds(os.getpid())
    finally:
        await client.close()
    mib = size / MiB
    per_node = " ".join(f"{1e3 * (b[0] - a[0]) / mib:.2f}/{1e3 * (b[1] - a[1]) / mib:.2f}"
                        for a, b in zip(before, after, strict=True))
    return (f"{size / elapsed / 1e6:.0f} MB/s  client {1e3 * (mine_after[0] - mine[0]) / mib:.2f} ms/MiB  "
            f"nodes {per_node} ms/MiB (total/user)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="2G", help="bytes to write (default 2G)")
    parser.add_argument("--path", default="/.bench/write-cpu", help="fs3 path of the test file")
    parser.add_argument("--wait-reclaimed", type=Path, metavar="DATA_DIR",
                        help="then wait until the cluster in DATA_DIR has reclaimed the file's chunks")
    args = parser.parse_args()
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    line = asyncio.run(run(parse_size(args.size), args.path))
    if args.wait_reclaimed:
        start = time.monotonic()
        while chunks_left(args.wait_reclaimed) and time.monotonic() - start < 300:
            time.sleep(0.5)
        line += f"  (reclaimed in {time.monotonic() - start:.1f} s)"
    print(line)


if __name__ == "__main__":
    main()
