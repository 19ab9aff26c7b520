"""`fs3 bench smallfiles`, `fs3 bench mount`, `fs3 bench calls` and `fs3 bench meta` with tiny
parameters: each prints its figures beside a baseline measured in the same run, the --json has the
fields a script reads, the baseline is positive, and nothing is left behind (in fs3 or on the disk).
No test gates on a time or a ratio: this machine's speed is not the code's."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import uuid

import pytest
from _fuse import need_fuse
from _timing import wait_for

from fs3.bench import fuse_available


def fs3(cluster, *args, timeout=300):
    return subprocess.run([sys.executable, "-m", "fs3", "--cluster", str(cluster.data_dir), *args],
                          capture_output=True, text=True, timeout=timeout)


def test_bench_smallfiles_json_has_every_side_beside_the_local_disk(cluster, client, tmp_path):
    where = f"/bsf-{uuid.uuid4().hex[:8]}"
    base = tmp_path / "base"
    base.mkdir()
    proc = fs3(cluster, "bench", "smallfiles", "--files", "30", "--jobs", "4", "--dir", where,
               "--baseline-dir", str(base), "--json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert (out["files"], out["file_size"], out["jobs"]) == (30, 16384, 4)
    assert out["local"]["write_files_per_s"] > 0 and out["local"]["read_files_per_s"] > 0
    sides = {s["name"]: s for s in out["sides"]}
    assert set(sides) == {"client", "cp"} | ({"mount"} if fuse_available() else set())
    for s in sides.values():
        assert s["write_files_per_s"] > 0 and s["read_files_per_s"] > 0
        assert s["write_ratio"] == pytest.approx(s["write_files_per_s"] / out["local"]["write_files_per_s"])
        assert s["target"] == {"client": 0.25, "cp": 0.25, "mount": 0.1}[s["name"]]
        assert s["meets_target"] == (s["write_ratio"] >= s["target"])
    assert client.ls(where) == [] and list(base.iterdir()) == []


def test_bench_smallfiles_prints_each_side_with_its_target(cluster, client):
    where = f"/bsf-{uuid.uuid4().hex[:8]}"
    proc = fs3(cluster, "bench", "smallfiles", "--files", "10", "--no-cp", "--no-mount", "--dir", where)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == "small files: 10 files of 16.0K, 8 in flight"
    assert lines[1].split()[:3] == ["local", "disk", "write"] and "files/s" in lines[1]
    assert lines[2].split()[:3] == ["fs3", "client", "write"] and "(target >= 0.25x)" in lines[2]
    assert ("ok" in lines[2].split()) != ("MISSED" in lines[2].split())
    assert client.ls(where) == []


def test_bench_mount_json_has_reads_and_metadata_beside_the_local_disk(cluster, client):
    need_fuse()
    where = f"/bm-{uuid.uuid4().hex[:8]}"
    proc = fs3(cluster, "bench", "mount", "--file-size", "4M", "--duration", "0.4", "--files", "20", "--depth",
               "4", "--dir", where, "--json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert (out["file_size"], out["depth"], out["files"]) == (4 << 20, 4, 20)
    rows = {r["name"]: r for r in out["rows"]}
    assert list(rows) == ["random read 4 KiB x4", "random read 1 MiB x4", "create (20 files, one directory)",
                          "stat (20 files, one directory)", "unlink (20 files, one directory)"]
    for r, target in zip(rows.values(), (0.3, 0.7, 0.1, 0.3, 0.1), strict=True):
        assert r["local"] > 0 and r["fs3"] > 0 and r["target"] == target
        assert r["ratio"] == pytest.approx(r["fs3"] / r["local"])
    assert client.ls(where) == []


def test_bench_calls_json_has_both_workloads_beside_local_o_direct(cluster, client):
    where = f"/bc-{uuid.uuid4().hex[:8]}"
    proc = fs3(cluster, "bench", "calls", "--file-size", "1M", "--duration", "0.4", "--depth", "4", "--dir", where,
               "--json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    res = {r["name"]: r for r in out["results"]}
    assert list(res) == ["client.read 4 KiB x4", "read_batch 4 KiB x4 (batch 4)"]  # all in one call by default
    for r, target in zip(res.values(), (0.4, 0.7), strict=True):
        assert r["metric"] == "iops" and r["target"] == target
        assert r["baseline"]["iops"] > 0 and r["fs3"]["iops"] > 0 and r["fs3"]["ops"] > 0
    assert client.ls(where) == []


def test_bench_meta_json_has_the_raw_backend_beside_fs3(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "fs3", "bench", "meta", "--backend", "sqlite", "--clients", "2",
                           "--files", "40", "--big-dir", "20", "--json"], capture_output=True, text=True,
                          timeout=110, env={**__import__("os").environ, "TMPDIR": str(tmp_path)})
    assert proc.returncode == 0, proc.stderr
    (r,) = json.loads(proc.stdout)
    assert r["backend"] == "sqlite" and r["raw_txn_per_s"] > 0 and r["raw_read_per_s"] > 0
    for key in ("create_per_s", "stat_per_s", "remove_per_s", "readdir_entries_per_s"):
        assert r[key] > 0
    assert r["big_dir_entries"] == 20 and set(r["ratios"]) == {"create_vs_raw_txn", "stat_vs_raw_txn",
                                                                "remove_vs_raw_txn"}
    assert list(tmp_path.iterdir()) == []


def test_bench_meta_prints_each_backend_as_soon_as_it_is_measured(tmp_path):
    from conftest import require_etcd

    require_etcd()
    proc = subprocess.Popen([sys.executable, "-m", "fs3", "bench", "meta", "--backend", "all", "--clients", "2",
                             "--files", "40", "--big-dir", "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env={**__import__("os").environ, "TMPDIR": str(tmp_path),
                                            "PYTHONUNBUFFERED": "1"})
    out: list[str] = []
    reader = threading.Thread(target=lambda: out.extend(iter(proc.stdout.readline, "")), daemon=True)
    reader.start()
    try:
        err = ""
        while "etcd: starting a cluster" not in err:  # the second backend begins...
            line = proc.stderr.readline()
            assert line, f"ended before etcd started: {err}"
            err += line
        # ...with the first one's figures already out
        wait_for(lambda: any(line.startswith("sqlite (2 clients, 40 files):") for line in out), 30,
                 "sqlite's figures before etcd's run")
        rest = proc.stderr.read()  # (stdout is the reader thread's alone)
        proc.wait(timeout=110)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    reader.join(10)
    assert proc.returncode == 0, err + rest
    assert any(line.startswith("etcd (2 clients, 40 files):") for line in out)
