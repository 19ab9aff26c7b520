"""`fs3 bench checkpoint`: save and load GB/s on fs3 beside the local disk of the same run, with the ratio."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid

import pytest

pytestmark = pytest.mark.needs_torch


def fs3(cluster, *args):
    return subprocess.run([sys.executable, "-m", "fs3", "--cluster", str(cluster.data_dir), *args],
                          capture_output=True, text=True, timeout=300)


def test_bench_checkpoint_reports_both_sides_and_cleans_up(cluster, client, tmp_path):
    where = f"/bc-{uuid.uuid4().hex[:8]}"
    proc = fs3(cluster, "bench", "checkpoint", "--size", "8M", "--tensors", "4", "--rounds", "2", "--dir", where,
               "--baseline-dir", str(tmp_path / "base"))
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("checkpoint: torch.save / torch.load of 4 tensors") and "median of 2 rounds" in lines[0]
    for line, what in zip(lines[1:], ("save", "load"), strict=True):
        assert line.split()[0] == what and "fs3" in line and "local disk" in line and line.endswith("x")
    assert client.ls(where) == [] and list((tmp_path / "base").iterdir()) == []  # nothing left behind
    out = json.loads(fs3(cluster, "bench", "checkpoint", "--size", "4M", "--tensors", "2", "--rounds", "1",
                         "--dir", where, "--json").stdout)
    assert out["bytes"] == 4 << 20 and out["tensors"] == 2
    for side in ("fs3_save_gbps", "local_save_gbps", "fs3_load_gbps", "local_load_gbps", "save_ratio", "load_ratio"):
        assert out[side] > 0


def test_bench_checkpoint_refuses_nonsense_in_one_line(cluster):
    proc = fs3(cluster, "bench", "checkpoint", "--tensors", "0")
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines() == ["fs3: bench: Invalid argument: --tensors >= 1, --rounds >= 1, and "
                                                "--size at least 4 bytes a tensor"]
