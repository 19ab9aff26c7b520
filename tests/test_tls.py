"""fs3/_tls.py and fs3/local/_certs.py without a cluster: which CA a client takes, what a server's TLS
files must be, what the certificates name, and the words a failed connection gets (against real
sockets on 127.0.0.1). The cluster-level attacks are in tests/security/test_tls.py."""

from __future__ import annotations

import json
import os
import socket
import ssl
import stat
import threading
from pathlib import Path

import pytest
from cryptography import x509

from fs3._errors import InvalidArgument, PermissionDenied
from fs3._tls import ENV_CA, ServerTLS, client_context, explain, find_ca, server_context
from fs3.local import ensure_ca, ensure_server_cert


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    """A CA and a certificate for 127.0.0.1 and localhost; and another CA."""
    base = tmp_path_factory.mktemp("certs")
    cert, key = ensure_server_cert(base / "tls", "server", ["127.0.0.1", "localhost"])
    other, _ = ensure_ca(base / "other")
    return {"dir": base / "tls", "cert": cert, "key": key, "ca": base / "tls" / "ca.pem", "other_ca": other}


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_keys_are_0600_in_a_0700_directory_and_certificates_name_their_hosts(certs):
    assert _mode(certs["dir"]) == 0o700
    assert _mode(certs["key"]) == 0o600 and _mode(certs["dir"] / "ca.key") == 0o600
    cert = x509.load_pem_x509_certificate(certs["cert"].read_bytes())
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert [str(ip) for ip in sans.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    assert sans.get_values_for_type(x509.DNSName) == ["localhost"]


def test_a_certificate_is_kept_until_its_hosts_change(certs):
    again, _ = ensure_server_cert(certs["dir"], "server", ["127.0.0.1", "localhost"])
    assert again.read_bytes() == certs["cert"].read_bytes()
    moved, _ = ensure_server_cert(certs["dir"], "moved", ["127.0.0.1"])
    before = moved.read_bytes()
    ensure_server_cert(certs["dir"], "moved", ["127.0.0.2"])
    assert moved.read_bytes() != before


def test_a_key_open_to_others_is_refused(certs, tmp_path):
    loose = tmp_path / "loose.key"
    loose.write_bytes(certs["key"].read_bytes())
    loose.chmod(0o644)
    tls = ServerTLS.of(certs["cert"], loose, certs["ca"])
    assert tls is not None
    with pytest.raises(PermissionDenied, match=r"is mode 0644.*chmod 600"):
        server_context(tls)
    _, key = ensure_server_cert(tmp_path / "d", "x", ["127.0.0.1"])
    key.chmod(0o640)
    with pytest.raises(PermissionDenied, match="chmod 600"):  # fs3 up --tls, finding it so, stops too
        ensure_server_cert(tmp_path / "d", "x", ["127.0.0.1"])


def test_server_files_come_together(certs, tmp_path):
    assert ServerTLS.of(None, None, None) is None
    assert ServerTLS.of(None, None, certs["ca"]) is None  # a CA alone (FS3_TLS_CA for clients): TLS off
    with pytest.raises(InvalidArgument, match="missing --tls-key"):
        ServerTLS.of(certs["cert"], None, certs["ca"])
    with pytest.raises(InvalidArgument, match="missing --tls-ca"):
        ServerTLS.of(certs["cert"], certs["key"], None)
    not_pem = tmp_path / "cert.pem"
    not_pem.write_text("hello")
    tls = ServerTLS.of(not_pem, certs["key"], certs["ca"])
    assert tls is not None
    with pytest.raises(InvalidArgument, match="not a PEM file"):
        tls.check()
    other_key = ensure_server_cert(tmp_path / "o", "o", ["127.0.0.1"])[1]
    with pytest.raises(InvalidArgument, match="do not make a key pair"):
        server_context(ServerTLS.of(certs["cert"], other_key, certs["ca"]))  # type: ignore[arg-type]


def test_which_ca_a_client_takes(certs, tmp_path, monkeypatch):
    monkeypatch.delenv(ENV_CA, raising=False)
    cluster = tmp_path / "cluster"
    cluster.mkdir()
    assert find_ca(None, cluster) is None  # no cluster.json: TLS off
    (cluster / "cluster.json").write_text(json.dumps({"meta": ["127.0.0.1:1"]}))
    assert find_ca(None, cluster) is None  # a plaintext cluster
    (cluster / "cluster.json").write_text(json.dumps({"meta": [], "tls": {"ca": str(certs["ca"])}}))
    assert find_ca(None, cluster) == certs["ca"]
    monkeypatch.setenv(ENV_CA, str(certs["other_ca"]))
    assert find_ca(None, cluster) == certs["other_ca"]  # the environment beats the local cluster
    assert find_ca(certs["ca"], cluster) == certs["ca"]  # and the argument beats both
    monkeypatch.setenv(ENV_CA, str(tmp_path / "missing.pem"))
    with pytest.raises(InvalidArgument, match=rf"missing.pem \(from {ENV_CA}\) cannot be read"):
        find_ca(None, cluster)
    (tmp_path / "key.pem").write_bytes(certs["key"].read_bytes())
    with pytest.raises(InvalidArgument, match="is not a PEM certificate"):
        find_ca(tmp_path / "key.pem")


class _Server:
    """A TCP server on 127.0.0.1 that answers each connection with ``serve(socket)``."""

    def __init__(self, serve):
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.address = f"127.0.0.1:{self.sock.getsockname()[1]}"
        self._serve = serve
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                try:
                    self._serve(conn)
                except (OSError, ssl.SSLError):
                    pass

    def close(self):
        self.sock.close()


def test_explain_says_when_tls_is_why(certs):
    def tls(conn):
        server_context(ServerTLS(certs["cert"], certs["key"], certs["ca"])).wrap_socket(conn, server_side=True).close()

    def plain(conn):
        conn.recv(1024)
        conn.sendall(b"F3 this is not TLS at all, but an fs3 ERROR frame would do as well")

    tls_server, plain_server = _Server(tls), _Server(plain)
    try:
        assert "speaks TLS, and this client has no CA" in explain(tls_server.address, None, "meta")
        assert explain(tls_server.address, certs["ca"], "meta") is None  # nothing wrong with TLS
        refused = explain(tls_server.address, certs["other_ca"], "meta")
        assert "its TLS certificate is refused" in refused and "unable to get local issuer" in refused
        assert "does not speak TLS" in explain(plain_server.address, certs["ca"], "meta")
        assert explain(plain_server.address, None, "meta") is None  # both in clear: not a TLS matter
    finally:
        tls_server.close()
        plain_server.close()
    assert explain(tls_server.address, certs["ca"], "meta", timeout=1) is None  # nobody there


def test_a_client_checks_the_name_it_dialled(certs):
    def tls(conn):
        server_context(ServerTLS(certs["cert"], certs["key"], certs["ca"])).wrap_socket(conn, server_side=True).close()

    server = _Server(tls)
    try:
        port = int(server.address.rsplit(":", 1)[1])
        for name in ("127.0.0.1", "localhost"):
            with socket.create_connection(("127.0.0.1", port)) as raw:
                with client_context(certs["ca"]).wrap_socket(raw, server_hostname=name) as conn:
                    assert conn.version() in ("TLSv1.2", "TLSv1.3")
        with socket.create_connection(("127.0.0.1", port)) as raw:
            with pytest.raises(ssl.SSLCertVerificationError, match="mismatch"):
                client_context(certs["ca"]).wrap_socket(raw, server_hostname="127.0.0.9")
    finally:
        server.close()


def test_fs3_tls_certs_makes_a_deployments_certificates(tmp_path):
    import subprocess
    import sys

    run = [sys.executable, "-m", "fs3", "tls-certs"]
    out = subprocess.run([*run, str(tmp_path / "tls"), "meta1", "storage1=storage1,10.0.0.7", "--json"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    made = json.loads(out.stdout)
    cert = x509.load_pem_x509_certificate(Path(made["servers"]["storage1"]["cert"]).read_bytes())
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.DNSName) == ["storage1"]
    assert [str(ip) for ip in sans.get_values_for_type(x509.IPAddress)] == ["10.0.0.7"]
    assert all(_mode(made["servers"][n]["key"]) == 0o600 for n in ("meta1", "storage1"))
    assert _mode(tmp_path / "tls") == 0o700 and _mode(made["ca_key"]) == 0o600
    bad = subprocess.run([*run, str(tmp_path / "tls"), "../x=host"], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 1 and bad.stderr.strip().count("\n") == 0 and "Invalid server" in bad.stderr
