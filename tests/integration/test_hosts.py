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
from fs3.local import HOSTS_REGISTRY as REGISTRY
from fs3.local import LocalCluster, LocalClusterConfig, sweep_stale
from fs3.proto.cluster_pb2 import NODE_UP, SERVING, SYNCING

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


@pytest.mark.parametrize("fault", ["cut", "kill", "stop"])
def test_a_node_lost_to_a_fault_is_failed_over_and_no_acknowledged_write_is_lost(hosts_cluster, fault):
    """While a writer runs: storage-1's host cut off by its own firewall (meta included), storage-1 killed
    with SIGKILL, or stopped with SIGSTOP; the writes go on without it, and again once it is back."""
    token = (hosts_cluster.data_dir / "admin.token").read_text().strip()
    node = hosts_cluster.process("storage-1")
    with fs3.connect(hosts_cluster.meta[0], token=token, retry_timeout=120) as c:
        c.mkdir("/w")
        with Writer(c, "/w") as w:
            wait_for(lambda: len(w.acked) >= 20, timeout=60, what="writes before the fault")
            if fault == "cut":
                hosts_cluster.hosts.cut(node.host)
            else:
                os.kill(node.pid, signal.SIGKILL if fault == "kill" else signal.SIGSTOP)
            at = len(w.acked)
            wait_for(lambda: len(w.acked) >= at + 20, timeout=120, what=f"writes to go on after the {fault}")
            if fault == "cut":
                hosts_cluster.hosts.heal(node.host)
            elif fault == "kill":
                hosts_cluster.restart("storage-1")
            else:
                os.kill(node.pid, signal.SIGCONT)
            at = len(w.acked)
            wait_for(lambda: len(w.acked) >= at + 20, timeout=120, what="writes after it is back")
        assert not w.errors, w.errors[:3]
        for i in w.acked:
            assert c.read(f"/w/{i}") == str(i).encode() * 2000, i


CLIENT = r"""
import json, sys, time
import fs3
out, prefix, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
with fs3.connect(retry_timeout=float(sys.argv[4]), unreachable_timeout=float(sys.argv[5])) as c:
    c.mkdir(prefix, parents=True)
    with open(out, "a") as log:
        for i in range(count):
            try:
                c.write(f"{prefix}/{i}", str(i).encode() * 3000)
                log.write(json.dumps({"acked": i}) + "\n")
            except OSError as exc:
                log.write(json.dumps({"failed": i, "error": str(exc)}) + "\n")
                log.flush()
                break
            log.flush()
        for name in sorted(c.ls(prefix), key=int)[:50]:  # reads of every replica set, the cut one too
            assert c.read(f"{prefix}/{name}") == name.encode() * 3000
        log.write(json.dumps({"read": True}) + "\n")
"""


def _client_on(cluster, host: str, out, prefix: str, count: int, retry: float, unreachable: float):
    return subprocess.Popen(
        [sys.executable, "-m", "fs3", "host", "exec", "--data-dir", str(cluster.data_dir), host, "--",
         sys.executable, "-c", CLIENT, str(out), prefix, str(count), str(retry), str(unreachable)],
        env=dict(os.environ, FS3_CLUSTER=str(cluster.data_dir)), stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _events(out) -> list[dict]:
    import json

    return [json.loads(line) for line in out.read_text().splitlines()] if out.exists() else []


@pytest.fixture
def agreeing_cluster(tmp_path):
    """Hosts, and a meta that acts on one client's report (quorum 1)."""
    cluster = LocalCluster.start(LocalClusterConfig(data_dir=tmp_path / "cluster", chunk_size=64 * KiB, hosts=3,
                                                    client_hosts=1, unreachable_quorum=1), timeout=120)
    try:
        yield cluster
    finally:
        cluster.stop()


def _routing(cluster):
    token = (cluster.data_dir / "admin.token").read_text().strip()
    with fs3.connect(cluster.meta[0], token=token) as c:
        return c.routing_info()


def _head_host(cluster) -> str:
    """The host of the first chain's head (nodes register in any order: node ids are not host numbers)."""
    r = _routing(cluster)
    head = next(t for t in r.targets if t.id == r.chains[0].targets[0])
    address = next(n.data_address for n in r.nodes if n.id == head.node_id).rpartition(":")[0]
    return next(h.name for h in cluster.hosts.hosts if h.address == address)


def test_a_one_way_partition_is_failed_over_on_the_clients_report(agreeing_cluster, tmp_path):
    """h4's client cannot reach the chain head's node (its host drops what h4 sends), while meta still
    hears from it: the client reports it, meta takes its targets out of their chains, the writes go on,
    and every acknowledged one reads back."""
    out = tmp_path / "events"
    proc = _client_on(agreeing_cluster, "h4", out, "/oneway", 10_000, 600, 600)
    try:
        wait_for(lambda: len(_events(out)) >= 20, timeout=120, what="writes before the cut")
        head = _head_host(agreeing_cluster)
        agreeing_cluster.hosts.cut(head, "h4", inbound_only=True)
        cut_at = len(_events(out))
        address = agreeing_cluster.hosts.host(head).address

        def failed_over() -> bool:
            r = _routing(agreeing_cluster)
            ids = {n.id for n in r.nodes if n.data_address.rpartition(":")[0] == address}
            up = ids and all(n.state == NODE_UP for n in r.nodes if n.id in ids)  # (still heartbeating)
            out_of_chains = all(t.public_state not in (SERVING, SYNCING) for t in r.targets if t.node_id in ids)
            return up and out_of_chains
        wait_for(failed_over, timeout=120, what="meta to take the head's targets out while it still heartbeats")
        wait_for(lambda: len(_events(out)) >= cut_at + 30, timeout=120, what="writes to go on after the cut")
    finally:
        proc.terminate()
        proc.wait(timeout=60)
    events = _events(out)
    assert not [e for e in events if "failed" in e], events[-3:]
    token = (agreeing_cluster.data_dir / "admin.token").read_text().strip()
    with fs3.connect(agreeing_cluster.meta[0], token=token) as c:
        for e in events:
            if "acked" in e:
                assert c.read(f"/oneway/{e['acked']}") == str(e["acked"]).encode() * 3000


def test_without_agreement_a_write_to_a_cut_off_head_fails_naming_the_partition(hosts_cluster, tmp_path):
    """Meta's default asks two clients to agree: one cut-off client's writes to the head's chain fail after
    its unreachable_timeout with an error that names the partition, not after the outage deadline."""
    out = tmp_path / "events"
    hosts_cluster.hosts.cut(_head_host(hosts_cluster), "h4", inbound_only=True)
    proc = _client_on(hosts_cluster, "h4", out, "/alone", 200, 600, 3)
    try:
        wait_for(lambda: any("failed" in e for e in _events(out)), timeout=300,
                 what="a write to storage-1's chain to fail")
    finally:
        proc.terminate()
        proc.wait(timeout=60)
    failed = next(e for e in _events(out) if "failed" in e)
    assert "one-way partition" in failed["error"] and "could not be reached from this client" in failed["error"]


def test_bench_scale_measures_each_count_beside_linear_from_the_first(tmp_path):
    import json

    plot = tmp_path / "scale.svg"
    proc = subprocess.run([sys.executable, "-m", "fs3", "bench", "scale", "--nodes", "1,2", "--duration", "1",
                           "--file-size", "4M", "--plot", str(plot), "--json"], capture_output=True, timeout=600)
    assert proc.returncode == 0, proc.stderr.decode()[-3000:]
    r = json.loads(proc.stdout)
    one, two = r["points"]
    assert (one["nodes"], two["nodes"]) == (1, 2) and one["mb_per_s"] > 0 and two["mb_per_s"] > 0
    assert two["efficiency"] == pytest.approx(two["mb_per_s"] / (2 * one["mb_per_s"]))
    assert r["worst_efficiency"] == pytest.approx(two["efficiency"])
    assert plot.read_text().startswith("<svg") and "storage hosts" in plot.read_text()
    assert not {n for n in _namespaces() if n.startswith("fs3-")} - _before_bench  # every host removed


_before_bench = _namespaces()


@pytest.mark.parametrize("args", [["--nodes", "a,b"], ["--nodes", "0"], ["--nic", "fast"], ["--block", "1"]])
def test_bench_scale_refuses_bad_input_in_one_line(args):
    proc = subprocess.run([sys.executable, "-m", "fs3", "bench", "scale", *args], capture_output=True, timeout=120)
    assert proc.returncode != 0
    err = proc.stderr.decode().strip()
    assert "Traceback" not in err and len(err.splitlines()) == 1 and "Invalid argument" in err, err
