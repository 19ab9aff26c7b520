"""etcd with authentication on (issue 15, item 4), attacked with real processes: a cluster from
`fs3 up --etcd 3` keeps the cluster secret and the user records from every etcd client that is not
its fs3 user: one with no credentials (raw HTTP to the gateway, etcdctl over gRPC), wrong ones, a
forged token, and a local Unix account. The fs3 user cannot administer etcd; meta works through it
end to end, also after every member restarted and after etcd dropped its token.
The compose file's init step (`python -m fs3.local._etcd_auth`) is run as the compose file runs it."""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import urllib.request
import uuid
from pathlib import Path

import pytest
from _timing import wait_for

from fs3._auth import TOKEN_FILE, read_token_file
from fs3.local import LocalCluster, LocalClusterConfig

COMPOSE = Path(__file__).resolve().parents[2] / "docker-compose.yml"
SECRET_KEY = b"SECR"   # meta/_keys.py: where an older fs3 kept the cluster secret (now in its own file)
ROOT_KEY = b"INOD" + (1).to_bytes(8, "big")  # the root directory's inode
USER_PREFIX = b"USER"  # user records


def _require_etcd() -> None:
    if shutil.which("etcd") is None:
        if os.environ.get("FS3_REQUIRE_ETCD"):
            pytest.fail("etcd is required (FS3_REQUIRE_ETCD is set) but not installed")
        pytest.skip("etcd not installed (apt-get install etcd-server)")


def _etcdctl() -> str:
    path = shutil.which("etcdctl")
    if path is None:
        if os.environ.get("FS3_REQUIRE_ETCD"):
            pytest.fail("etcdctl is required (FS3_REQUIRE_ETCD is set) but not installed")
        pytest.skip("etcdctl not installed (apt-get install etcd-client)")
    return path


def _b64(b: bytes) -> str:
    return base64.b64encode(b).decode()


def gateway(endpoint: str, path: str, body: dict, token: str = "") -> tuple[int, dict]:
    """One raw call to etcd's JSON gateway, as any process on the machine can make it; made again
    while the member answers that it has no leader for the moment (an election, which a member
    restarted a moment ago, or cores busy with other work, may bring at any time)."""
    return wait_for(lambda: _gateway_once(endpoint, path, body, token), what=f"etcd {endpoint}{path} to answer")


_TRANSIENT = ("leader changed", "no leader", "request timed out", "too many requests", "not capable")


def _gateway_once(endpoint: str, path: str, body: dict, token: str) -> tuple[int, dict] | None:
    request = urllib.request.Request(f"http://{endpoint}{path}", json.dumps(body).encode(),
                                     {"Content-Type": "application/json", **({"Authorization": token} if token else {})})
    try:
        with urllib.request.urlopen(request, timeout=10) as reply:
            return reply.status, json.loads(reply.read())
    except urllib.error.HTTPError as exc:
        reply = json.loads(exc.read() or b"{}")
        if exc.code >= 500 and any(t in reply.get("message", "") for t in _TRANSIENT):
            return None
        return exc.code, reply


def login(endpoint: str, user: str, password: str) -> str:
    status, reply = gateway(endpoint, "/v3/auth/authenticate", {"name": user, "password": password})
    assert status == 200, reply
    return reply["token"]


def administer(endpoint: str, path: str, body: dict, root_token: str) -> None:
    """A change of the auth store as root: done (a call made again after "request timed out" may
    find it applied by the first one)."""
    status, reply = gateway(endpoint, path, body, root_token)
    assert status == 200 or "already exists" in reply.get("message", ""), (path, reply)


def read_key(endpoint: str, key: bytes, token: str = "", prefix: bool = False) -> tuple[int, dict]:
    body = {"key": _b64(key)}
    if prefix:
        body["range_end"] = _b64(key[:-1] + bytes([key[-1] + 1]))
    return gateway(endpoint, "/v3/kv/range", body, token)


class EtcdCluster:
    """What the tests know of the `fs3 up --etcd 3` cluster: the data dir, endpoints, passwords."""

    def __init__(self, cluster: LocalCluster):
        self.cluster = cluster
        self.data = cluster.data_dir
        self.endpoints = [p.address for p in cluster.processes if p.role == "etcd"]
        self.root_file = self.data / "etcd" / "root.credentials"
        self.fs3_file = self.data / "etcd" / "fs3.credentials"
        self.root = self.root_file.read_text().strip().split(":", 1)
        self.fs3 = self.fs3_file.read_text().strip().split(":", 1)

    def client(self):
        from fs3.client import connect

        return connect(self.cluster.meta[0], token=read_token_file(self.data / TOKEN_FILE))


@pytest.fixture(scope="module")
def etcd_cluster():
    _require_etcd()
    # A parent any local user may enter, so that only the data directory's own mode keeps them out.
    parent = Path(tempfile.mkdtemp(prefix="fs3-etcd-auth-"))
    parent.chmod(0o755)
    data = parent / "cluster"
    data.mkdir(mode=0o755)  # as a user might have made it: `fs3 up` narrows it
    data.chmod(0o755)
    cluster = LocalCluster.start(LocalClusterConfig(data_dir=data, storage_nodes=1, replicas=1, etcd_members=3),
                                 timeout=120, remember=False)
    try:
        yield EtcdCluster(cluster)
    finally:
        cluster.stop()
        shutil.rmtree(parent, ignore_errors=True)


# -- the secrets at rest -------------------------------------------------------------------------------


def test_data_dir_and_credentials_files_are_private(etcd_cluster):
    data = etcd_cluster.data
    assert stat.S_IMODE(data.stat().st_mode) == 0o700  # made 0755 before `fs3 up`: narrowed
    assert stat.S_IMODE((data / "etcd").stat().st_mode) == 0o700
    for f in (etcd_cluster.root_file, etcd_cluster.fs3_file):
        assert stat.S_IMODE(f.stat().st_mode) == 0o600, f
    assert etcd_cluster.root[0] == "root" and etcd_cluster.fs3[0] == "fs3"
    assert len(etcd_cluster.root[1]) >= 24 and etcd_cluster.root[1] != etcd_cluster.fs3[1]
    # Meta gets a file name, never a password: nothing in cluster.json, no command line (ps), no log.
    assert f"credentials={etcd_cluster.fs3_file}" in etcd_cluster.cluster.kv
    passwords = [etcd_cluster.root[1].encode(), etcd_cluster.fs3[1].encode()]
    seen = [(data / "cluster.json").read_bytes()]
    seen += [Path(f"/proc/{p.pid}/cmdline").read_bytes() for p in etcd_cluster.cluster.running()]
    seen += [f.read_bytes() for f in (data / "logs").iterdir()]
    assert not any(pw in blob for pw in passwords for blob in seen)


# -- clients without the fs3 user -----------------------------------------------------------------------


def test_the_namespace_and_user_records_are_there_for_the_fs3_user(etcd_cluster):
    """The refusals below guard real data: the fs3 user reads it. The cluster secret is not among it: it
    lives in its own file (DATA/cluster.secret), apart from the namespace."""
    endpoint = etcd_cluster.endpoints[0]
    token = login(endpoint, *etcd_cluster.fs3)
    status, reply = read_key(endpoint, ROOT_KEY, token)
    assert status == 200 and reply.get("kvs"), reply
    status, reply = read_key(endpoint, USER_PREFIX, token, prefix=True)
    assert status == 200 and reply.get("kvs"), reply
    status, reply = read_key(endpoint, SECRET_KEY, token)
    assert status == 200 and not reply.get("kvs"), reply


def test_a_client_without_credentials_reads_nothing(etcd_cluster):
    for endpoint in etcd_cluster.endpoints:
        for key, prefix in ((ROOT_KEY, False), (USER_PREFIX, True), (b"\0", False)):
            status, reply = read_key(endpoint, key, prefix=prefix)
            assert status != 200 and "kvs" not in reply, (endpoint, key, reply)
            assert "user name is empty" in reply["message"]
        status, reply = gateway(endpoint, "/v3/kv/put", {"key": _b64(ROOT_KEY), "value": _b64(b"x" * 32)})
        assert status != 200, reply


def test_etcdctl_without_credentials_reads_nothing(etcd_cluster):
    etcdctl = _etcdctl()
    endpoints = ",".join(etcd_cluster.endpoints)
    for args in (["get", "SECR"], ["get", "--prefix", "USER"], ["get", "--from-key", ""],
                 ["user", "list"], ["auth", "disable"]):
        proc = subprocess.run([etcdctl, "--endpoints", endpoints, *args], capture_output=True, text=True,
                              timeout=60, env=dict(os.environ, ETCDCTL_API="3"))
        assert proc.returncode != 0 and not proc.stdout.strip(), (args, proc.stdout)
        assert "user name is empty" in proc.stderr, proc.stderr


def test_wrong_credentials_and_forged_tokens_are_refused(etcd_cluster):
    endpoint = etcd_cluster.endpoints[1]
    for user, password in (("fs3", "wrong"), ("root", "wrong"), ("root", etcd_cluster.fs3[1]), ("nobody", "x")):
        status, reply = gateway(endpoint, "/v3/auth/authenticate", {"name": user, "password": password})
        assert status != 200 and "token" not in reply and "invalid user ID or password" in reply["message"]
    real = login(endpoint, *etcd_cluster.fs3)
    secret_part, index = real.split(".")
    # (an index beyond the applied one makes etcd 3.4 hold the call until that index: no answer, no data)
    for forged in ("abcdefghijklmnop.1", "abcdefghijklmnop." + index, secret_part[::-1] + "." + index):
        status, reply = read_key(endpoint, ROOT_KEY, forged)
        assert status != 200 and "kvs" not in reply, (forged, reply)
    proc = subprocess.run([_etcdctl(), "--endpoints", endpoint, "--user", "fs3:wrong", "get", "SECR"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0 and not proc.stdout.strip()
    assert "invalid user ID or password" in proc.stderr


def test_the_fs3_user_cannot_administer_etcd(etcd_cluster):
    endpoint = etcd_cluster.endpoints[0]
    token = login(endpoint, *etcd_cluster.fs3)
    attacks = [
        ("/v3/auth/disable", {}),
        ("/v3/auth/user/add", {"name": "intruder", "password": "pw"}),
        ("/v3/auth/user/grant", {"user": "fs3", "role": "root"}),
        ("/v3/auth/user/changepw", {"name": "root", "password": "mine"}),
        ("/v3/auth/user/get", {"name": "root"}),
    ]
    for path, body in attacks:
        status, reply = gateway(endpoint, path, body, token)
        assert status != 200 and "permission denied" in reply["message"], (path, reply)
    status, reply = read_key(endpoint, ROOT_KEY)  # still on
    assert status != 200


def test_a_local_unix_user_gets_neither_password_nor_secret(etcd_cluster, unix_user):
    run_as = unix_user.run  # a local Unix account with no fs3 token and none of our groups (conftest)
    for f in (etcd_cluster.fs3_file, etcd_cluster.root_file):
        proc = run_as("cat", str(f))
        assert proc.returncode != 0 and "Permission denied" in proc.stderr and not proc.stdout
    # The raw gateway call as that user, with the system's Python (no venv it could not enter).
    probe = ("import json,sys,urllib.request as u\n"
             "r=u.Request('http://%s/v3/kv/range',json.dumps({'key':'U0VDUg=='}).encode())\n"
             "try:\n print(u.urlopen(r,timeout=10).read().decode())\n"
             "except Exception as e:\n print('refused',e.read().decode() if hasattr(e,'read') else e)\n")
    proc = run_as("/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable, "-c",
                  probe % etcd_cluster.endpoints[0])
    assert proc.stdout.startswith("refused") and "user name is empty" in proc.stdout, proc
    if shutil.which("etcdctl"):
        proc = run_as(shutil.which("etcdctl"), "--endpoints", etcd_cluster.endpoints[2], "get", "SECR")
        assert proc.returncode != 0 and not proc.stdout.strip()


# -- meta through the fs3 user ---------------------------------------------------------------------------


def test_meta_works_end_to_end_through_the_fs3_user(etcd_cluster):
    with etcd_cluster.client() as c:
        c.mkdir("/e2e")
        c.write("/e2e/data.bin", b"fs3 over an authenticated etcd")
        assert c.read("/e2e/data.bin") == b"fs3 over an authenticated etcd"
        assert c.stat("/e2e/data.bin").size == 30
    # The namespace is in etcd, readable by the fs3 user only.
    endpoint = etcd_cluster.endpoints[2]
    status, reply = read_key(endpoint, b"DENT", login(endpoint, *etcd_cluster.fs3), prefix=True)
    assert status == 200 and any(b"e2e" in base64.b64decode(kv["key"]) for kv in reply["kvs"])
    status, _ = read_key(endpoint, b"DENT", prefix=True)
    assert status != 200


def test_meta_renews_its_token_when_etcd_forgets_it(etcd_cluster):
    from fs3.meta.kv import open_kv

    with etcd_cluster.client() as c:
        c.write("/renewal.bin", b"written before")
    kv = open_kv(etcd_cluster.cluster.kv)  # a KV store as meta opens it
    try:
        # Every member restarts (killed): the store, and meta, go on.
        for p in [p for p in etcd_cluster.cluster.processes if p.role == "etcd"]:
            etcd_cluster.cluster.kill(p.name, signal.SIGKILL)
            etcd_cluster.cluster.restart(p.name, timeout=60)
        assert kv.transact(lambda t: t.get(ROOT_KEY), readonly=True)
        first = kv._client._token
        assert first
        # The administrator sets fs3's password (to the same one): etcd drops every token of the user.
        endpoint = etcd_cluster.endpoints[0]
        root = login(endpoint, *etcd_cluster.root)
        status, reply = gateway(endpoint, "/v3/auth/user/changepw",
                                {"name": "fs3", "password": etcd_cluster.fs3[1]}, root)
        assert status == 200, reply
        def refused_everywhere() -> bool:  # each member applies the change in its own time
            replies = [read_key(e, ROOT_KEY, first)[1] for e in etcd_cluster.endpoints]
            return all("invalid auth token" in r.get("message", "") for r in replies)

        wait_for(refused_everywhere, what="every member to refuse the old token")
        assert kv.transact(lambda t: t.get(ROOT_KEY), readonly=True)
        assert kv._client._token not in (None, first)
        # ... and any other change of the auth store (a new user).
        administer(endpoint, "/v3/auth/user/add", {"name": f"u{uuid.uuid4().hex[:6]}", "password": "pw"}, root)
        kv.transact(lambda t: t.set(b"zz-etcd-auth-probe", b"1"))
        kv.transact(lambda t: t.clear(b"zz-etcd-auth-probe"))
    finally:
        kv.close()
    # Meta's own token went with the password change: its next calls take a new one.
    with etcd_cluster.client() as c:
        c.mkdir(f"/after-{uuid.uuid4().hex[:6]}")
        assert c.read("/renewal.bin") == b"written before"


def _fs3_meta(kv: str, tmp_path: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FS3_")}
    return subprocess.run([sys.executable, "-m", "fs3", "meta", "--kv", kv, "--listen", "127.0.0.1:0",
                           "--admin-token-file", str(tmp_path / "admin.token")],
                          capture_output=True, text=True, timeout=120, env=env)


def _one_line(proc: subprocess.CompletedProcess, *needles: str) -> None:
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    for needle in needles:
        assert needle in proc.stderr, proc.stderr


def test_meta_with_wrong_missing_or_exposed_credentials_refuses_to_start(etcd_cluster, tmp_path):
    base = "etcd://" + ",".join(etcd_cluster.endpoints)
    wrong = tmp_path / "wrong.credentials"
    wrong.write_text("fs3:not-the-password\n")
    wrong.chmod(0o600)
    _one_line(_fs3_meta(f"{base}?credentials={wrong}", tmp_path), "refused the password of user fs3", str(wrong))
    _one_line(_fs3_meta(base, tmp_path), "authentication on", "credentials=FILE")
    exposed = tmp_path / "exposed.credentials"
    exposed.write_text(":".join(etcd_cluster.fs3) + "\n")  # the right password, readable by everyone
    exposed.chmod(0o644)
    _one_line(_fs3_meta(f"{base}?credentials={exposed}", tmp_path), "may be read by others", "chmod 600")


def test_a_user_whose_role_covers_a_prefix_only(etcd_cluster):
    """fs3 over a shared etcd: a role on ``tenant/`` alone, fs3's keys under it (``prefix=``)."""
    from fs3.meta.kv import EtcdAccessError, EtcdCredentials, EtcdKV, open_kv

    endpoint = etcd_cluster.endpoints[0]
    root = login(endpoint, *etcd_cluster.root)
    name = f"t{uuid.uuid4().hex[:6]}"
    for path, body in (("/v3/auth/role/add", {"name": name}),
                       ("/v3/auth/role/grant", {"name": name, "perm": {
                           "permType": "READWRITE", "key": _b64(b"tenant/"), "range_end": _b64(b"tenant0")}}),
                       ("/v3/auth/user/add", {"name": name, "password": "tenant-pw"}),
                       ("/v3/auth/user/grant", {"user": name, "role": name})):
        administer(endpoint, path, body, root)
    creds = EtcdCredentials(name, "tenant-pw")
    kv = EtcdKV(etcd_cluster.endpoints, credentials=creds, prefix=b"tenant/")
    try:
        kv.check_access()
        kv.transact(lambda t: (t.set(b"INOD1", b"a"), t.set(b"INOD2", b"b")))
        assert kv.transact(lambda t: t.get_range(b"INOD", b"INOE"), readonly=True) == [(b"INOD1", b"a"),
                                                                                       (b"INOD2", b"b")]
    finally:
        kv.close()
    status, reply = read_key(endpoint, b"tenant/INOD1", root)
    assert status == 200 and base64.b64decode(reply["kvs"][0]["value"]) == b"a"
    # Without the prefix, the same user reaches nothing of fs3's keys, and is told why.
    creds_file = etcd_cluster.data / "tenant.credentials"
    creds_file.write_text(f"{name}:tenant-pw\n")
    creds_file.chmod(0o600)
    with pytest.raises(EtcdAccessError, match="permission denied"):
        open_kv("etcd://" + endpoint + f"?credentials={creds_file}")
    with pytest.raises(EtcdAccessError, match="permission denied"):
        open_kv("etcd://" + endpoint + f"?credentials={creds_file}&prefix=other/")


# -- the compose file's init step --------------------------------------------------------------------------


@pytest.fixture
def bare_etcd(tmp_path):
    """One etcd member with authentication off, as the compose file's members start."""
    _require_etcd()
    from fs3.local import _etcd

    plan = _etcd.member_plan(1, f"fs3-init-{uuid.uuid4().hex[:8]}")
    with open(tmp_path / "etcd.log", "ab") as log:
        proc = subprocess.Popen(_etcd.member_args(plan, 0, str(tmp_path / "member")), stdout=log, stderr=log,
                                stdin=subprocess.DEVNULL)
    endpoint = f"{plan[0]['host']}:{plan[0]['client']}"
    try:
        wait_for(lambda: _etcd.healthy(endpoint), what="etcd to be healthy")
        yield endpoint
    finally:
        proc.terminate()
        proc.wait(30)


def _compose_init_args(endpoint: str, root_file: Path, fs3_file: Path) -> list[str]:
    """docker-compose.yml's etcd-auth entrypoint, its members and volumes swapped for ours."""
    import yaml

    entry = list(yaml.safe_load(COMPOSE.read_text())["services"]["etcd-auth"]["entrypoint"])
    assert entry[0] == "python"
    for flag, value in (("--endpoints", endpoint), ("--root-credentials", str(root_file)),
                        ("--fs3-credentials", str(fs3_file))):
        entry[entry.index(flag) + 1] = value
    return [sys.executable, *entry[1:]]


def test_the_compose_init_step_turns_auth_on_and_can_run_again(bare_etcd, tmp_path):
    root_file, fs3_file = tmp_path / "etcd-root" / "root.credentials", tmp_path / "etcd-fs3" / "fs3.credentials"
    args = _compose_init_args(bare_etcd, root_file, fs3_file)
    for _ in range(2):  # a restarted init container finds it done, and says so
        proc = subprocess.run(args, capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr
    for f in (root_file, fs3_file):
        assert stat.S_IMODE(f.stat().st_mode) == 0o600 and stat.S_IMODE(f.parent.stat().st_mode) == 0o700
    status, reply = read_key(bare_etcd, ROOT_KEY)
    assert status != 200 and "user name is empty" in reply["message"]
    fs3_token = login(bare_etcd, *fs3_file.read_text().strip().split(":", 1))
    assert read_key(bare_etcd, b"anything", fs3_token)[0] == 200
    # The health check's login: healthy (its read is refused, which proves consensus), reads nothing.
    etcdctl = _etcdctl()
    health = subprocess.run([etcdctl, "--endpoints", bare_etcd, "--user", "health:health", "endpoint", "health"],
                            capture_output=True, text=True, timeout=60)
    assert health.returncode == 0, health.stderr
    proc = subprocess.run([etcdctl, "--endpoints", bare_etcd, "--user", "health:health", "get", "--from-key", ""],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0 and "permission denied" in proc.stderr and not proc.stdout.strip()
    # A lost fs3 password is made anew by the next run; root's is what it cannot lose.
    fs3_file.unlink()
    assert subprocess.run(args, capture_output=True, text=True, timeout=120).returncode == 0
    login(bare_etcd, *fs3_file.read_text().strip().split(":", 1))
    root_file.write_text("root:not-it\n")
    proc = subprocess.run(args, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1 and "refuses root's password" in proc.stderr and "Traceback" not in proc.stderr
