"""`fs3 bench build`: ``build_shards`` on a generated JSONL corpus (documents of random words, with exact
and near duplicates planted), at two corpus sizes and with 1 and N worker processes: MB/s in total and
per worker, the peak memory (RSS) of the coordinating process and of the largest worker, and the
speed-up from 1 to N workers. Each build runs in a fresh interpreter, so its peaks are its own.

The baseline is the build itself: the small corpus beside one four times larger (the coordinator's
peak should not grow with the corpus), and one process beside N (the speed-up)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from fs3._errors import InternalError

VOCABULARY = 20_000
WORDS = 200  # per document, about 1.3 KB of JSON


@dataclass
class BuildRun:
    corpus_bytes: int
    documents: int
    processes: int
    seconds: float
    mb_per_s: float
    mb_per_s_per_worker: float
    coordinator_peak_mb: float
    worker_peak_mb: float      # the largest worker's (0 with one process: it works in the coordinator)
    kept: int


@dataclass
class BuildResult:
    runs: list[BuildRun] = field(default_factory=list)
    speedup: float = 0.0               # N processes against 1, large corpus
    coordinator_growth: float = 0.0    # large corpus's coordinator peak / small corpus's (N processes)
    partition_docs: int | None = None  # documents the coordinator sorted at a time (None: the default)


def write_corpus(path: Path, size: int, seed: int = 0) -> int:
    """About ``size`` bytes of JSONL documents; 1 in 10 an exact copy and 1 in 10 a near copy (a few
    words changed) of an earlier one. Returns the number of documents."""
    rng = np.random.default_rng(seed)
    vocab = np.array([f"w{i}" for i in range(VOCABULARY)])
    written, docs, recent = 0, 0, []
    with open(path, "w") as f:
        while written < size:
            words = vocab[rng.integers(0, VOCABULARY, (64, WORDS))]
            for row in words:
                kind = rng.random()
                if recent and kind < 0.1:
                    row = recent[rng.integers(len(recent))]
                elif recent and kind < 0.2:
                    row = recent[rng.integers(len(recent))].copy()
                    row[rng.integers(0, WORDS, 3)] = "changed"
                else:
                    recent = (recent + [row])[-256:]
                line = json.dumps({"text": " ".join(row)}) + "\n"
                f.write(line)
                written += len(line)
                docs += 1
    return docs


_CHILD = """
import json, resource, sys, time
from fs3.dataloader import build_shards
src, out, processes, partition = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
t = time.perf_counter()
r = build_shards([src], out, processes=processes, overwrite=True, **({"partition_docs": partition} if partition else {}))
took = time.perf_counter() - t
print(json.dumps({"seconds": took, "kept": int(r.dedup.keep.sum()), "documents": len(r.names),
                  "self_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                  "children_kb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}))
"""


def one_build(src: Path, out: Path, processes: int, partition_docs: int | None = None) -> BuildRun:
    done = subprocess.run([sys.executable, "-c", _CHILD, str(src), str(out), str(processes), str(partition_docs or 0)],
                          capture_output=True, text=True, timeout=3600)
    if done.returncode != 0:
        raise InternalError(f"the build failed: {done.stderr.strip()[-800:]}")
    r = json.loads(done.stdout.strip().splitlines()[-1])
    size = os.path.getsize(src)
    mb_s = size / 1e6 / r["seconds"]
    return BuildRun(size, r["documents"], processes, r["seconds"], mb_s, mb_s / processes,
                    r["self_kb"] / 1024, r["children_kb"] / 1024 if processes > 1 else 0.0, r["kept"])


def run(*, size: int, processes: int, workdir: Path, say=lambda _m: None,
        partition_docs: int | None = None) -> BuildResult:
    """The small corpus (``size`` bytes) and one 4x as large, each with ``processes`` workers; the large
    one also with 1. Everything written goes under ``workdir``. ``partition_docs``: the builds' (None:
    their default)."""
    res = BuildResult(partition_docs=partition_docs)
    small, large = workdir / "small.jsonl", workdir / "large.jsonl"
    say(f"writing corpora of {size / 1e6:.0f} and {4 * size / 1e6:.0f} MB")
    write_corpus(small, size, seed=1)
    write_corpus(large, 4 * size, seed=2)
    plan = [(small, processes), (large, processes)] + ([(large, 1)] if processes > 1 else [])
    for src, p in plan:
        say(f"building {src.name} with {p} process{'es' if p > 1 else ''}")
        t = time.perf_counter()
        run_ = one_build(src, workdir / f"out-{src.stem}-{p}", p, partition_docs)
        res.runs.append(run_)
        say(f"  {run_.mb_per_s:.1f} MB/s in {time.perf_counter() - t:.1f} s, coordinator peak "
            f"{run_.coordinator_peak_mb:.0f} MB")
    by = {(r.corpus_bytes > size * 2, r.processes): r for r in res.runs}
    if processes > 1:
        res.speedup = by[(True, 1)].seconds / by[(True, processes)].seconds
    res.coordinator_growth = by[(True, processes)].coordinator_peak_mb / by[(False, processes)].coordinator_peak_mb
    return res


def describe(res: BuildResult) -> list[str]:
    lines = ["shard build (JSONL, exact + near dedup, byte tokenizer):",
             f"  {'corpus':>9} {'docs':>9} {'procs':>5} {'MB/s':>7} {'MB/s/worker':>11} {'coordinator':>11} "
             f"{'worker':>7}"]
    for r in res.runs:
        lines.append(f"  {r.corpus_bytes / 1e6:7.0f}MB {r.documents:9,} {r.processes:5} {r.mb_per_s:7.2f} "
                     f"{r.mb_per_s_per_worker:11.2f} {r.coordinator_peak_mb:9.0f}MB "
                     f"{r.worker_peak_mb:5.0f}MB")
    if res.speedup:
        lines.append(f"  speed-up from 1 to {res.runs[0].processes} processes: {res.speedup:.2f}x")
    lines.append(f"  coordinator peak, corpus x4: {res.coordinator_growth:.2f}x"
                 + (f" (partitions of {res.partition_docs:,} documents)" if res.partition_docs else ""))
    return lines
