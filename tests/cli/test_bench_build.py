"""`fs3 bench build`: builds two generated corpora with 1 and 2 processes in fresh interpreters and
reports throughput, peak memory and scaling; bad sizes and counts are one clear line."""

from __future__ import annotations

import json
import subprocess
import sys


def _fs3(*args):
    return subprocess.run([sys.executable, "-m", "fs3", *args], capture_output=True, text=True, timeout=600)


def test_bench_build_reports_every_build_and_the_coordinators_growth(tmp_path):
    done = _fs3("bench", "build", "--size", "256K", "-j", "2", "--dir", str(tmp_path), "--json")
    assert done.returncode == 0, done.stderr[-2000:]
    r = json.loads(done.stdout)
    runs = r["runs"]
    assert [(x["processes"], x["corpus_bytes"] > 512 * 1024) for x in runs] == [(2, False), (2, True), (1, True)]
    for x in runs:
        assert x["documents"] > 0 and 0 < x["kept"] < x["documents"]  # duplicates were planted and removed
        assert x["mb_per_s"] > 0 and x["coordinator_peak_mb"] > 0
    assert runs[0]["worker_peak_mb"] > 0 and runs[2]["worker_peak_mb"] == 0
    assert r["speedup"] > 0 and r["coordinator_growth"] > 0
    # the same corpus gives the same kept documents with 1 and 2 processes
    assert runs[1]["kept"] == runs[2]["kept"]


def test_bench_build_refuses_bad_input_in_one_line():
    for args in (["--size", "1K"], ["--size", "nonsense"], ["-j", "0"], ["-j", "-3"]):
        done = _fs3("bench", "build", *args)
        assert done.returncode != 0, args
        assert "Traceback" not in done.stderr, args
        assert len(done.stderr.strip().splitlines()) == 1, (args, done.stderr)
