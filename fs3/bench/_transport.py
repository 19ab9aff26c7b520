"""UCX against the framed TCP path, same run (`fs3 bench transport`).

A cluster whose storage nodes run on hosts of their own (network namespaces, fs3/local/_hosts.py) and
listen with UCX too; a reader on a client host reads random blocks of one file with ``depth`` reads in
flight, once with ``connect(ucx=False)`` (framed TCP) and once with UCX, alternating, for each block
size. The ratio UCX / TCP is what the transport gives here; on this machine UCX itself runs over TCP (no
RDMA device), so the ratio says what UCX's framing costs or saves, not what RDMA would.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

_READER = r"""
import json, random, sys, threading, time
import fs3
path, block, depth, seconds, ucx = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), sys.argv[5] == "1"
with fs3.connect(ucx=ucx) as c:
    size = c.stat(path).size
    f = c.open(path, "rb", buffering=0)
    for k in range(8):
        f.pread(block, k * block)  # connected to every node before the clock starts
    status = [{"transport": s.transport, "lanes": s.lanes} for s in c.data_plane_status(probe=False)]
    got, ops = [0] * depth, [0] * depth
    end = time.time() + seconds
    def run(k):
        r = random.Random(k)
        while time.time() < end:
            got[k] += len(f.pread(block, r.randrange(0, size // block) * block))
            ops[k] += 1
    threads = [threading.Thread(target=run, args=(k,)) for k in range(depth)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print(json.dumps({"bytes": sum(got), "ops": sum(ops), "status": status}))
"""


@dataclass
class Row:
    block: int
    tcp_mb_s: float
    ucx_mb_s: float
    tcp_iops: float
    ucx_iops: float

    @property
    def ratio(self) -> float:
        return self.ucx_mb_s / self.tcp_mb_s if self.tcp_mb_s else 0.0


@dataclass
class TransportResult:
    storage_hosts: int
    depth: int
    seconds: float
    lanes: str = ""
    rows: list[Row] = field(default_factory=list)


def run(*, blocks: list[int], depth: int, seconds: float, storage_hosts: int, file_size: int, workdir: Path,
        rounds: int = 2, say: Callable[[str], None] = lambda m: None) -> TransportResult:
    import fs3
    from fs3 import _ucx
    from fs3.local import LocalCluster, LocalClusterConfig

    ok, why = _ucx.available()
    if not ok:
        raise RuntimeError(f"UCX is {why}")
    res = TransportResult(storage_hosts, depth, seconds)
    say(f"starting a cluster on {storage_hosts} storage hosts and a client host")
    cluster = LocalCluster.start(LocalClusterConfig(
        data_dir=workdir / "cluster", storage_nodes=storage_hosts, hosts=storage_hosts, client_hosts=1,
        replicas=1, chunk_size=1 << 20, stripe=storage_hosts, extra_env={"FS3_STORAGE_UCX": "1"}),
        timeout=180, remember=False)
    try:
        token = (cluster.data_dir / "admin.token").read_text().strip()
        path = "/transport.bin"
        say(f"writing {file_size >> 20} MiB")
        chunk = os.urandom(4 << 20)
        with fs3.connect(cluster.meta[0], token=token, ucx=False) as c, c.open(path, "wb") as f:
            for off in range(0, file_size, len(chunk)):
                f.write(chunk[: min(len(chunk), file_size - off)])
        env = dict(os.environ, FS3_CLUSTER=str(cluster.data_dir), FS3_TOKEN=token)
        host = next(h.name for h in cluster.hosts.hosts if h.role == "client")
        for block in blocks:
            got: dict[bool, list] = {False: [], True: []}
            for _ in range(rounds):
                for ucx in (False, True):  # alternating: drift on a shared machine hits both alike
                    say(f"{block >> 10} KiB reads over {'UCX' if ucx else 'framed TCP'}, {seconds:g} s")
                    proc = subprocess.run(cluster.hosts.command(host, [
                        sys.executable, "-c", _READER, path, str(block), str(depth), str(seconds), "1" if ucx else "0"]),
                        env=env, capture_output=True, text=True, timeout=seconds + 300)
                    if proc.returncode != 0:
                        raise RuntimeError(f"the reader failed: {proc.stderr[-2000:]}")
                    out = json.loads(proc.stdout.strip().splitlines()[-1])
                    want = "ucx" if ucx else "tcp"
                    if any(s["transport"] != want for s in out["status"]):
                        raise RuntimeError(f"the reader used {out['status']}, not {want}")
                    if ucx and out["status"]:
                        res.lanes = out["status"][0]["lanes"]
                    got[ucx].append(out)
            secs = seconds * rounds
            res.rows.append(Row(block, sum(o["bytes"] for o in got[False]) / secs / 1e6,
                                sum(o["bytes"] for o in got[True]) / secs / 1e6,
                                sum(o["ops"] for o in got[False]) / secs, sum(o["ops"] for o in got[True]) / secs))
    finally:
        cluster.stop()
    return res
