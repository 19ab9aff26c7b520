"""The admin HTTP API, /metrics and the dashboard against a running cluster; the page is rendered by a
real headless browser (Debian's chromium) and its screenshot kept in test-artifacts/dashboard.png."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import urllib.request
from pathlib import Path

import pytest
from _timing import wait_for

# The suite's 120 s per test would cut short a cluster start and waits of up to 120 s on a loaded
# machine: the test's own waits must fail first, saying what they waited for.
pytestmark = pytest.mark.timeout(300)

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("FS3_ARTIFACTS", ROOT / "test-artifacts"))


def get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=10) as r:
        assert r.status == 200
        return r.read()


@pytest.fixture(scope="module")
def busy(cluster, client):
    """Some reads and writes, so the counters and charts have something to show."""
    client.mkdir("/dash", parents=True)
    data = os.urandom(2 << 20)
    for i in range(8):
        client.write(f"/dash/f{i}", data)
    url = cluster.http[0]

    def shown() -> bool:  # read on until the heartbeats' counters show the reads and a sample has a rate
        for i in range(8):
            client.read(f"/dash/f{i}", 0, 1 << 20)
        stats = json.loads(get(url + "/api/stats"))
        return bool(stats["samples"]) and max(s["read_MBps"] for s in stats["samples"]) > 0 \
            and _read_bytes(url) >= 8 << 20

    wait_for(shown, timeout=120, what="the reads to show in /api/stats and /metrics")
    return url


def _read_bytes(url: str) -> float:
    from prometheus_client.parser import text_string_to_metric_families

    families = {f.name: f for f in text_string_to_metric_families(get(url + "/metrics").decode())}
    return sum(s.value for s in families["fs3_storage_bytes"].samples if s.labels["op"] == "read")


def test_api_shows_the_cluster(cluster, busy):
    c = json.loads(get(busy + "/api/cluster"))
    assert c["health"] == "ok"
    assert c["summary"]["nodes_up"] == c["summary"]["nodes"] == 3
    assert {n["address"] for n in c["nodes"]} == {p.address for p in cluster.processes if p.role == "storage"}
    assert c["chains"] and all(ch["healthy"] for ch in c["chains"])
    assert json.loads(get(busy + "/api/chains")) == c["chains"]
    targets = json.loads(get(busy + "/api/targets"))
    assert len(targets) == len(c["targets"])
    for t in targets:  # each target's recorded state changes end in the state it is in
        assert t["history"] and t["history"][-1]["public_state"] == t["public_state"], t
    stats = json.loads(get(busy + "/api/stats"))
    assert stats["samples"] and max(s["read_MBps"] for s in stats["samples"]) > 0
    assert stats["meta_methods"]["Stat"]["requests"] > 0


def test_prometheus_metrics(busy):
    from prometheus_client.parser import text_string_to_metric_families
    families = {f.name: f for f in text_string_to_metric_families(get(busy + "/metrics").decode())}
    reads = [s for s in families["fs3_storage_requests"].samples if s.labels["op"] == "read"]
    assert sum(s.value for s in reads) > 0
    read_bytes = [s for s in families["fs3_storage_bytes"].samples if s.labels["op"] == "read"]
    assert sum(s.value for s in read_bytes) >= 8 << 20
    lat = [s for s in families["fs3_storage_request_seconds"].samples
           if s.name.endswith("_count") and s.labels["op"] == "read"]
    assert sum(s.value for s in lat) > 0
    up = families["fs3_node_up"].samples
    assert len(up) == 3 and all(s.value == 1 for s in up)
    serving = [s for s in families["fs3_target_state"].samples if s.labels["state"] == "serving"]
    assert serving and all(s.value == 1 for s in serving)
    assert any(s.labels["method"] == "Open" for s in families["fs3_meta_requests"].samples)
    assert "fs3_target_sync_percent" in families and "fs3_chain_serving_replicas" in families


def test_dashboard_renders_in_a_real_browser(cluster, busy, tmp_path):
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        if os.environ.get("FS3_REQUIRE_BROWSER"):
            pytest.fail("chromium is not installed (Debian: apt-get install chromium)")
        pytest.skip("chromium not installed")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / "dashboard.png"
    shot.unlink(missing_ok=True)
    flags = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
             f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1400,1000", "--virtual-time-budget=8000"]
    dom = subprocess.run(flags + ["--dump-dom", busy + "/"], capture_output=True, timeout=120)
    html = dom.stdout.decode()
    assert dom.returncode == 0, dom.stderr.decode()[-2000:]
    # rendered by the page's script from the live API: health, every storage node, every chain
    assert '<span id="health" class="ok">ok</span>' in html
    for p in cluster.processes:
        if p.role == "storage":
            assert p.address in html
    c = json.loads(get(busy + "/api/cluster"))
    for ch in c["chains"]:
        assert f"<td>{ch['id']}</td><td>{ch['version']}</td>" in html
    assert "<span id=\"error\"></span>" in html  # no fetch failed
    run = subprocess.run(flags + [f"--screenshot={shot}", busy + "/"], capture_output=True, timeout=120)
    assert run.returncode == 0 and shot.exists(), run.stderr.decode()[-2000:]
    png = shot.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 20_000
