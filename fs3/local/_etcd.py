"""A local etcd cluster for `fs3 up --etcd N` and the tests: N members on 127.0.0.x loopback
addresses, each with its data under DATA/etcd-<i>, started from Debian's ``etcd-server`` binary."""

from __future__ import annotations

import http.client
import json
import shutil

from fs3._errors import Unavailable

from ._ports import free_port

ETCD_HOST_BASE = 101  # member i listens on 127.0.0.(100 + i)


def etcd_binary() -> str:
    path = shutil.which("etcd")
    if path is None:
        raise Unavailable("etcd is not installed: install it (Debian: `apt-get install etcd-server`) "
                          "or use the default SQLite store")
    return path


def member_plan(members: int, cluster_token: str) -> list[dict]:
    """Names, hosts and ports of the members."""
    plan = []
    for i in range(1, members + 1):
        host = f"127.0.0.{ETCD_HOST_BASE + i - 1}"
        plan.append({"name": f"fs3-etcd-{i}", "host": host, "client": free_port(host),
                     "peer": free_port(host), "token": cluster_token})
    return plan


def member_args(plan: list[dict], index: int, data_dir: str) -> list[str]:
    m = plan[index]
    initial = ",".join(f"{p['name']}=http://{p['host']}:{p['peer']}" for p in plan)
    return [
        etcd_binary(), "--name", m["name"], "--data-dir", data_dir,
        "--listen-client-urls", f"http://{m['host']}:{m['client']}",
        "--advertise-client-urls", f"http://{m['host']}:{m['client']}",
        "--listen-peer-urls", f"http://{m['host']}:{m['peer']}",
        "--initial-advertise-peer-urls", f"http://{m['host']}:{m['peer']}",
        "--initial-cluster", initial, "--initial-cluster-token", m["token"],
        "--initial-cluster-state", "new",
        "--max-txn-ops", "10000",            # fs3's garbage-collection batches need ~1,000
        "--heartbeat-interval", "100", "--election-timeout", "1000",
        "--auto-compaction-mode", "revision", "--auto-compaction-retention", "100000",
        "--log-level", "warn",
    ]


def healthy(endpoint: str, timeout: float = 1.0) -> bool:
    host, _, port = endpoint.rpartition(":")
    try:
        conn = http.client.HTTPConnection(host, int(port), timeout=timeout)
        conn.request("GET", "/health")
        body = conn.getresponse().read()
        conn.close()
        return json.loads(body).get("health") == "true"
    except (OSError, ValueError, http.client.HTTPException):
        return False
