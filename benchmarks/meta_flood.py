"""One user's flood of creates against another user's `stat` latency, with the meta server's fair shares
on and off (FS3_FAIR_SHARE=off), alternating, on fresh local clusters.

Each round and mode: start `fs3 up` (one storage node), make users "flood" and "quiet"; the quiet user
measures its stat p50 alone; then a process of the flooding user creates files from many concurrent
calls while the quiet user keeps stat-ing; prints both p50s, their ratio, and the flood's creates/s:

    python benchmarks/meta_flood.py --creates 40000 --procs 4 --rounds 2
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import fs3


def _flood(address: str, token: str, creates: int, in_flight: int, done, first: int = 0) -> None:
    async def run():
        async with await fs3.AsyncClient.connect(address, token=token) as c:
            sem = asyncio.Semaphore(in_flight)

            async def one(i):
                async with sem:
                    await c.write(f"/flood/f{i}", b"")

            started = time.perf_counter()
            await asyncio.gather(*(one(i) for i in range(first, first + creates)))
            done.put(creates / (time.perf_counter() - started))
    asyncio.run(run())


def _stat_p50(client, seconds: float | None = None, count: int = 300, until=None) -> float:
    lat = []
    while (until is None and len(lat) < count) or (until is not None and not until()):
        t = time.perf_counter()
        client.stat("/")
        lat.append(time.perf_counter() - t)
    return statistics.median(lat) * 1e3 if lat else float("nan")


def one_run(mode: str, args) -> dict:
    data = Path(tempfile.mkdtemp(prefix="fs3-flood-"))
    env = dict(os.environ, FS3_FAIR_SHARE=mode)
    fs3_cli = [sys.executable, "-m", "fs3"]
    try:
        subprocess.run([*fs3_cli, "up", "--detach", "--data-dir", str(data), "--nodes", "1", "--replicas", "1"],
                       check=True, capture_output=True, env=env)
        with fs3.connect(str(data)) as admin:
            for name in ("flood", "quiet"):
                try:
                    admin.remove_user(name)
                except FileNotFoundError:
                    pass
            flood_user, flood_token = admin.add_user("flood")
            _, quiet_token = admin.add_user("quiet")
            admin.mkdir("/flood")
            admin.chown("/flood", flood_user.uid, flood_user.gid)
        with fs3.connect(str(data), token=quiet_token) as quiet:
            quiet.stat("/")
            alone = _stat_p50(quiet)
            spawn = multiprocessing.get_context("spawn")  # (no fork after gRPC)
            done = spawn.Queue()
            each = args.creates // args.procs
            procs = [spawn.Process(target=_flood, args=(str(data), flood_token, each, args.in_flight, done, k * each))
                     for k in range(args.procs)]
            for proc in procs:
                proc.start()
            time.sleep(2.0)  # let the flood get going (a benchmark, not a test: timing is its subject)
            under = _stat_p50(quiet, until=lambda: not all(p.is_alive() for p in procs))
            for proc in procs:
                proc.join()
            rate = sum(done.get(timeout=10) for _ in procs)
        return {"mode": mode, "p50_alone_ms": alone, "p50_flood_ms": under, "ratio": under / alone,
                "creates_per_s": rate}
    finally:
        subprocess.run([*fs3_cli, "down", "--data-dir", str(data)], capture_output=True, env=env)
        shutil.rmtree(data, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--creates", type=int, default=30000)
    parser.add_argument("--in-flight", type=int, default=512, help="calls in flight per flooding process")
    parser.add_argument("--procs", type=int, default=4, help="flooding processes (one connection each)")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    rows = []
    for r in range(args.rounds):
        for mode in (("on", "off") if r % 2 == 0 else ("off", "on")):
            row = one_run(mode, args)
            rows.append(row)
            print(f"fair share {row['mode']:>3}: stat p50 alone {row['p50_alone_ms']:.2f} ms, under the flood "
                  f"{row['p50_flood_ms']:.2f} ms ({row['ratio']:.1f}x); flood {row['creates_per_s']:.0f} creates/s",
                  flush=True)
    for mode in ("on", "off"):
        mine = [r for r in rows if r["mode"] == mode]
        print(f"median, fair share {mode}: stat p50 under the flood "
              f"{statistics.median(r['p50_flood_ms'] for r in mine):.2f} ms "
              f"({statistics.median(r['ratio'] for r in mine):.1f}x alone); "
              f"flood {statistics.median(r['creates_per_s'] for r in mine):.0f} creates/s")


if __name__ == "__main__":
    main()
