"""`fs3 node list|stop|start|restart` on a local cluster started with `fs3 up`, as a user runs them: a
stopped storage node leaves its chains and comes back syncing, a restarted one has a new pid that
`fs3 down` still knows (before, a node restarted by hand ran on after `fs3 down`), and mistakes get one
clear line."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from _timing import wait_for

import fs3
from fs3.proto import cluster_pb2


def run(*args, check=True):
    proc = subprocess.run([sys.executable, "-m", "fs3", *args], capture_output=True, text=True, timeout=180)
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.fixture
def local(tmp_path):
    data = tmp_path / "cluster"
    run("up", "-d", "--data-dir", str(data), "--nodes", "3", "--chunk-size", "65536")
    yield data
    run("down", "--data-dir", str(data), check=False)


def processes(data) -> dict:
    return {p["name"]: p for p in json.loads(run("node", "list", "--data-dir", str(data), "--json").stdout)}


def test_stop_start_restart_and_down_knows_every_process(local):
    before = processes(local)
    assert {n for n, p in before.items() if p["state"] == "running"} >= {"meta-1", "storage-1", "storage-2",
                                                                          "storage-3"}
    with fs3.connect(str(local)) as client:
        client.write("/f", b"x" * 200_000)
        out = run("node", "stop", "--data-dir", str(local), "2").stdout  # a storage node by its number
        assert "stopped storage-2" in out
        assert not alive(before["storage-2"]["pid"])
        assert processes(local)["storage-2"]["state"] == "stopped"
        node_address = before["storage-2"]["address"]
        wait_for(lambda: any(n.address == node_address and n.state == cluster_pb2.NODE_DOWN
                             for n in client.routing_info().nodes), timeout=60, what="meta to see the node down")
        assert client.read("/f") == b"x" * 200_000  # the other replicas serve
        run("node", "start", "--data-dir", str(local), "storage-2")
        wait_for(lambda: all(t.public_state == cluster_pb2.SERVING for t in client.routing_info().targets),
                 timeout=90, what="the restarted node to sync and serve")
    run("node", "restart", "--data-dir", str(local), "storage-3")
    after = processes(local)
    assert after["storage-3"]["pid"] != before["storage-3"]["pid"] and after["storage-3"]["state"] == "running"
    pids = [p["pid"] for p in after.values() if p["state"] == "running"]
    run("down", "--data-dir", str(local))
    wait_for(lambda: not [p for p in pids if alive(p)], timeout=30, what="every process, restarted ones too, "
             "to be stopped by fs3 down")


def test_mistakes_get_one_line(local, tmp_path):
    for args, words in [
        (("node", "stop", "storage-9"), "No such process"),
        (("node", "start", "meta-1"), "already running"),
        (("node", "stop", "--timeout", "-1", "storage-1"), "Invalid"),
    ]:
        proc = run(*args[:2], "--data-dir", str(local), *args[2:], check=False)
        assert proc.returncode != 0, args
        assert words in proc.stderr and "Traceback" not in proc.stderr, (args, proc.stderr)
        assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    proc = run("node", "list", "--data-dir", str(tmp_path / "nothing-here"), check=False)
    assert proc.returncode != 0 and "Traceback" not in proc.stderr and "fs3 up" in proc.stderr
    assert all(p["state"] == "running" for p in processes(local).values() if p["role"] != "etcd")
    assert os.path.exists(local / "cluster.json")
