"""Aggregate random-read throughput against 1, 2, 4, ... storage hosts (`fs3 bench scale`).

For each count N: a cluster on N storage hosts (network namespaces, fs3/local/_hosts.py) whose links are
shaped to the same rate, with client hosts whose links are free; one file striped over every chain
(one replica: every byte has one home); then a reader on each client host, all started at the same
moment, reading random blocks for the same seconds, with ``depth`` reads in flight per storage host in
all (a fixed number would leave a larger cluster's links idle between requests: Little's law). The aggregate of N hosts is compared with N times
the aggregate of one host measured in the same run: the efficiency, which scaling out should keep near
1 (target 0.8). Shaped links keep the test below the CPU limit of the machine it runs on: what is
measured is how the system spreads load over hosts, not how fast this machine's cores are.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

TARGET = 0.8

_READER = r"""
import json, random, sys, threading, time
import fs3
path, block, depth, start, seconds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5])
with fs3.connect() as c:
    size = c.stat(path).size
    f = c.open(path, "rb", buffering=0)
    f.pread(block, 0)  # connected to every node it needs before the clock starts
    got = [0] * depth
    begin, end = start + 1.0, start + 1.0 + seconds  # (counted once every thread has reads queued)
    def run(k):
        r = random.Random(k)
        while time.time() < start:
            time.sleep(0.005)
        while time.time() < end:
            n = len(f.pread(block, r.randrange(0, size // block) * block))
            if begin <= time.time() <= end:  # only what completed inside the window
                got[k] += n
    threads = [threading.Thread(target=run, args=(k,)) for k in range(depth)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print(json.dumps({"bytes": sum(got)}))
"""


@dataclass
class Point:
    nodes: int
    mb_per_s: float
    per_node: float = 0.0
    efficiency: float = 0.0   # mb_per_s / (nodes * the one-node aggregate)


@dataclass
class ScaleResult:
    nic: str
    client_hosts: int
    block: int
    depth: int
    seconds: float
    points: list[Point] = field(default_factory=list)
    target: float = TARGET

    @property
    def worst(self) -> float:
        return min((p.efficiency for p in self.points if p.nodes > 1), default=1.0)


def run(*, nodes: list[int], nic: str, client_hosts: int, file_size: int, block: int, depth: int,
        seconds: float, workdir: Path, say: Callable[[str], None] = lambda m: None,
        on_point: Callable[[Point], None] = lambda p: None) -> ScaleResult:
    from fs3.local import LocalCluster, LocalClusterConfig

    res = ScaleResult(nic, client_hosts, block, depth, seconds)
    for n in nodes:
        say(f"{n} storage host(s), links shaped to {nic}: starting the cluster")
        cluster = LocalCluster.start(LocalClusterConfig(
            data_dir=workdir / f"n{n}", storage_nodes=n, hosts=n, client_hosts=client_hosts, nic=nic,
            shape_client_hosts=False, replicas=1, chunk_size=1 << 20, stripe=n), timeout=180, remember=False)
        try:
            mbs = _measure(cluster, n, file_size, block, depth, seconds, say)
        finally:
            cluster.stop()
        point = Point(n, mbs, mbs / n)
        if res.points:
            point.efficiency = mbs / (n * res.points[0].mb_per_s / res.points[0].nodes)
        else:
            point.efficiency = 1.0
        res.points.append(point)
        on_point(point)
    return res


def _measure(cluster, n: int, file_size: int, block: int, depth: int, seconds: float, say) -> float:
    import fs3

    token = (cluster.data_dir / "admin.token").read_text().strip()
    path = "/scale.bin"
    say(f"{n} storage host(s): writing {file_size >> 20} MiB striped over {n} chain(s)")
    chunk = os.urandom(4 << 20)
    with fs3.connect(cluster.meta[0], token=token) as c, c.open(path, "wb") as f:
        for off in range(0, file_size, len(chunk)):
            f.write(chunk[: min(len(chunk), file_size - off)])
    start = time.time() + 3.0  # every reader connected and waiting by then
    env = dict(os.environ, FS3_CLUSTER=str(cluster.data_dir), FS3_TOKEN=token)
    clients = [h.name for h in cluster.hosts.hosts if h.role == "client"]
    threads = max(1, -(-depth * n // len(clients)))  # ``depth`` reads in flight per storage host, in all
    say(f"{n} storage host(s): {len(clients)} reader(s) x {threads} threads, {seconds:g} s of random "
        f"{block >> 10} KiB reads")
    procs = [subprocess.Popen(cluster.hosts.command(h, [sys.executable, "-c", _READER, path, str(block), str(threads),
                                                         str(start), str(seconds)]),
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE) for h in clients]
    total = 0
    for p in procs:
        out, err = p.communicate(timeout=seconds + 600)
        if p.returncode != 0:
            raise RuntimeError(f"a reader failed: {err.decode(errors='replace')[-2000:]}")
        total += json.loads(out.decode().strip().splitlines()[-1])["bytes"]
    return total / seconds / 1e6


def svg(res: ScaleResult) -> str:
    """A plot of the aggregate against the node count, beside linear scaling from one node."""
    w, h, m = 560, 360, 56
    top = max(max(p.mb_per_s for p in res.points), res.points[0].mb_per_s * max(p.nodes for p in res.points)) * 1.1
    xmax = max(p.nodes for p in res.points)

    def x(v: float) -> float:
        return m + (w - 2 * m) * v / xmax

    def y(v: float) -> float:
        return h - m - (h - 2 * m) * v / top

    one = res.points[0].mb_per_s / res.points[0].nodes
    measured = " ".join(f"{x(p.nodes):.1f},{y(p.mb_per_s):.1f}" for p in res.points)
    linear = f"{x(0):.1f},{y(0):.1f} {x(xmax):.1f},{y(one * xmax):.1f}"
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="12">',
             f'<rect width="{w}" height="{h}" fill="white"/>',
             f'<line x1="{m}" y1="{h - m}" x2="{w - m}" y2="{h - m}" stroke="black"/>',
             f'<line x1="{m}" y1="{m}" x2="{m}" y2="{h - m}" stroke="black"/>',
             f'<polyline points="{linear}" fill="none" stroke="#999" stroke-dasharray="6,4"/>',
             f'<polyline points="{measured}" fill="none" stroke="#1f77b4" stroke-width="2"/>']
    for p in res.points:
        parts.append(f'<circle cx="{x(p.nodes):.1f}" cy="{y(p.mb_per_s):.1f}" r="4" fill="#1f77b4"/>')
        parts.append(f'<text x="{x(p.nodes):.1f}" y="{h - m + 18}" text-anchor="middle">{p.nodes}</text>')
        parts.append(f'<text x="{x(p.nodes) + 6:.1f}" y="{y(p.mb_per_s) - 8:.1f}">{p.mb_per_s:.1f} ({p.efficiency:.2f}x)</text>')
    for k in range(5):
        v = top * k / 4
        parts.append(f'<text x="{m - 6}" y="{y(v) + 4:.1f}" text-anchor="end">{v:.0f}</text>')
    parts += [f'<text x="{w / 2}" y="{h - 14}" text-anchor="middle">storage hosts (links shaped to {res.nic})</text>',
              f'<text x="16" y="{h / 2}" transform="rotate(-90 16 {h / 2})" text-anchor="middle">aggregate MB/s</text>',
              f'<text x="{w / 2}" y="24" text-anchor="middle">random {res.block >> 10} KiB reads from {res.client_hosts} '
              'client host(s); dashed: linear from one host</text>', "</svg>"]
    return "\n".join(parts) + "\n"
