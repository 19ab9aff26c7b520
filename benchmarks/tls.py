"""What TLS costs on the data plane: random reads of 1 MiB (16 in flight) and of 4 KiB (32 in flight) over
plain TCP and over TLS, against two local clusters of the same shape started side by side (`fs3 up`
and `fs3 up --tls`, storage nodes without their local socket, a client without shared memory: every
byte crosses loopback TCP), in alternating rounds so that drift in the disk or the machine's load lands
on both alike. Prints each side's throughput or IOPS, the ratio TLS / plain, and the CPU seconds the
client and the storage nodes spent per GiB read.

    python benchmarks/tls.py --rounds 4 --seconds 4 --file-size 512M
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import tempfile
from pathlib import Path

from fs3.bench import combine, workloads
from fs3.client import AsyncClient
from fs3.local import LocalCluster, LocalClusterConfig

CASES = [  # name, block, depth, metric
    ("random read 1 MiB, 16 in flight", 1 << 20, 16, "throughput"),
    ("random read 4 KiB, 32 in flight", 4 << 10, 32, "iops"),
]
_TICK = os.sysconf("SC_CLK_TCK")


def _parse_size(text: str) -> int:
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    return int(float(text[:-1]) * units[text[-1].upper()]) if text[-1].upper() in units else int(text)


def _cpu(pids: list[int]) -> float:
    """CPU seconds (user + system) used so far by ``pids``."""
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total / _TICK


def _own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class Side:
    """One cluster, its client and its test file."""

    def __init__(self, name: str, base: Path, *, tls: bool, host_base: int, nodes: int):
        self.name = name
        self.cluster = LocalCluster.start(LocalClusterConfig(
            data_dir=base / name, storage_nodes=nodes, replicas=1, tls=tls, storage_host_base=host_base,
            extra_env={"FS3_DATA_SOCKET": "0"}), remember=False)
        self.storage_pids = [p.pid for p in self.cluster.processes if p.role == "storage"]
        self.client: AsyncClient | None = None
        self.files: list = []
        self.parts: dict[str, list] = {name: [] for name, *_ in CASES}
        self.cpu: dict[str, list[float]] = {name: [0.0, 0.0] for name, *_ in CASES}  # client, nodes

    async def prepare(self, size: int) -> None:
        self.client = await AsyncClient.connect(str(self.cluster.data_dir), shm=False)
        self.files = await workloads.ensure_files(self.client, "/.bench-tls", 1, size, fresh=True)
        statuses = await self.client.data_plane_status()
        assert statuses and all(s.channel == "tcp" and s.transport == "tcp" for s in statuses), statuses

    async def round(self, case: tuple, size: int, seconds: float) -> None:
        name, block, depth, _metric = case
        client_before, nodes_before = _own_cpu(), _cpu(self.storage_pids)
        self.parts[name].append(await workloads.read(self.client, self.files, size, block, depth, 1, seconds))
        self.cpu[name][0] += _own_cpu() - client_before
        self.cpu[name][1] += _cpu(self.storage_pids) - nodes_before

    async def close(self) -> None:
        if self.client is not None:
            await self.client.close()
        self.cluster.stop()


async def run(args) -> dict:
    base = Path(tempfile.mkdtemp(prefix="fs3-tls-bench-"))
    size = _parse_size(args.file_size)
    sides = []
    try:
        sides.append(Side("plain", base, tls=False, host_base=2, nodes=args.nodes))
        sides.append(Side("tls", base, tls=True, host_base=2 + args.nodes, nodes=args.nodes))
        for side in sides:
            await side.prepare(size)
        for case in CASES:
            for r in range(args.rounds):
                for side in (sides if r % 2 == 0 else sides[::-1]):  # plain first, then TLS first, ...
                    await side.round(case, size, args.seconds)
        report = {"rounds": args.rounds, "seconds_per_round": args.seconds, "file_size": size,
                  "nodes": args.nodes, "cpus": os.cpu_count(), "cases": []}
        for name, _block, _depth, metric in CASES:
            row: dict = {"name": name, "metric": metric}
            for side in sides:
                m = combine(side.parts[name])
                gib = m.bytes / (1 << 30)
                row[side.name] = {"MBps": round(m.throughput / 1e6, 1), "iops": round(m.iops),
                                  "p50_ms": round(m.percentile(50) * 1e3, 3),
                                  "client_cpu_s_per_GiB": round(side.cpu[name][0] / gib, 2),
                                  "nodes_cpu_s_per_GiB": round(side.cpu[name][1] / gib, 2)}
            key = "MBps" if metric == "throughput" else "iops"
            row["ratio"] = round(row["tls"][key] / row["plain"][key], 3) if row["plain"][key] else None
            report["cases"].append(row)
        return report
    finally:
        for side in sides:
            await side.close()
        shutil.rmtree(base, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=4, help="rounds per side and workload (alternating)")
    parser.add_argument("--seconds", type=float, default=4.0, help="seconds per round")
    parser.add_argument("--file-size", default="512M")
    parser.add_argument("--nodes", type=int, default=3, help="storage nodes per cluster")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    try:
        import uvloop

        report = uvloop.run(run(args))
    except ImportError:  # pragma: no cover
        import asyncio

        report = asyncio.run(run(args))
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(f"{report['rounds']} alternating rounds of {report['seconds_per_round']:g} s per side, "
          f"{report['nodes']} storage nodes per cluster, {report['cpus']} CPUs; data plane over loopback TCP")
    for row in report["cases"]:
        key, unit = ("MBps", "MB/s") if row["metric"] == "throughput" else ("iops", "IOPS")
        plain, tls = row["plain"], row["tls"]
        print(f"{row['name']}: plain {plain[key]:,} {unit}, TLS {tls[key]:,} {unit}, TLS/plain {row['ratio']:.2f}x; "
              f"p50 {plain['p50_ms']} / {tls['p50_ms']} ms; CPU s per GiB client {plain['client_cpu_s_per_GiB']} / "
              f"{tls['client_cpu_s_per_GiB']}, nodes {plain['nodes_cpu_s_per_GiB']} / {tls['nodes_cpu_s_per_GiB']}")


if __name__ == "__main__":
    main()
