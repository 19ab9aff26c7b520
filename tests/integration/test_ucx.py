"""The UCX transport (fs3/_ucx.py) between hosts, beside the framed TCP path: the same bytes both ways,
the same errors, and failover when a node dies. Storage nodes on hosts of their own (network namespaces)
listen with UCX; the client runs on a client host (the data plane uses UCX only off the node's host).
Needs root (hosts) and the ucxx bindings (`pip install 'fs3[ucx]'`; .ci/run installs them)."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys

import pytest
from _timing import wait_for
from conftest import corrupt_chunk

import fs3
from fs3.local import LocalCluster, LocalClusterConfig
from fs3.proto import cluster_pb2

pytestmark = pytest.mark.multihost

KiB = 1024

if not (os.geteuid() == 0 and all(shutil.which(t) for t in ("ip", "tc", "iptables"))):
    if os.environ.get("FS3_REQUIRE_HOSTS"):
        raise RuntimeError("FS3_REQUIRE_HOSTS is set, but hosts cannot be made here (root, ip, tc, iptables)")
    pytest.skip("hosts need root, iproute2 and iptables", allow_module_level=True)
if importlib.util.find_spec("ucxx") is None:
    if os.environ.get("FS3_REQUIRE_UCX"):
        raise RuntimeError("FS3_REQUIRE_UCX is set, but the ucxx bindings are not installed")
    pytest.skip("the ucxx bindings are not installed (pip install 'fs3[ucx]')", allow_module_level=True)

# Runs on the client host: each step's outcome as JSON on the last line.
_CLIENT = r"""
import errno, hashlib, json, os, random, sys
import fs3
step, ucx = sys.argv[1], sys.argv[2] == "1"
out = {}
with fs3.connect(ucx=ucx) as c:
    if step == "write":
        sizes = [0, 1, 4095, 64 * 1024 + 7, 1024 * 1024 + 3, 5 * 1024 * 1024 + 11]
        for i, n in enumerate(sizes):
            data = random.Random(i + (100 if ucx else 0)).randbytes(n)
            c.write(f"/u/{'ucx' if ucx else 'tcp'}-{i}", data)
        out["written"] = len(sizes)
    elif step == "read":
        digests = {}
        for name in sorted(c.ls("/u")):
            digests[name] = hashlib.sha256(c.read(f"/u/{name}")).hexdigest()
        with c.open("/u/ucx-5", "rb", buffering=0) as f:  # random reads of parts of a chunk
            r = random.Random(7)
            whole = c.read("/u/ucx-5")
            out["preads_ok"] = all(f.pread(n, off) == whole[off:off + n]
                                   for off, n in ((r.randrange(len(whole)), r.randrange(1, 300000)) for _ in range(50)))
        out["digests"] = digests
    elif step == "error":
        try:
            c.read(sys.argv[3])
            out["errno"] = 0
        except OSError as exc:
            out["errno"], out["error"] = exc.errno, str(exc)
    elif step == "loop":
        data = c.read("/u/tcp-5")
        want = hashlib.sha256(data).hexdigest()
        open(sys.argv[3], "w").close()  # reading: the test may kill a node now
        ok = bad = 0
        while not os.path.exists(sys.argv[4]):
            if hashlib.sha256(c.read("/u/tcp-5")).hexdigest() == want:
                ok += 1
            else:
                bad += 1
        out.update(ok=ok, bad=bad)
    out["status"] = [{"transport": s.transport, "channel": s.channel, "lanes": s.lanes, "reasons": s.reasons}
                     for s in c.data_plane_status(probe=False)]
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def ucx_cluster(tmp_path_factory):
    cluster = LocalCluster.start(LocalClusterConfig(
        data_dir=tmp_path_factory.mktemp("ucx") / "cluster", storage_nodes=3, replicas=2, hosts=3, client_hosts=1,
        chunk_size=256 * KiB, gc_delay=0.0, extra_env={"FS3_STORAGE_UCX": "1"}), timeout=120)
    try:
        with fs3.connect(cluster.meta[0], token=_token(cluster)) as c:
            c.mkdir("/u")
        yield cluster
    finally:
        cluster.stop()


def _token(cluster) -> str:
    return (cluster.data_dir / "admin.token").read_text().strip()


def _client(cluster, *args: str, wait: bool = True):
    host = next(h.name for h in cluster.hosts.hosts if h.role == "client")
    env = dict(os.environ, FS3_CLUSTER=str(cluster.data_dir), FS3_TOKEN=_token(cluster))
    argv = cluster.hosts.command(host, [sys.executable, "-c", _CLIENT, *args])
    if not wait:
        return subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_every_node_listens_with_ucx(ucx_cluster):
    with fs3.connect(ucx_cluster.meta[0], token=_token(ucx_cluster)) as c:
        nodes = c.routing_info().nodes
    assert len(nodes) == 3 and all(n.ucx_address.rpartition(":")[0] == n.data_address.rpartition(":")[0]
                                   for n in nodes), nodes


def test_bytes_written_over_either_path_read_the_same_over_both(ucx_cluster):
    for ucx in ("1", "0"):
        out = _client(ucx_cluster, "write", ucx)
        want = "ucx" if ucx == "1" else "tcp"
        assert out["status"] and all(s["transport"] == want and s["channel"] == want for s in out["status"]), out
    over_ucx, over_tcp = _client(ucx_cluster, "read", "1"), _client(ucx_cluster, "read", "0")
    assert len(over_ucx["digests"]) == 12 and over_ucx["digests"] == over_tcp["digests"]
    assert over_ucx["preads_ok"] and over_tcp["preads_ok"]
    # what UCX chose is shown (here TCP on the host's link: no RDMA device), and why TCP was not used
    assert all(s["lanes"] for s in over_ucx["status"]), over_ucx["status"]
    assert all("disabled by this client" in s["reasons"]["ucx"] for s in over_tcp["status"]), over_tcp["status"]


def test_a_chunk_damaged_everywhere_fails_alike_over_both_paths(ucx_cluster):
    data = os.urandom(300 * KiB)
    with fs3.connect(ucx_cluster.meta[0], token=_token(ucx_cluster)) as c:
        c.write("/u-damaged", data)
        inode = c.stat("/u-damaged").inode
    corrupt_chunk(ucx_cluster.data_dir, inode, 0, everywhere=True)
    over_ucx = _client(ucx_cluster, "error", "1", "/u-damaged")
    over_tcp = _client(ucx_cluster, "error", "0", "/u-damaged")
    assert over_ucx["errno"] == over_tcp["errno"] != 0, (over_ucx, over_tcp)


def test_reads_over_ucx_fail_over_when_a_node_is_killed(ucx_cluster, tmp_path):
    if _client(ucx_cluster, "read", "0")["digests"].get("tcp-5") is None:
        _client(ucx_cluster, "write", "0")
    started, stop = tmp_path / "started", tmp_path / "stop"
    reader = _client(ucx_cluster, "loop", "1", str(started), str(stop), wait=False)
    try:
        wait_for(started.exists, what="the reader under way")
        ucx_cluster.kill("storage-1", signal.SIGKILL)
        with fs3.connect(ucx_cluster.meta[0], token=_token(ucx_cluster)) as c:
            # the reader goes on while meta notices (its reads pass the dead node over at once)
            wait_for(lambda: any(n.state == cluster_pb2.NODE_DOWN for n in c.routing_info().nodes),
                     what="meta to see the node down")
        stop.touch()
        out, err = reader.communicate(timeout=300)
    finally:
        if reader.poll() is None:
            reader.kill()
    assert reader.returncode == 0, err[-3000:]
    result = json.loads(out.strip().splitlines()[-1])
    assert result["ok"] > 0 and result["bad"] == 0, result
    assert any(s["transport"] == "ucx" for s in result["status"]), result


def test_bench_transport_compares_ucx_with_framed_tcp_in_one_run(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "fs3", "bench", "transport", "--storage-hosts", "1", "--blocks", "64K",
                           "--file-size", "8M", "--duration", "0.5", "--depth", "4", "--json"],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout)
    (row,) = report["rows"]
    assert row["block"] == 64 * KiB and row["tcp_mb_s"] > 0 and row["ucx_mb_s"] > 0
    assert report["ratios"]["65536"] == pytest.approx(row["ucx_mb_s"] / row["tcp_mb_s"])
    assert report["lanes"]  # what UCX chose is named
    bad = subprocess.run([sys.executable, "-m", "fs3", "bench", "transport", "--blocks", "1K"],
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 1 and "at least 4K" in bad.stderr and "Traceback" not in bad.stderr
