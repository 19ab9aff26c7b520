"""The command line as a user runs it: `fs3 up --detach`, copy a real tree in and out, `fs3 down`."""

from __future__ import annotations

import filecmp
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from _cli import one_error_line
from _timing import wait_for

from fs3.proto import cluster_pb2

MiB = 1 << 20


def fs3(*args, check=True, env=None, input=None):
    proc = subprocess.run(
        [sys.executable, "-m", "fs3", *args], capture_output=True, env=env, input=input, timeout=120,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"fs3 {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr.decode()}")
    return proc


@pytest.fixture(scope="module")
def up(tmp_path_factory):
    data = tmp_path_factory.mktemp("cli-cluster")
    proc = fs3("up", "--detach", "--data-dir", str(data), "--gc-delay", "0", "--replicas", "1")
    assert b"fs3 cluster up" in proc.stdout
    info = json.loads((data / "cluster.json").read_text())
    yield data, info
    fs3("down", "--data-dir", str(data), check=False)


def make_tree(root: Path) -> Path:
    src = root / "src"
    (src / "nested" / "deeper").mkdir(parents=True)
    (src / "empty-dir").mkdir()
    (src / "empty.txt").write_bytes(b"")
    (src / "big.bin").write_bytes(os.urandom(3 * MiB + 12345))        # several 1 MiB chunks
    (src / "nested" / "exactly-one-chunk").write_bytes(os.urandom(MiB))
    (src / "nested" / "deeper" / "ünïcödé name.txt").write_text("héllo\n")
    shutil.copytree(Path(json.__file__).parent, src / "json-package")  # a real directory
    return src


def test_copy_a_real_tree_in_and_out(up, tmp_path):
    data, info = up
    src = make_tree(tmp_path)
    fs3("cp", "-r", str(src), "fs3:///x")
    listing = fs3("ls", "-l", "fs3:///x").stdout.decode()
    assert "big.bin" in listing and str(3 * MiB + 12345) in listing and "json-package/" in listing
    assert "empty-dir/" in listing and " 0 " in listing
    out = tmp_path / "out"
    fs3("cp", "-r", "fs3:///x", str(out))
    cmp = filecmp.dircmp(src, out)
    assert_same_tree(src, out)
    assert not cmp.left_only and not cmp.right_only
    # fs3 -> fs3, then cat a file out of the copy.
    fs3("cp", "-r", "fs3:///x", "fs3:///y")
    assert fs3("cat", "fs3:///y/nested/deeper/ünïcödé name.txt").stdout == "héllo\n".encode()
    assert fs3("cat", "fs3:///y/big.bin").stdout == (src / "big.bin").read_bytes()


def assert_same_tree(a: Path, b: Path) -> None:
    names_a = sorted(p.relative_to(a) for p in a.rglob("*"))
    names_b = sorted(p.relative_to(b) for p in b.rglob("*"))
    assert names_a == names_b
    for rel in names_a:
        if (a / rel).is_file():
            assert (a / rel).read_bytes() == (b / rel).read_bytes(), rel


def test_namespace_commands(up, tmp_path):
    fs3("mkdir", "-p", "fs3:///n/a/b")
    (tmp_path / "f").write_bytes(b"12345")
    fs3("cp", str(tmp_path / "f"), "fs3:///n/a/")
    st = json.loads(fs3("stat", "--json", "fs3:///n/a/f").stdout)
    assert st["size"] == 5 and st["type"] == "file"
    fs3("mv", "fs3:///n/a/f", "fs3:///n/a/b")  # into a directory
    assert fs3("ls", "fs3:///n/a/b").stdout.decode().split() == ["f"]
    fs3("mv", "fs3:///n/a/b/f", "fs3:///n/g")
    listing = json.loads(fs3("ls", "--json", "fs3:///n").stdout)
    assert sorted(e["name"] for e in listing) == ["a", "g"]
    fs3("rm", "fs3:///n/g")
    fs3("rm", "-r", "fs3:///n")
    one_error_line(fs3("ls", "fs3:///n", check=False), "No such file or directory")
    # Plain absolute paths work for namespace commands too.
    fs3("mkdir", "/plain")
    assert "plain/" in fs3("ls", "/").stdout.decode()


def test_user_mistakes_get_one_clear_line(up, tmp_path):
    fs3("mkdir", "-p", "fs3:///e/dir")
    (tmp_path / "f").write_bytes(b"x")
    fs3("cp", str(tmp_path / "f"), "fs3:///e/file")
    fs3("cp", str(tmp_path / "f"), "fs3:///e/dir/inner")
    one_error_line(fs3("ls", "fs3:///e/missing", check=False), "No such file or directory")
    one_error_line(fs3("cat", "fs3:///e/missing", check=False), "No such file or directory")
    one_error_line(fs3("cat", "fs3:///e/dir", check=False), "Is a directory")
    one_error_line(fs3("ls", "fs3:///e/file/x", check=False), "Not a directory")
    one_error_line(fs3("mkdir", "fs3:///e/file/x", check=False), "Not a directory")
    one_error_line(fs3("mkdir", "fs3:///e/dir", check=False), "File exists")
    one_error_line(fs3("mkdir", "fs3:///e/..", check=False), "File exists")  # as mkdir(2) says of it
    one_error_line(fs3("mkdir", "fs3:///e/" + "n" * 256, check=False), "File name too long")
    one_error_line(fs3("mkdir", "fs3:///e/" + "n" * 256, check=False), "too long")
    one_error_line(fs3("rm", "fs3:///e/dir", check=False), "Is a directory")
    one_error_line(fs3("cp", "fs3:///e", str(tmp_path / "o"), check=False), "use -r")
    one_error_line(fs3("cp", str(tmp_path / "nope"), "fs3:///e/", check=False), "No such file or directory")
    one_error_line(fs3("mv", "fs3:///e/nope", "fs3:///e/x", check=False), "No such file or directory")
    one_error_line(fs3("stat", "relative/path", check=False), "Invalid path")
    one_error_line(fs3("ls", "fs3://nohostport/x", check=False), "HOST:PORT")
    one_error_line(fs3("--cluster", "127.0.0.1:1", "ls", check=False), "cannot reach")
    assert fs3("ls", "fs3:///e/dir").stdout.decode().split() == ["inner"]  # nothing changed


def test_bench_write_compares_with_its_baseline_and_cleans_up(up, tmp_path):
    proc = fs3("bench", "write", "--block-size", "1M", "--size", "8M", "--dir", "/bw", "--json",
               "--baseline-dir", str(tmp_path / "base"))
    out = json.loads(proc.stdout)
    (result,) = out["results"]
    assert result["fs3"]["bytes"] == result["baseline"]["bytes"] == 8 * MiB
    assert result["fs3"]["ops"] == 8 and result["params"]["rounds"] == 4
    assert result["ratio"] > 0 and result["metric"] == "throughput"
    assert out["replicas"] == 1 and out["transports"]
    assert fs3("ls", "/bw").stdout.decode().split() == []  # every round's file removed
    assert list((tmp_path / "base").iterdir()) == []


def test_corrupted_chunk_is_reported_by_cat(up, tmp_path, corrupt):
    data, _ = up
    (tmp_path / "f").write_bytes(os.urandom(2 * MiB))
    fs3("cp", str(tmp_path / "f"), "fs3:///victim")
    inode = json.loads(fs3("stat", "--json", "fs3:///victim").stdout)["inode"]
    corrupt(data, inode, 1, offset=77)
    proc = fs3("cat", "fs3:///victim", check=False)
    one_error_line(proc, "Input/output error", "checksum")
    assert len(proc.stdout) <= MiB  # the damaged chunk's bytes never reach stdout


def test_cluster_history_shows_what_the_manager_decided(up):
    """`fs3 cluster offline/online` as an operator runs them, and the state changes they caused as
    `fs3 cluster history` and `fs3 cluster targets --json` show them."""
    import fs3 as lib

    data, _ = up
    targets = json.loads(fs3("cluster", "targets", "--json").stdout)
    assert all(t["history"][0] == {"public_state": "serving", "local_state": None, "chain_version": 0,
                                   "time_ns": t["history"][0]["time_ns"]} for t in targets)  # registered new
    one = targets[0]
    with lib.connect(str(data)) as client:
        def state():
            return next(t for t in client.routing_info().targets if t.id == one["id"]).public_state

        fs3("cluster", "offline", str(one["id"]))
        wait_for(lambda: state() != cluster_pb2.SERVING, what="the target to leave service")
        fs3("cluster", "online", str(one["id"]))
        wait_for(lambda: state() == cluster_pb2.SERVING, what="the target to serve again")
    rows = json.loads(fs3("cluster", "history", "--json", str(one["id"])).stdout)
    assert {r["target"] for r in rows} == {one["id"]} and {r["chain"] for r in rows} == {one["chain"]}
    # replicas 1: the only member goes lastsrv (it alone holds the chain's data) and serves once back
    # (its node says online or up-to-date, depending on whether it saw the lastsrv state in between)
    assert [(r["public_state"], r["local_state"]) for r in rows[:2]] == [("serving", None), ("lastsrv", "offline")]
    assert rows[2]["public_state"] == "serving" and rows[2]["local_state"] in ("online", "up-to-date")
    assert len(rows) == 3
    assert [r["time_ns"] for r in rows] == sorted(r["time_ns"] for r in rows)
    assert rows[1]["chain_version"] + 1 == rows[2]["chain_version"]
    text = fs3("cluster", "history", "--chain", str(one["chain"])).stdout.decode().splitlines()
    assert text[0].split() == ["TIME", "TARGET", "CHAIN", "PUBLIC", "LOCAL", "CHAIN", "VERSION"]
    assert [line.split()[4] for line in text[1:]] == ["serving", "lastsrv", "serving"]
    one_error_line(fs3("cluster", "history", "99999", check=False), "No such target: 99999")
    one_error_line(fs3("cluster", "history", "--chain", "99999", check=False), "No such chain: 99999")


def test_status_and_down_stop_every_process(tmp_path):
    data = tmp_path / "c"
    fs3("up", "-d", "--data-dir", str(data), "--nodes", "2")
    env = dict(os.environ, FS3_CLUSTER=str(data))
    status = json.loads(fs3("status", "--json", env=env).stdout)
    assert [n["state"] for n in status["nodes"]] == ["up", "up"]
    assert len({n["address"].split(":")[0] for n in status["nodes"]}) == 2  # distinct 127.0.0.x
    assert all(t["public_state"] == "serving" and t["chain"] for t in status["targets"])
    assert [t["transport"] for t in status["data_plane"]] == ["shm", "shm"]  # same host: shared memory
    assert all("rdma" in t["not_chosen"] for t in status["data_plane"])
    assert status["meta_calls"]["namespace_calls"] == "framed" and status["meta_calls"]["listener"]
    human = fs3("status", env=env).stdout.decode()
    assert "DATA PLANE" in human and "shm" in human and "rdma:" in human
    assert f"namespace calls to meta {status['meta_calls']['meta']}: framed" in human
    pids = [p["pid"] for p in json.loads((data / "cluster.json").read_text())["processes"]]
    assert len(pids) == 3
    one_error_line(fs3("up", "-d", "--data-dir", str(data), check=False), "already running")
    # $FS3_DATA_DIR names the cluster for `down` as it did for `up`, whichever `fs3 up` came last
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / "last-cluster").write_text(str(tmp_path / "another"))
    fs3("down", env=dict(os.environ, FS3_DATA_DIR=str(data), FS3_STATE_DIR=str(tmp_path / "state")))
    for pid in pids:
        assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text().split()[2]
    one_error_line(fs3("--cluster", str(data), "ls", check=False), "cannot reach")
