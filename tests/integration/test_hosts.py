"""A local cluster on hosts (`fs3 up --hosts N`, fs3/local/_hosts.py): storage nodes in network namespaces
on a bridge, clients in the machine's own namespace or on a host of their own. Data between hosts
crosses TCP; a host's firewall cuts it off; nothing is left behind by `fs3 down` or by a crash."""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import sys
import threading

import pytest
from _timing import wait_for

import fs3
from fs3.local import LocalCluster, LocalClusterConfig
from fs3.local._hosts import REGISTRY, sweep_stale

pytestmark = pytest.mark.multihost

KiB = 1024


def _can_make_hosts() -> bool:
    return os.geteuid() == 0 and all(shutil.which(t) for t in ("ip", "tc", "iptables"))


if not _can_make_hosts():
    if os.environ.get("FS3_REQUIRE_HOSTS"):
        raise RuntimeError("FS3_REQUIRE_HOSTS is set, but hosts cannot be made here (root, ip, tc, iptables)")
    pytest.skip("hosts need root, iproute2 and iptables", allow_module_level=True)


def _namespaces() -> set[str]:
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    return {line.split()[0] for line in out.splitlines() if line.strip()}


def _links(prefix: str) -> set[str]:
    out = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True).stdout
    return {line.split(":")[1].strip().split("@")[0] for line in out.splitlines() if prefix in line}


@pytest.fixture
def hosts_cluster(tmp_path):
    cluster = LocalCluster.start(LocalClusterConfig(data_dir=tmp_path / "cluster", chunk_size=64 * KiB,
                                                    hosts=3, client_hosts=1, gc_delay=0.0), timeout=120)
    try:
        yield cluster
    finally:
        cluster.stop()


def _fs3(cluster, *args: str, host: str | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ, FS3_CLUSTER=str(cluster.data_dir))
    argv = [sys.executable, "-m", "fs3", *args]
    if host is not None:
        argv = [sys.executable, "-m", "fs3", "host", "exec", "--data-dir", str(cluster.data_dir), host, "--", "fs3",
                *args]
    return subprocess.run(argv, env=env, capture_output=True, timeout=120)


def test_storage_nodes_on_hosts_of_their_own_are_reached_over_tcp(hosts_cluster):
    hosts = hosts_cluster.hosts
    assert [p.host for p in hosts_cluster.processes if p.role == "storage"] == ["h1", "h2", "h3"]
    assert {h.netns for h in hosts.hosts} <= _namespaces()
    data = os.urandom(300 * KiB)
    with fs3.connect(hosts_cluster.meta[0], token=(hosts_cluster.data_dir / "admin.token").read_text().strip()) as c:
        c.write("/x", data)
        assert c.read("/x") == data
        status = c.data_plane_status()
        assert status and all(s.transport == "tcp" and s.channel == "tcp" for s in status), status
        assert all("not on the same host" in s.reasons.get("shm", "") for s in status), status
    # a client on a host of its own reads the same bytes
    proc = _fs3(hosts_cluster, "cat", "fs3:///x", host="h4")
    assert proc.returncode == 0, proc.stderr.decode()
    assert hashlib.sha256(proc.stdout).digest() == hashlib.sha256(data).digest()


def test_down_removes_the_hosts_and_a_crashed_clusters_hosts_are_swept(tmp_path):
    a = LocalCluster.start(LocalClusterConfig(data_dir=tmp_path / "a", storage_nodes=1, hosts=1, client_hosts=1),
                           timeout=120)
    made = {h.netns for h in a.hosts.hosts}
    bridge = a.hosts.bridge
    assert made <= _namespaces() and _links(bridge)
    a.stop()
    assert not made & _namespaces() and not _links(bridge) and not (REGISTRY / f"{bridge[4:]}.json").exists()

    b = LocalCluster.start(LocalClusterConfig(data_dir=tmp_path / "b", storage_nodes=1, hosts=1, client_hosts=0),
                           timeout=120)
    made = {h.netns for h in b.hosts.hosts}
    for p in b.processes:  # a crash: every process killed, nothing undone
        os.kill(p.pid, signal.SIGKILL)
    wait_for(lambda: not b.running(), timeout=30, what="the killed processes to go")
    assert made <= _namespaces()
    assert b.hosts.id in sweep_stale()  # (what the next `fs3 up --hosts` does first)
    assert not made & _namespaces() and not _links(b.hosts.bridge)


class Writer:
    """Writes numbered files in a loop, keeping those acknowledged (their content is their number)."""

    def __init__(self, client, prefix: str):
        self.client, self.prefix = client, prefix
        self.acked: list[int] = []
        self.errors: list[BaseException] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        i = 0
        while not self._stop.is_set():
            try:
                self.client.write(f"{self.prefix}/{i}", str(i).encode() * 2000)
                self.acked.append(i)
            except OSError as exc:
                self.errors.append(exc)
            i += 1

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(timeout=600)


def test_a_node_its_host_cut_off_is_failed_over_and_no_acknowledged_write_is_lost(hosts_cluster):
    token = (hosts_cluster.data_dir / "admin.token").read_text().strip()
    with fs3.connect(hosts_cluster.meta[0], token=token, retry_timeout=120) as c:
        c.mkdir("/w")
        with Writer(c, "/w") as w:
            wait_for(lambda: len(w.acked) >= 20, timeout=60, what="writes before the cut")
            hosts_cluster.hosts.cut("h1")  # storage-1 hears nobody and nobody hears it, meta included
            cut_at = len(w.acked)
            wait_for(lambda: len(w.acked) >= cut_at + 20, timeout=120, what="writes to go on without storage-1")
            hosts_cluster.hosts.heal("h1")
            healed_at = len(w.acked)
            wait_for(lambda: len(w.acked) >= healed_at + 20, timeout=120, what="writes after the heal")
        assert not w.errors, w.errors[:3]
        for i in w.acked:
            assert c.read(f"/w/{i}") == str(i).encode() * 2000, i
