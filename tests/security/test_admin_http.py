"""The admin HTTP API (`/api/*`, `/metrics`) of real meta processes, attacked: no token, a malformed
one, a forged one, a plain user's, a removed user's and a revoked one are all refused and are told
nothing about the cluster (node addresses, target paths, usage); a monitoring user's and an admin's
token read it. The dashboard page loads without a token but carries no cluster data."""

from __future__ import annotations

import base64
import errno
import http.client
import json
import socket
import time
import uuid
from urllib.parse import urlsplit

import pytest
from _timing import wait_for

import fs3
from fs3._auth import TOKEN_FILE, read_token_file
from fs3._errors import Unavailable
from fs3.meta._http_auth import decide
from fs3.meta._users import CACHE_SECONDS

# The session cluster may start within this module's first test, on a loaded machine.
pytestmark = pytest.mark.timeout(300)

API = ["/api/cluster", "/api/nodes", "/api/targets", "/api/chains", "/api/stats", "/metrics"]
ALSO_GUARDED = ["/api/docs", "/api/openapi.json", "/api/no-such-thing", "/no-such-thing"]
# Spellings a naive prefix check might let through: every one needs a token all the same.
TRICKS = ["//api/cluster", "/api/cluster/", "/API/CLUSTER", "/api/%63luster", "/api/./cluster",
          "/api/../api/targets", "/metrics?x=1", "/metrics/", "/%2Fapi/targets"]


def request(url: str, path: str, token: str | None = None, *, header: str | None = None,
            method: str = "GET") -> tuple[int, dict[str, str], bytes]:
    """(status, headers, body) of one request; ``header`` is a raw Authorization value."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    headers = {}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    if header is not None:
        headers["Authorization"] = header
    try:
        conn.request(method, path, headers=headers)
        r = conn.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        conn.close()


def status(url: str, path: str, token: str | None) -> int:
    return request(url, path, token)[0]


@pytest.fixture(scope="module")
def admin_token(cluster) -> str:
    return read_token_file(cluster.data_dir / TOKEN_FILE)


def _user(client, prefix: str, **kwargs) -> tuple[str, str]:
    name = f"{prefix}-{uuid.uuid4().hex[:8]}"
    _info, token = client.add_user(name, **kwargs)
    return name, token


@pytest.fixture(scope="module")
def monitor(client) -> tuple[str, str]:
    name, token = _user(client, "mon", monitor=True)
    yield name, token
    client.remove_user(name)


@pytest.fixture(scope="module")
def plain(client) -> tuple[str, str]:
    name, token = _user(client, "plain")
    yield name, token
    client.remove_user(name)


@pytest.fixture(scope="module")
def secrets(cluster, admin_token) -> list[str]:
    """What the API gives away, to look for in every refusal: node addresses and target paths."""
    c = json.loads(request(cluster.http[0], "/api/cluster", admin_token)[2])
    found = [n["address"] for n in c["nodes"]] + [n["data_address"] for n in c["nodes"]]
    found += [t["path"] for t in c["targets"]]
    assert len(found) >= 6
    return found


def assert_refused(url: str, path: str, expected: int, *, token: str | None = None, header: str | None = None,
                   method: str = "GET", secrets: list[str] = ()) -> dict:
    code, headers, body = request(url, path, token, header=header, method=method)
    assert code == expected, (path, method, header, code, body[:300])
    assert headers["content-type"].startswith("application/json")
    assert headers["www-authenticate"].startswith("Bearer")
    for secret in secrets:
        assert secret.encode() not in body, (path, secret)
    if method == "HEAD":
        return {}
    reply = json.loads(body)
    assert "fs3 user add NAME --monitor" in reply["how"] and "fs3 user token NAME" in reply["how"]
    return reply


def test_every_api_path_needs_a_token(cluster, secrets):
    assert len(cluster.http) >= 1
    for url in cluster.http:  # every meta server's API
        for path in API + ALSO_GUARDED + TRICKS:
            reply = assert_refused(url, path, 401, secrets=secrets)
            assert reply["error"].startswith("not authenticated")
        for method in ("HEAD", "POST", "OPTIONS", "DELETE"):
            assert_refused(url, "/api/cluster", 401, method=method, secrets=secrets)


def test_malformed_forged_and_misplaced_tokens_are_refused(cluster, admin_token, secrets):
    url = cluster.http[0]
    basic = base64.b64encode(f"root:{admin_token}".encode()).decode()
    for header in ("Bearer", "Bearer ", "Bearer fs3_forged-" + "x" * 43, f"Basic {basic}", f"Token {admin_token}",
                   f"{admin_token}", f"Bearer {admin_token}x", f"Bearer {admin_token[:-1]}", "Node 00ff"):
        for path in API:
            assert_refused(url, path, 401, header=header, secrets=secrets)
    # The token in the query string or a cookie is not a bearer header.
    assert_refused(url, f"/api/cluster?token={admin_token}", 401, secrets=secrets)
    assert_refused(url, f"/metrics?access_token={admin_token}", 401, secrets=secrets)
    # A raw request with two Authorization headers: the first is the one checked.
    host, port = urlsplit(url).hostname, urlsplit(url).port
    with socket.create_connection((host, port), timeout=30) as s:
        s.sendall(f"GET /api/targets HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer fs3_nobody\r\n"
                  f"Authorization: Bearer {admin_token}\r\nConnection: close\r\n\r\n".encode())
        raw = b""
        while chunk := s.recv(65536):
            raw += chunk
    assert raw.startswith(b"HTTP/1.1 401"), raw[:200]
    assert not any(secret.encode() in raw for secret in secrets)


def test_a_plain_users_token_is_forbidden(cluster, plain, secrets):
    name, token = plain
    for url in cluster.http:
        for path in API + ["/api/docs"]:
            reply = assert_refused(url, path, 403, token=token, secrets=secrets)
            assert name in reply["error"] and "neither an admin nor a monitoring user" in reply["error"]


def test_monitor_and_admin_tokens_read_everything(cluster, monitor, admin_token):
    for token in (monitor[1], admin_token):
        for url in cluster.http:
            for path in API:
                code, headers, body = request(url, path, token)
                assert code == 200, (url, path, body[:300])
            c = json.loads(request(url, "/api/cluster", token)[2])
            assert c["summary"]["nodes"] == len(c["nodes"]) >= 1 and c["targets"][0]["path"]
            assert b"fs3_node_up" in request(url, "/metrics", token)[2]
            # the scheme is case-insensitive (RFC 7235), as some scrapers send it
            assert request(url, "/api/nodes", header=f"bearer {token}")[0] == 200


def test_the_dashboard_page_loads_without_a_token_and_holds_no_data(cluster, secrets):
    code, headers, body = request(cluster.http[0], "/")
    assert code == 200 and headers["content-type"].startswith("text/html")
    assert b"sessionStorage" in body and b"Authorization" in body
    assert not any(secret.encode() in body for secret in secrets)


def test_a_monitor_has_no_namespace_rights_beyond_a_plain_user(cluster, client, monitor):
    name, token = monitor
    workdir = f"/mon-{uuid.uuid4().hex[:8]}"
    client.mkdir(workdir)
    client.chmod(workdir, 0o700)
    client.write(f"{workdir}-root-only", b"")  # (the permission is meta's: no data needed)
    client.chmod(f"{workdir}-root-only", 0o600)
    with fs3.connect(cluster.meta[0], token=token) as as_monitor:
        assert as_monitor.whoami().monitor and not as_monitor.whoami().admin
        with pytest.raises(PermissionError) as info:
            as_monitor.ls(workdir)
        assert info.value.errno == errno.EACCES
        with pytest.raises(PermissionError) as info:
            as_monitor.open(f"{workdir}-root-only", "rb")
        assert info.value.errno == errno.EACCES
        with pytest.raises(PermissionError):
            as_monitor.mkdir(f"{workdir}/x")
        for admin_call in (lambda: as_monitor.add_user(f"x{uuid.uuid4().hex[:6]}", admin=True),
                           lambda: as_monitor.list_users(), lambda: as_monitor.issue_token("root"),
                           lambda: as_monitor.set_target_offline(1)):
            with pytest.raises(PermissionError) as info:
                admin_call()
            assert info.value.errno == errno.EPERM
    assert client.ls(workdir) == [] and client.stat(f"{workdir}-root-only").mode & 0o777 == 0o600
    client.unlink(f"{workdir}-root-only")


def test_a_plain_user_cannot_make_itself_a_monitor(cluster, plain):
    _name, token = plain
    with fs3.connect(cluster.meta[0], token=token) as as_plain:
        with pytest.raises(PermissionError) as info:
            as_plain.add_user(f"sneaky-{uuid.uuid4().hex[:6]}", monitor=True)
        assert info.value.errno == errno.EPERM


def _refused_everywhere(cluster, token: str) -> bool:
    return all(status(url, path, token) == 401 for url in cluster.http for path in API)


def test_a_removed_users_token_is_refused_within_the_cache_time(cluster, client, secrets):
    name, token = _user(client, "gone", monitor=True)
    assert all(status(url, "/api/targets", token) == 200 for url in cluster.http)  # (now in each cache)
    client.remove_user(name)
    removed = time.monotonic()
    # A cache entry lives CACHE_SECONDS; the rest is slack for a loaded machine.
    wait_for(lambda: _refused_everywhere(cluster, token), timeout=CACHE_SECONDS + 10,
             what="the removed monitor's token to be refused by every meta's HTTP API")
    assert time.monotonic() - removed < CACHE_SECONDS + 10
    for path in API:  # and it stays refused, telling nothing
        assert_refused(cluster.http[0], path, 401, token=token, secrets=secrets)


def test_a_revoked_token_is_refused_within_the_cache_time(cluster, client):
    name, old = _user(client, "rotated", monitor=True)
    try:
        assert status(cluster.http[0], "/metrics", old) == 200
        new = client.issue_token(name, revoke_others=True)
        wait_for(lambda: _refused_everywhere(cluster, old), timeout=CACHE_SECONDS + 10,
                 what="the revoked token to be refused")
        assert all(status(url, path, new) == 200 for url in cluster.http for path in API)
    finally:
        client.remove_user(name)


def test_a_registry_that_cannot_be_read_lets_nobody_in():
    """The KV store down (an etcd outage): the API says so (503) rather than serve without a check."""
    class Down:
        def observer_for(self, token):
            raise Unavailable("the KV store is unavailable")

    refusal = decide(Down(), "/metrics", "Bearer fs3_anything")  # type: ignore[arg-type]
    assert refusal is not None and refusal.status == 503 and "cannot check the token" in refusal.error
    assert decide(Down(), "/", None) is None  # type: ignore[arg-type]  # (the page needs no registry)
