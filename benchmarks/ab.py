"""A/B runs of `fs3 bench` between two installs of fs3 (say, the commit before a refactor and after it),
alternating on the same machine so that drift in its load lands on both sides alike.

Each round, for A then B (B then A on odd rounds): start a fresh local cluster with that install's
`fs3 up`, run its `fs3 bench --json` (1 MiB and 4 KiB random reads, replicated sequential writes, each
beside the local-disk baseline measured in the same run), stop the cluster. Prints every run and the
median of each side's ratios (fs3 / baseline) and figures:

    python benchmarks/ab.py --a /path/to/old/.venv/bin/fs3 --b .venv/bin/fs3 --rounds 3
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import tempfile
from pathlib import Path


def one_run(fs3: str, args: argparse.Namespace) -> dict:
    data = Path(tempfile.mkdtemp(prefix="fs3-ab-"))
    env_cluster = ["--cluster", str(data)]
    try:
        subprocess.run([fs3, "up", "--detach", "--data-dir", str(data), "--replicas", str(args.replicas)],
                       check=True, capture_output=True)
        out = subprocess.run(
            [fs3, *env_cluster, "bench", "--json", "--no-progress", "--duration", str(args.duration),
             "--file-size", args.file_size, "--write-size", args.write_size],
            check=True, capture_output=True, text=True)
        return json.loads(out.stdout)
    finally:
        subprocess.run([fs3, "down", "--data-dir", str(data)], capture_output=True)
        shutil.rmtree(data, ignore_errors=True)


def _rows(result: dict) -> dict[str, tuple[float, float, float]]:
    """workload -> (fs3 figure, baseline figure, ratio), in the unit its ratio compares (MB/s or IOPS)."""
    rows = {}
    for c in result["results"]:
        key = "iops" if c["metric"] == "iops" else "throughput_MBps"
        base = c["baseline"] or {}
        rows[c["name"]] = (c["fs3"][key], base.get(key, 0.0), c["ratio"] or 0.0)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--a", required=True, help="the fs3 executable of side A (e.g. before a change)")
    parser.add_argument("--b", required=True, help="the fs3 executable of side B (e.g. after it)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--replicas", type=int, default=3)
    parser.add_argument("--duration", type=float, default=8.0, help="seconds per read workload")
    parser.add_argument("--file-size", default="1G")
    parser.add_argument("--write-size", default="2G")
    args = parser.parse_args()
    seen: dict[str, dict[str, list]] = {"A": {}, "B": {}}
    for r in range(args.rounds):
        order = [("A", args.a), ("B", args.b)] if r % 2 == 0 else [("B", args.b), ("A", args.a)]
        for side, exe in order:
            rows = _rows(one_run(exe, args))
            for name, row in rows.items():
                seen[side].setdefault(name, []).append(row)
            line = "  ".join(f"{n}: {f:,.0f} vs {b:,.0f} = {q:.2f}x" for n, (f, b, q) in rows.items())
            print(f"round {r + 1} {side}: {line}", flush=True)
    print("\nmedians (fs3 figure, baseline, ratio):")
    for name in seen["A"]:
        cells = []
        for side in ("A", "B"):
            runs = seen[side].get(name, [])
            med = [statistics.median(col) for col in zip(*runs, strict=True)] if runs else [0, 0, 0]
            cells.append(f"{side} {med[0]:,.0f} / {med[1]:,.0f} = {med[2]:.2f}x")
        print(f"  {name:<30} " + "   ".join(cells))


if __name__ == "__main__":
    main()
