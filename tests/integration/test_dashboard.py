"""The admin HTTP API, /metrics and the dashboard against a running cluster, read with a monitoring
user's token (as Prometheus and an operator would); the page is driven in a real headless browser
(Debian's chromium: a token typed in, kept in the tab's sessionStorage, a refused one) and its screenshot
kept in test-artifacts/dashboard.png. Attacks on the API's authentication: tests/security."""

from __future__ import annotations

import json
import os
import urllib.request
import uuid
from pathlib import Path

import pytest
from _browser import Browser, find_chromium
from _timing import wait_for

# The suite's 120 s per test would cut short a cluster start and waits of up to 120 s on a loaded
# machine: the test's own waits must fail first, saying what they waited for.
pytestmark = pytest.mark.timeout(300)

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("FS3_ARTIFACTS", ROOT / "test-artifacts"))


def get(url: str, token: str) -> bytes:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=10) as r:
        assert r.status == 200
        return r.read()


@pytest.fixture(scope="module")
def monitor(client) -> str:
    """A monitoring user's token: what Prometheus and the dashboard are given."""
    name = f"dash-{uuid.uuid4().hex[:8]}"
    _info, token = client.add_user(name, monitor=True)
    yield token
    client.remove_user(name)


@pytest.fixture(scope="module")
def busy(cluster, client, monitor):
    """Some reads and writes, so the counters and charts have something to show."""
    client.mkdir("/dash", parents=True)
    data = os.urandom(2 << 20)
    for i in range(8):
        client.write(f"/dash/f{i}", data)
    url = cluster.http[0]

    def shown() -> bool:  # read on until the heartbeats' counters show the reads and a sample has a rate
        for i in range(8):
            client.read(f"/dash/f{i}", 0, 1 << 20)
        stats = json.loads(get(url + "/api/stats", monitor))
        return bool(stats["samples"]) and max(s["read_MBps"] for s in stats["samples"]) > 0 \
            and _read_bytes(url, monitor) >= 8 << 20

    wait_for(shown, timeout=120, what="the reads to show in /api/stats and /metrics")
    return url


def _read_bytes(url: str, token: str) -> float:
    from prometheus_client.parser import text_string_to_metric_families

    families = {f.name: f for f in text_string_to_metric_families(get(url + "/metrics", token).decode())}
    return sum(s.value for s in families["fs3_storage_bytes"].samples if s.labels["op"] == "read")


def test_api_shows_the_cluster(cluster, busy, monitor):
    c = json.loads(get(busy + "/api/cluster", monitor))
    assert c["health"] == "ok"
    assert c["summary"]["nodes_up"] == c["summary"]["nodes"] == 3
    assert {n["address"] for n in c["nodes"]} == {p.address for p in cluster.processes if p.role == "storage"}
    assert c["chains"] and all(ch["healthy"] for ch in c["chains"])
    assert json.loads(get(busy + "/api/chains", monitor)) == c["chains"]
    targets = json.loads(get(busy + "/api/targets", monitor))
    assert len(targets) == len(c["targets"])
    for t in targets:  # each target's recorded state changes end in the state it is in
        assert t["history"] and t["history"][-1]["public_state"] == t["public_state"], t
    stats = json.loads(get(busy + "/api/stats", monitor))
    assert stats["samples"] and max(s["read_MBps"] for s in stats["samples"]) > 0
    assert stats["meta_methods"]["Stat"]["requests"] > 0


def test_prometheus_metrics(busy, monitor):
    from prometheus_client.parser import text_string_to_metric_families
    families = {f.name: f for f in text_string_to_metric_families(get(busy + "/metrics", monitor).decode())}
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


def test_dashboard_renders_in_a_real_browser(cluster, client, busy, monitor, tmp_path):
    binary = find_chromium()
    if binary is None:
        if os.environ.get("FS3_REQUIRE_BROWSER"):
            pytest.fail("chromium is not installed (Debian: apt-get install chromium)")
        pytest.skip("chromium not installed")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / "dashboard.png"
    shot.unlink(missing_ok=True)
    nodes = [p.address for p in cluster.processes if p.role == "storage"]
    c = json.loads(get(busy + "/api/cluster", monitor))
    plain_name = f"plain-{uuid.uuid4().hex[:8]}"
    _info, plain = client.add_user(plain_name)
    with Browser(binary, tmp_path / "profile") as page:
        def enter(token: str) -> None:  # as a person would: type it in and press the button
            page.js(f"document.getElementById('token').value = {json.dumps(token)};"
                    "document.querySelector('#auth button[type=submit]').click()")

        def asking() -> bool:
            return page.js("!document.getElementById('auth').hidden")

        def shows_cluster() -> bool:
            html = page.html()
            return page.text("#health") == "ok" and all(a in html for a in nodes)

        # Without a token the page asks for one (saying how to get it) and shows nothing of the cluster.
        page.open(busy + "/")
        wait_for(lambda: asking() and "needs the token" in page.text("#auth-msg"), what="the page to ask for a token")
        assert "fs3 user add NAME --monitor" in page.text("#auth-msg")
        assert not any(a in page.html() for a in nodes) and page.text("#health") == "no token"

        # A plain user's token is refused, clearly, and not kept.
        enter(plain)
        wait_for(lambda: "The token was refused" in page.text("#auth-msg"), what="the refusal to show")
        assert "neither an admin nor a monitoring user" in page.text("#auth-msg")
        assert page.js("document.getElementById('auth-msg').className") == "refused" and asking()
        assert page.js("sessionStorage.getItem('fs3-token')") is None
        assert not any(a in page.html() for a in nodes)

        # A monitoring user's token shows the live cluster, rendered by the page's script from the API.
        enter(monitor)
        wait_for(shows_cluster, what="the dashboard to show the cluster")
        assert page.js("sessionStorage.getItem('fs3-token')") == monitor and not asking()
        html = page.html()
        for ch in c["chains"]:
            assert f"<td>{ch['id']}</td><td>{ch['version']}</td>" in html
        assert '<span id="error"></span>' in html  # no fetch failed
        assert monitor not in html  # the token is not left in the page

        # Reloaded, the tab still has it: no need to type it again.
        page.open(busy + "/")
        wait_for(shows_cluster, what="the reloaded dashboard to show the cluster with the stored token")
        png = page.screenshot(shot)
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 20_000

        # Forgotten, the page asks again.
        page.js("document.getElementById('forget').click()")
        wait_for(asking, what="the page to ask for a token again")
        assert page.js("sessionStorage.getItem('fs3-token')") is None
        assert not any(a in page.html() for a in nodes)
    client.remove_user(plain_name)
