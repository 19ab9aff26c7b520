"""docker-compose.yml: accepted by `docker-compose config`, and its topology (3 etcd members, 2 meta
servers, 3 storage nodes, a client running the demo) started as processes with `fs3 up --topology`, the
client's command run against it with the same environment the compose file gives the client container."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from fs3.local._topology import load_topology

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"


def fs3(*args, env=None, timeout=300):
    return subprocess.run([sys.executable, "-m", "fs3", *args], capture_output=True, env=env, timeout=timeout)


def test_compose_file_is_valid():
    tool = shutil.which("docker-compose")
    if tool is None:
        if os.environ.get("FS3_REQUIRE_COMPOSE"):
            pytest.fail("docker-compose is not installed (Debian: apt-get install docker-compose)")
        pytest.skip("docker-compose not installed")
    proc = subprocess.run([tool, "-f", str(COMPOSE), "config"], capture_output=True, timeout=60, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr.decode()
    import yaml
    resolved = yaml.safe_load(proc.stdout)
    services = resolved["services"]
    for name in ("meta1", "meta2", "storage1", "storage2", "storage3", "etcd1", "etcd2", "etcd3"):
        assert "healthcheck" in services[name], name
    vols = {v["target"] if isinstance(v, dict) else v.split(":")[1]: v for v in services["storage2"]["volumes"]}
    assert "/data" in vols  # each storage node has its own data volume
    assert services["storage1"]["environment"]["FS3_TOKEN_FILE"] == "/secrets/admin.token"


def _mounts(service: dict) -> dict[str, str]:
    """target -> "SOURCE[:ro]" of a service's volumes (short syntax)."""
    out = {}
    for v in service.get("volumes", []):
        source, target, *mode = v.split(":")
        out[target] = source + (":ro" if mode == ["ro"] else "")
    return out


def test_compose_etcd_runs_with_authentication():
    """etcd-auth turns authentication on before any meta server starts; only meta gets the fs3 user's
    password (read-only), only etcd-auth root's; the members' health check logs in as the role-less
    `health` user, which reads nothing."""
    import yaml

    services = yaml.safe_load(COMPOSE.read_text())["services"]
    init = services["etcd-auth"]
    entry = init["entrypoint"]
    assert entry[:3] == ["python", "-m", "fs3.local._etcd_auth"] and "--health-user" in entry
    assert "command" not in init  # so that `fs3 up --topology` takes it for no client
    assert entry[entry.index("--endpoints") + 1] == "etcd1:2379,etcd2:2379,etcd3:2379"
    root_file = entry[entry.index("--root-credentials") + 1]
    fs3_file = entry[entry.index("--fs3-credentials") + 1]
    assert set(init["depends_on"]) == {"etcd1", "etcd2", "etcd3"}
    for name in ("etcd1", "etcd2", "etcd3"):
        assert init["depends_on"][name] == {"condition": "service_healthy"}
        assert services[name]["healthcheck"]["test"][:4] == ["CMD", "etcdctl", "--user", "health:health"]
    assert services["meta1"]["depends_on"]["etcd-auth"] == {"condition": "service_completed_successfully"}
    root_dir, fs3_dir = root_file.rsplit("/", 1)[0], fs3_file.rsplit("/", 1)[0]
    for name, svc in services.items():  # (YAML merge keys resolved by the loader)
        mounts = _mounts(svc)
        if name == "etcd-auth":
            assert not mounts[root_dir].endswith(":ro") and not mounts[fs3_dir].endswith(":ro")
        elif name in ("meta1", "meta2"):
            assert root_dir not in mounts and mounts[fs3_dir].endswith(":ro"), (name, mounts)
            kv = svc["environment"]["FS3_KV"]
            assert kv.startswith("etcd://") and kv.endswith(f"?credentials={fs3_file}")
        else:
            assert root_dir not in mounts and fs3_dir not in mounts, (name, mounts)


def test_compose_prometheus_scrapes_with_a_monitoring_token():
    """meta's /metrics need a token: a monitoring user's, which only the token step writes and only
    Prometheus reads; the scrape config names it as a bearer credentials file."""
    import yaml

    services = yaml.safe_load(COMPOSE.read_text())["services"]
    step, prom = services["prometheus-token"], services["prometheus"]
    assert "command" not in step and "--monitor" in step["entrypoint"][-1]
    assert _mounts(step)["/prometheus-secrets"] == "prometheus-secrets"
    assert _mounts(step)["/secrets"] == "secrets:ro"
    assert _mounts(prom)["/etc/prometheus/fs3"] == "prometheus-secrets:ro"
    assert prom["depends_on"]["prometheus-token"] == {"condition": "service_completed_successfully"}
    for name, svc in services.items():
        if name not in ("prometheus-token", "prometheus"):
            assert "/prometheus-secrets" not in _mounts(svc) and "/etc/prometheus/fs3" not in _mounts(svc)
    config = yaml.safe_load((ROOT / "deploy" / "prometheus.yml").read_text())
    [job] = config["scrape_configs"]
    assert job["authorization"] == {"type": "Bearer", "credentials_file": "/etc/prometheus/fs3/token"}
    assert job["static_configs"][0]["targets"] == ["meta1:8080", "meta2:8080"]


def test_topology_of_the_compose_file():
    topo = load_topology(COMPOSE)
    assert (len(topo.etcd), len(topo.meta), len(topo.storage)) == (3, 2, 3)
    assert topo.targets_per_node == 1 and topo.replicas == 3
    assert topo.client[:2] == ["demo", "--existing"]


def test_bad_topology_files_are_refused(tmp_path):
    (tmp_path / "a.yml").write_text("services: {x: {image: nginx}}\n")
    proc = fs3("up", "--topology", str(tmp_path / "a.yml"), "--data-dir", str(tmp_path / "d"))
    assert proc.returncode == 1 and b"need at least one meta" in proc.stderr
    (tmp_path / "b.yml").write_text("services: [\n")
    proc = fs3("up", "--topology", str(tmp_path / "b.yml"), "--data-dir", str(tmp_path / "d"))
    assert proc.returncode == 1 and b"not valid YAML" in proc.stderr and b"Traceback" not in proc.stderr


def test_same_topology_as_processes_runs_the_client(tmp_path):
    from fs3.local._cluster import LocalCluster
    if shutil.which("etcd") is None:
        pytest.skip("etcd not installed")
    data = tmp_path / "cluster"
    env = dict(os.environ, FS3_STATE_DIR=str(tmp_path / "state"))
    env.pop("FS3_CLUSTER", None)
    up = fs3("up", "--topology", str(COMPOSE), "--data-dir", str(data), "--detach", "--json", env=env)
    assert up.returncode == 0, up.stderr.decode()[-3000:]
    try:
        started = json.loads(up.stdout)
        roles = [p["role"] for p in started["processes"]]
        assert (roles.count("etcd"), roles.count("meta"), roles.count("storage")) == (3, 2, 3)
        # the client container's command, with the compose file's client environment
        topo = load_topology(COMPOSE)
        client_env = dict(env, FS3_CLUSTER=",".join(started["meta"]), FS3_TOKEN_FILE=str(data / "admin.token"))
        proc = fs3(*topo.client, "--batches", "20", "--no-progress", env=client_env)
        out = proc.stdout.decode()
        assert proc.returncode == 0, proc.stderr.decode()[-3000:]
        assert "near duplicates" in out and "streamed 20 shuffled batches" in out
        status = json.loads(fs3("--cluster", str(data), "status", "--json", env=env).stdout)
        assert len(status["nodes"]) == 3
    finally:
        LocalCluster.load(data).stop()
