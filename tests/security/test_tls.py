"""TLS (issue 15, item 8), against real processes:

- a cluster started with `fs3 up --tls` works from the command line and the Python client with no
  flags, the data plane over TCP; its key files are 0600 in a 0700 directory, the admin API is HTTPS;
- a network peer on the path (a recording TCP relay in front of meta's gRPC and call ports and of each
  storage node's gRPC and data ports, which every connection of the cluster crosses: client to meta,
  client to nodes, node to meta, chain forwarding between nodes) sees neither the bearer token nor the
  data token nor the file's bytes; the same relays around a cluster in clear see all three (so the
  relays do capture what passes);
- a client without TLS, one with another cluster's CA, and a client with TLS facing a server without it
  are refused, each with one line that says what to change, on every listener;
- a server refuses to start on a key others may read;
- the limits on peers before authentication still hold: a TLS handshake counts inside the handshake
  deadline, connections still in their TLS handshake count against the cap, and unauthenticated TLS
  connections take little memory.
"""

from __future__ import annotations

import asyncio
import json
import os
import select
import shutil
import signal
import socket
import ssl
import stat
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from _data_node import hello, token
from _timing import wait_for

import fs3
from fs3 import _call_wire, _frames, _wire
from fs3._auth import TOKEN_FILE, read_token_file
from fs3._data_client import NodeConnection
from fs3._errors import Status, Unavailable
from fs3._tls import ENV_CA, client_context
from fs3.client._calls import CallConnection
from fs3.local import ensure_ca, ensure_server_cert
from fs3.proto import cluster_pb2

pytestmark = pytest.mark.timeout(300)

LISTENER = Path(__file__).with_name("_listener.py")


def _env(**extra: str) -> dict[str, str]:
    """The environment of a user's shell: no FS3_* settings but ``extra``."""
    return {**{k: v for k, v in os.environ.items() if not k.startswith("FS3_")}, **extra}


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """`fs3 ARGS...` as a user runs it (by default with this session's state directory)."""
    return subprocess.run([sys.executable, "-m", "fs3", *args], capture_output=True, text=True, timeout=120,
                          env=env if env is not None else _env(FS3_STATE_DIR=os.environ["FS3_STATE_DIR"]))


def one_error_line(proc: subprocess.CompletedProcess, *needles: str) -> str:
    """A refusal as the user sees it: exit status 1, one line on stderr naming the problem."""
    err = proc.stderr
    assert proc.returncode == 1 and "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    for needle in needles:
        assert needle in err, err
    return err.strip()


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


# -- a cluster started with `fs3 up --tls` -----------------------------------------------------------

@pytest.fixture(scope="module")
def tls_up(tmp_path_factory):
    """`fs3 up --tls` in a state directory of its own, storage nodes without their local socket so that
    clients on this host take TCP. Yields (data dir, environment its commands run in)."""
    data = tmp_path_factory.mktemp("tls-up")
    env = _env(FS3_STATE_DIR=str(tmp_path_factory.mktemp("tls-state")), FS3_DATA_SOCKET="0")
    up = cli("up", "--tls", "--detach", "--nodes", "2", "--replicas", "2", "--gc-delay", "0",
             "--data-dir", str(data), env=env)
    assert up.returncode == 0, up.stderr
    assert f"TLS on: CA {data / 'tls' / 'ca.pem'}" in up.stderr
    yield data, env
    cli("down", "--data-dir", str(data), env=env)


def test_the_command_line_and_the_client_work_with_no_flags(tls_up, tmp_path):
    data, env = tls_up
    local = tmp_path / "hello.bin"
    local.write_bytes(os.urandom(300_000))
    for args in (["mkdir", "fs3:///tls"], ["cp", str(local), "fs3:///tls/hello.bin"]):
        proc = cli(*args, env=env)
        assert proc.returncode == 0, proc.stderr
    listing = cli("ls", "fs3:///tls", env=env)
    assert listing.returncode == 0 and "hello.bin" in listing.stdout, listing.stderr
    back = tmp_path / "back.bin"
    assert cli("cp", "fs3:///tls/hello.bin", str(back), env=env).returncode == 0
    assert back.read_bytes() == local.read_bytes()
    status = cli("status", "--json", env=env)
    assert status.returncode == 0, status.stderr
    report = json.loads(status.stdout)
    assert report["meta_calls"]["namespace_calls"] == "framed"
    assert report["dashboards"] and all(url.startswith("https://") for url in report["dashboards"])
    assert {(d["channel"], d["tls"]) for d in report["data_plane"]} == {("tcp", True)}

    # The Python client, given the data directory (as fs3 mount and the data loader are).
    with fs3.connect(str(data), shm=False) as client:
        payload = os.urandom(1 << 20)
        client.write("/tls/py.bin", payload)
        assert client.read("/tls/py.bin") == payload
        assert client.read("/tls/hello.bin") == local.read_bytes()
        assert client.read_batch([("/tls/py.bin", 5, 100)]) == [payload[5:105]]
        statuses = client.data_plane_status()
        assert statuses and all(s.transport == "tcp" and s.channel == "tcp" and s.tls for s in statuses)


def test_fs3_mount_and_the_data_loader_work_with_no_flags(tls_up, tmp_path):
    data, env = tls_up
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text("".join(json.dumps({"text": f"document {i} " + "word " * 50}) + "\n" for i in range(40)))
    loader = subprocess.run([sys.executable, "-c", (
        "import sys\n"
        "from fs3.dataloader import TokenDataset, build_shards\n"
        "build_shards([sys.argv[1]], 'fs3:///tls/corpus', processes=1, near_dedup=False)\n"
        "ds = TokenDataset('fs3:///tls/corpus', seq_len=16, batch_size=2, seed=1)\n"
        "print(len(next(iter(ds))))\n"), str(corpus)], capture_output=True, text=True, timeout=120, env=env)
    assert loader.returncode == 0 and loader.stdout.strip() == "17", loader.stderr  # seq_len + 1 tokens
    if not os.path.exists("/dev/fuse") or not shutil.which("fusermount3"):
        if os.environ.get("FS3_REQUIRE_FUSE"):
            pytest.fail("FUSE is not usable here (need /dev/fuse and Debian's fuse3)")
        pytest.skip("FUSE not available")
    where = tmp_path / "mnt"
    where.mkdir()
    mounted = cli("mount", str(where), "--log", str(tmp_path / "mount.log"), env=env)
    assert mounted.returncode == 0, mounted.stderr
    try:
        (where / "tls" / "through-the-mount.txt").write_text("over TLS\n")
        assert (where / "tls" / "through-the-mount.txt").read_text() == "over TLS\n"
        assert "corpus" in os.listdir(where / "tls")
    finally:
        cli("umount", str(where), env=env)
    with fs3.connect(str(data)) as client:
        assert client.read("/tls/through-the-mount.txt") == b"over TLS\n"


def test_tls_files_are_private_and_name_their_servers(tls_up):
    from cryptography import x509

    data, env = tls_up
    tls = data / "tls"
    assert _mode(tls) == 0o700
    keys = sorted(tls.glob("*.key"))
    assert [k.name for k in keys] == ["ca.key", "meta-1.key", "storage-1.key", "storage-2.key"]
    assert all(_mode(k) == 0o600 for k in keys)
    info = json.loads((data / "cluster.json").read_text())
    assert info["tls"] == {"ca": str(tls / "ca.pem")}
    for proc in info["processes"]:
        cert = x509.load_pem_x509_certificate((tls / f"{proc['name']}.pem").read_bytes())
        ips = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(
            x509.IPAddress)
        assert proc["address"].rpartition(":")[0] in [str(ip) for ip in ips]


def test_the_admin_api_is_https(tls_up):
    data, _env = tls_up
    info = json.loads((data / "cluster.json").read_text())
    url = info["http"][0]
    assert url.startswith("https://")
    admin = read_token_file(data / TOKEN_FILE)
    req = urllib.request.Request(f"{url}/api/nodes", headers={"Authorization": f"Bearer {admin}"})
    with urllib.request.urlopen(req, context=client_context(data / "tls" / "ca.pem"), timeout=30) as r:
        assert r.status == 200 and len(json.loads(r.read())) == 2
    with pytest.raises((urllib.error.URLError, ConnectionError, OSError)):  # the same port in clear
        urllib.request.urlopen(url.replace("https://", "http://") + "/", timeout=30)


def test_a_client_without_tls_is_refused_with_the_fix(tls_up, tmp_path):
    data, env = tls_up
    meta = json.loads((data / "cluster.json").read_text())["meta"][0]
    admin = read_token_file(data / TOKEN_FILE)
    # A state directory that does not know the cluster: the address alone, no CA.
    elsewhere = _env(FS3_STATE_DIR=str(tmp_path), FS3_TOKEN=admin)
    started = time.monotonic()
    line = one_error_line(cli("--cluster", meta, "ls", "fs3:///", env=elsewhere), "speaks TLS", ENV_CA)
    assert time.monotonic() - started < 8, "refused only after retrying"
    assert "no CA" in line
    with pytest.raises(Unavailable, match=f"speaks TLS, and this client has no CA.*{ENV_CA}"):
        fs3.connect(meta, token=admin)


def test_a_client_with_another_ca_is_refused(tls_up, tmp_path):
    data, env = tls_up
    meta = json.loads((data / "cluster.json").read_text())["meta"][0]
    other, _ = ensure_ca(tmp_path / "other")
    line = one_error_line(cli("ls", "fs3:///", env={**env, ENV_CA: str(other)}),
                              "TLS certificate is refused", "unable to get local issuer certificate")
    assert str(other) in line
    with pytest.raises(Unavailable, match="TLS certificate is refused"):
        fs3.connect(meta, token=read_token_file(data / TOKEN_FILE), tls_ca=other)


def test_every_listener_refuses_a_client_without_tls_or_with_another_ca(tls_up, tmp_path):
    """Below the client's first call to meta: the framed call listener and each data plane, reached
    directly, without TLS and with another CA."""
    data, _env = tls_up
    ca = data / "tls" / "ca.pem"
    admin = read_token_file(data / TOKEN_FILE)
    other, _ = ensure_ca(tmp_path / "other")
    with fs3.connect(str(data), shm=False) as client:
        routing = client.routing_info()
        call_address = client.meta_call_status()["listener"]
    data_addresses = [n.data_address for n in routing.nodes]

    async def attempts():
        for address in data_addresses:
            with pytest.raises(Unavailable, match="speaks TLS, and this client has no CA"):
                await NodeConnection.open(address, token(), None, "plain")
            with pytest.raises(Unavailable, match="TLS certificate is refused"):
                await NodeConnection.open(address, token(), None, "other-ca", tls=client_context(other))
        with pytest.raises(Unavailable):
            await CallConnection.open(call_address, admin)
        with pytest.raises(Unavailable, match="CERTIFICATE_VERIFY_FAILED|certificate verify failed"):
            await CallConnection.open(call_address, admin, tls=client_context(other))
        conn = await CallConnection.open(call_address, admin, tls=client_context(ca))  # the right CA
        conn.close()

    asyncio.run(attempts())


def test_a_client_with_tls_facing_a_server_without_it_is_told(tmp_path):
    """A TLS client to a meta server and to a data plane in clear."""
    ca, _ = ensure_ca(tmp_path / "tls")
    meta = _Listener("meta", tmp_path / "meta")
    node = _Listener("data", tmp_path / "data")
    try:
        address = meta.info["address"]
        with pytest.raises(Unavailable, match=f"meta {address} does not speak TLS.*is TLS off"):
            fs3.connect(address, token=meta.info["root"], tls_ca=ca)
        line = one_error_line(cli("--cluster", address, "ls", "fs3:///",
                                      env=_env(FS3_STATE_DIR=str(tmp_path), FS3_TOKEN=meta.info["root"],
                                                  **{ENV_CA: str(ca)})), "does not speak TLS")
        assert str(ca) in line

        async def data_plane():
            with pytest.raises(Unavailable, match="TLS handshake .* failed.*does it have TLS on"):
                await NodeConnection.open(node.data_address, token(), None, "tls", tls=client_context(ca))

        asyncio.run(data_plane())
    finally:
        meta.stop()
        node.stop()


@pytest.mark.parametrize("role", ["meta", "storage"])
def test_a_server_refuses_to_start_on_a_key_others_may_read(tls_up, tmp_path, role):
    data, _env = tls_up
    tls = data / "tls"
    name = "meta-1" if role == "meta" else "storage-1"
    loose = tmp_path / f"{name}.key"
    loose.write_bytes((tls / f"{name}.key").read_bytes())
    loose.chmod(0o644)
    flags = ["--tls-cert", str(tls / f"{name}.pem"), "--tls-key", str(loose), "--tls-ca", str(tls / "ca.pem")]
    if role == "meta":
        args = ["meta", "--kv", f"sqlite:///{tmp_path / 'm' / 'meta.db'}", "--listen", "127.0.0.1:0", *flags]
    else:
        (tmp_path / "token").write_text("fs3_x\n")
        args = ["storage", "--meta", "127.0.0.1:1", "--target", str(tmp_path / "t"), "--listen", "127.0.0.1:0",
                "--token-file", str(tmp_path / "token"), *flags]
    line = one_error_line(cli(*args), f"{loose} is mode 0644", f"chmod 600 {loose}", "refusing to start")
    assert line.startswith(f"fs3: {role}: ")
    assert not (tmp_path / "m" / "meta.db").exists() and not (tmp_path / "t").exists()  # stopped first


# -- a network peer on the path ----------------------------------------------------------------------

class Relay:
    """A TCP relay from ``listen`` to ``target`` that records every byte, both ways: someone on the
    network path."""

    def __init__(self, listen: tuple[str, int], target: tuple[str, int]):
        self.sock = socket.create_server(listen)
        self.target = target
        self.captured = bytearray()
        self.connections = 0
        self._lock = threading.Lock()
        self._open: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                near, _ = self.sock.accept()
            except OSError:
                return
            try:
                far = socket.create_connection(self.target)
            except OSError:
                near.close()
                continue
            with self._lock:
                self.connections += 1
                self._open += [near, far]
            for src, dst in ((near, far), (far, near)):
                threading.Thread(target=self._pump, args=(src, dst), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(1 << 16):
                with self._lock:
                    self.captured += data
                dst.sendall(data)
        except OSError:
            pass
        try:
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    def close(self) -> None:
        self.sock.close()
        with self._lock:
            for s in self._open:
                s.close()


def _free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


class RelayedCluster:
    """One meta server and two storage nodes (replication 2) whose advertised addresses are relays:
    every connection to them, from the client and between the servers, crosses a Relay."""

    META, META_SEEN = "127.0.0.1", "127.0.0.21"
    NODES = [("127.0.0.31", "127.0.0.41"), ("127.0.0.32", "127.0.0.42")]  # (listens on, reached at)

    def __init__(self, path: Path, *, tls: bool):
        self.path = path
        self.procs: list[subprocess.Popen] = []
        self.relays: dict[str, Relay] = {}
        self.ca: Path | None = None
        try:
            self._start(tls)
        except BaseException:
            self.stop()
            raise

    def _relay(self, name: str, real: str, seen: str) -> int:
        port = _free_port(real)
        self.relays[name] = Relay((seen, port), (real, port))
        return port

    def _tls(self, name: str, host: str) -> list[str]:
        if self.ca is None:
            return []
        cert, key = ensure_server_cert(self.path / "tls", name, [host])
        return ["--tls-cert", str(cert), "--tls-key", str(key), "--tls-ca", str(self.ca)]

    def _spawn(self, name: str, args: list[str]) -> None:
        log = open(self.path / f"{name}.log", "wb")  # noqa: SIM115 - kept by the process
        self.procs.append(subprocess.Popen([sys.executable, "-m", "fs3", *args], stdout=log, stderr=log,
                                           stdin=subprocess.DEVNULL, env=_env(PYTHONUNBUFFERED="1")))
        log.close()

    def _start(self, tls: bool) -> None:
        if tls:
            self.ca, _ = ensure_ca(self.path / "tls")
        grpc_port = self._relay("meta", self.META, self.META_SEEN)
        calls_port = self._relay("meta-calls", self.META, self.META_SEEN)
        self.meta = f"{self.META_SEEN}:{grpc_port}"
        token_file = self.path / TOKEN_FILE
        self._spawn("meta", ["meta", "--kv", f"sqlite:///{self.path / 'meta' / 'meta.db'}",
                             "--listen", f"{self.META}:{grpc_port}", "--advertise", self.meta, "--peer", self.meta,
                             "--calls", f"{self.META}:{calls_port}", "--admin-token-file", str(token_file),
                             "--gc-delay", "0", *self._tls("meta", self.META_SEEN)])
        wait_for(lambda: token_file.exists() and read_token_file(token_file), what="meta's admin token")
        self.admin = read_token_file(token_file)
        for i, (real, seen) in enumerate(self.NODES, 1):
            port = self._relay(f"storage-{i}", real, seen)
            data_port = self._relay(f"storage-{i}-data", real, seen)
            self._spawn(f"storage-{i}", [
                "storage", "--meta", self.meta, "--listen", f"{real}:{port}", "--advertise", f"{seen}:{port}",
                "--data-port", str(data_port), "--no-data-socket", "--target", str(self.path / f"s{i}"),
                "--token-file", str(token_file), *self._tls(f"storage-{i}", seen)])
        with self.client() as client:
            wait_for(lambda: sum(n.state == cluster_pb2.NODE_UP for n in client.routing_info().nodes) == 2,
                     timeout=90, what="both storage nodes to register")
            client.create_chains(2)
            wait_for(lambda: all(t.local_state == cluster_pb2.UPTODATE for t in client.routing_info().targets),
                     timeout=90, what="the targets to be up to date")

    def client(self):
        return fs3.connect(self.meta, token=self.admin, shm=False, tls_ca=self.ca)

    def captured(self) -> bytes:
        return b"".join(bytes(r.captured) for r in self.relays.values())

    def stop(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        for r in self.relays.values():
            r.close()


def _traffic(cluster: RelayedCluster) -> dict:
    """Namespace calls, a replicated write and reads through the relays; what a listener must not see."""
    content = os.urandom(600_000)
    with cluster.client() as client:
        client.mkdir("/secret")
        client.write("/secret/file", content)
        assert client.read("/secret/file") == content
        assert client.read_batch([("/secret/file", 1000, 50_000)]) == [content[1000:51_000]]
        assert client.ls("/secret") == ["file"]
        assert client.meta_call_status()["namespace_calls"] == "framed"
        data_token = client._async._token  # the data-plane token its HELLOs carried
        assert data_token
        client.remove("/secret/file")  # meta has the chain's head remove the chunks (gc delay 0)
        heads = (cluster.relays["storage-1"], cluster.relays["storage-2"])
        wait_for(lambda: any(len(r.captured) > 100 for r in heads), timeout=90,
                 what="meta's removal call to a storage node's gRPC port")
    return {"bearer token": cluster.admin.encode(), "data token": bytes(data_token),
            **{f"file bytes at {at}": content[at:at + 32] for at in (0, 300_000, 599_968)}}


@pytest.mark.parametrize("tls", [False, True], ids=["in-clear", "tls"])
def test_someone_on_the_path_reads_nothing_over_tls(tmp_path, tls):
    cluster = RelayedCluster(tmp_path, tls=tls)
    try:
        secrets = _traffic(cluster)
    finally:
        cluster.stop()
    # Every path was taken, so every path was listened to: meta's two ports, both data planes, and the
    # gRPC port of the head that meta asked to remove the chunks.
    for name in ("meta", "meta-calls", "storage-1-data", "storage-2-data"):
        assert cluster.relays[name].connections and len(cluster.relays[name].captured) > 100, name
    assert cluster.relays["storage-1"].captured or cluster.relays["storage-2"].captured
    data_seen = len(cluster.relays["storage-1-data"].captured) + len(cluster.relays["storage-2-data"].captured)
    assert data_seen > 2 * 600_000  # the file, to its head and down the chain to the other node
    captured = cluster.captured()
    seen = [name for name, secret in secrets.items() if secret in captured]
    if tls:
        assert seen == [], f"visible through TLS: {seen}"
        assert all(r.captured[:1] in (b"", b"\x16") for r in cluster.relays.values())  # TLS handshakes first
    else:  # the control: in clear, the same relays see all of it (the token in the framed calls' HELLO)
        assert seen == list(secrets), f"the relays missed {set(secrets) - set(seen)} in clear"


# -- limits before authentication, with TLS ----------------------------------------------------------

DEADLINE = 3.0
CAP = 4


class _Listener:
    """A data plane or meta listener in a process of its own (tests/security/_listener.py), with TLS
    when given a certificate directory."""

    def __init__(self, kind: str, path: Path, *, deadline: float = 600, cap: int = 1024,
                 tls_dir: Path | None = None):
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.kind = kind
        self.framing = _wire.FRAMING if kind == "data" else _call_wire.FRAMING
        self.ca = tls_dir / "ca.pem" if tls_dir is not None else None
        args = [sys.executable, str(LISTENER), kind, str(path), str(deadline), str(cap)]
        self.log = path / "listener.log"
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(args + ([str(tls_dir)] if tls_dir else []), stdin=subprocess.PIPE,
                                         stdout=subprocess.PIPE, stderr=log)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        assert line, f"the {kind} listener did not start:\n{self.log.read_text()}"
        self.info = json.loads(line)
        self.data_address = self.info.get("address", "")
        host, _, port = self.info["address" if kind == "data" else "call_address"].rpartition(":")
        self.address = (host, int(port))

    def stop(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def rss(self) -> int:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        raise AssertionError("no VmRSS")

    def raw(self) -> socket.socket:
        return socket.create_connection(self.address, timeout=60)

    def secure(self, sock: socket.socket | None = None) -> ssl.SSLSocket:
        assert self.ca is not None
        return client_context(self.ca).wrap_socket(sock or self.raw(), server_hostname=self.address[0])

    def good_hello(self) -> bytes:
        return hello() if self.kind == "data" else _call_wire.frame(_call_wire.HELLO, self.info["root"].encode())

    def bogus_hello(self) -> bytes:
        if self.kind == "data":
            return _wire.encode_hello(_wire.Hello(token=os.urandom(_wire.MAX_TOKEN), offer=_wire.TRANSPORT_TCP))
        return _call_wire.frame(_call_wire.HELLO, b"t" * _call_wire.MAX_TOKEN)

    def refusal(self, sock: socket.socket) -> tuple[int, str] | None:
        """The ERROR the server sent before closing (None: closed without one)."""
        data = b""
        try:
            while more := sock.recv(1 << 16):
                data += more
        except (ConnectionResetError, ssl.SSLError):
            pass
        if not data:
            return None
        reader = _frames.FrameReader(self.framing)
        reader.feed(data)
        [frame] = list(reader)
        assert frame.header.type == _wire.ERROR
        if self.kind == "data":
            return _wire.decode_error(frame.payload)
        status, message, _path = _call_wire.decode_error(frame.payload)
        return status, message

    async def client(self) -> None:
        """The client library's TLS connection, opened and closed (its error when refused)."""
        assert self.ca is not None
        address = f"{self.address[0]}:{self.address[1]}"
        if self.kind == "data":
            conn = await NodeConnection.open(address, token(), None, "test", tls=client_context(self.ca))
        else:
            conn = await CallConnection.open(address, self.info["root"], tls=client_context(self.ca))
        conn.close()


@pytest.fixture(scope="module")
def tls_dir(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("listener-tls") / "tls"
    ensure_server_cert(path, "server", ["127.0.0.1"])
    return path


@pytest.fixture(params=["data", "meta"])
def tls_listener(request, tmp_path, tls_dir):
    server = _Listener(request.param, tmp_path / request.param, deadline=DEADLINE, cap=CAP, tls_dir=tls_dir)
    yield server
    server.stop()


def _closed_within(sock: socket.socket, started: float) -> float:
    """Seconds from ``started`` until the server closed ``sock`` (which must not be sent anything)."""
    sock.settimeout(DEADLINE + 30)
    try:
        while sock.recv(1 << 16):
            pass
    except (ConnectionResetError, ssl.SSLError):
        pass
    return time.monotonic() - started


def test_the_tls_handshake_counts_inside_the_handshake_deadline(tls_listener):
    started = time.monotonic()
    idle = tls_listener.raw()  # never begins a TLS handshake
    assert DEADLINE - 0.5 <= _closed_within(idle, started) <= DEADLINE + 2.0
    idle.close()

    started = time.monotonic()
    late = tls_listener.raw()
    readable, _, _ = select.select([late], [], [], 0.7 * DEADLINE)  # a handshake begun late...
    assert not readable, "closed before its deadline"
    secured = tls_listener.secure(late)
    # ... leaves only what is left of the deadline: not a fresh one after the handshake.
    refusal = tls_listener.refusal(secured)
    elapsed = time.monotonic() - started
    assert elapsed <= DEADLINE + 1.5, f"closed {elapsed:.1f} s after connecting (deadline {DEADLINE} s)"
    assert refusal is not None and refusal[0] == Status.TIMEOUT and "handshake deadline" in refusal[1]
    secured.close()


def test_connections_in_their_tls_handshake_count_against_the_cap(tls_listener):
    held = [tls_listener.raw() for _ in range(CAP)]  # TCP connected, no TLS handshake begun
    try:
        wait_for(lambda: _refused(tls_listener), what="a connection beyond the cap to be refused")
        held.pop().close()
        wait_for(lambda: _accepted(tls_listener), what="a freed place to be taken by a TLS client")
    finally:
        for sock in held:
            sock.close()


def _refused(listener: _Listener) -> bool:
    try:
        asyncio.run(listener.client())
    except Unavailable:
        return True
    return False


def _accepted(listener: _Listener) -> bool:
    return not _refused(listener)


@pytest.mark.parametrize("kind", ["data", "meta"])
def test_unauthenticated_tls_peers_take_little_memory(tmp_path, tls_dir, kind):
    server = _Listener(kind, tmp_path / kind, tls_dir=tls_dir)
    held: list[socket.socket] = []
    try:
        asyncio.run(server.client())  # (what serving anyone allocates once is not the peers')
        before = server.rss()
        for _ in range(100):
            held.append(server.raw())  # TCP only
        for _ in range(100):
            held.append(server.secure())  # a TLS handshake, then nothing
        for _ in range(100):
            with server.secure() as sock:  # a bogus token, refused over TLS
                sock.sendall(server.bogus_hello())
                refusal = server.refusal(sock)
                assert refusal is not None and refusal[0] == Status.PERMISSION_DENIED, refusal
        grown = server.rss() - before
        asyncio.run(server.client())  # a real client is still served
    finally:
        for sock in held:
            sock.close()
        server.stop()
    assert grown < 50e6, f"300 unauthenticated TLS connections took {grown / 1e6:.1f} MB"
