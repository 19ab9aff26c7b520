"""Several stateless meta servers over a real 3-member etcd cluster: killing one meta server, then one
etcd member, in the middle of `fs3 cp -r` loses nothing, and the copy completes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
from _timing import wait_for

import fs3
from fs3.local import LocalCluster, LocalClusterConfig

KiB = 1 << 10


@pytest.fixture
def ha_cluster(tmp_path, need_etcd):
    cluster = LocalCluster.start(LocalClusterConfig(
        data_dir=tmp_path / "cluster", storage_nodes=2, meta_servers=2, etcd_members=3, replicas=2,
        chunk_size=64 * KiB, stripe=2, heartbeat_timeout=6.0,
    ), timeout=120)
    yield cluster
    cluster.stop()


def make_tree(root, files: int) -> dict[str, bytes]:
    rng = __import__("random").Random(7)
    out = {}
    for i in range(files):
        rel = f"d{i % 7}/sub{i % 3}/f{i:04d}.bin"
        data = rng.randbytes(rng.randrange(0, 40 * KiB))
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        out[rel] = data
    return out


def wait_for_files(client, path: str, at_least: int, timeout: float = 60) -> None:
    def arrived() -> bool:
        try:
            return sum(len(files) for _d, _s, files in client.walk(path)) >= at_least
        except FileNotFoundError:
            return False

    # polled often: the fault must land while the copy still runs
    wait_for(arrived, timeout=timeout, what=f"{at_least} files in {path}", max_interval=0.05)


# The copy of 800 files through two faults took 111 s of the default 120 on a loaded 2-core CI machine,
# leaving the check of every file no time: the budget covers the copy, the faults and the check.
@pytest.mark.timeout(360)
def test_killing_a_meta_server_and_an_etcd_member_mid_copy_loses_nothing(ha_cluster, tmp_path):
    tree = make_tree(tmp_path / "src", 800)
    env = dict(os.environ, FS3_CLUSTER=str(ha_cluster.data_dir))
    copy = subprocess.Popen([sys.executable, "-m", "fs3", "cp", "-r", str(tmp_path / "src"), "fs3:///copy"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    t0 = time.monotonic()
    with fs3.connect(str(ha_cluster.data_dir)) as client:
        wait_for_files(client, "/copy", 50)
        t1 = time.monotonic()
        ha_cluster.kill("meta-1", signal.SIGKILL)
        assert copy.poll() is None, "the copy finished before the fault: nothing was tested"
        wait_for_files(client, "/copy", 250)
        ha_cluster.kill("fs3-etcd-2", signal.SIGKILL)
        assert copy.poll() is None, "the copy finished before the fault: nothing was tested"
        t2 = time.monotonic()
        out, err = copy.communicate(timeout=300)
        print(f"\ncopy: 50 files in {t1 - t0:.1f}s, 250 in {t2 - t0:.1f}s, all in {time.monotonic() - t0:.1f}s")
        assert copy.returncode == 0, err.decode()
        got = {}
        for directory, _subdirs, files in client.walk("/copy"):
            for name in files:
                path = f"{directory}/{name}"
                got[path[len("/copy/"):]] = client.read(path)
        assert got.keys() == tree.keys()
        for rel, data in tree.items():
            assert got[rel] == data, rel
        # The namespace is still writable with one meta server and two etcd members left.
        client.mkdir("/after")
        client.write("/after/x", b"still here")
        assert client.read("/after/x") == b"still here"
