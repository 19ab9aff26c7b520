"""TLS on every connection that crosses a network: gRPC, the framed meta calls, the data plane and the
admin HTTP API. Off unless configured; one setting turns it on for all of them.

Servers take a certificate chain, its private key and the CA that signed the other servers
(``ServerTLS``: ``--tls-cert``, ``--tls-key``, ``--tls-ca``); the CA verifies the connections a server
opens itself (storage to meta, chain forwarding, recovery, meta's chunk removal). The key must be
private to the server's user (``fs3._private.check_private``): a server refuses to start otherwise.

A client takes the CA alone (``find_ca``): the ``tls_ca=`` argument, else ``FS3_TLS_CA``, else the
``tls`` entry of a local cluster's ``cluster.json`` (``fs3 up --tls``). With no CA it speaks in clear,
and a server with TLS on refuses it.

Both ends require TLS 1.2 at least (1.3 is what they agree on); a client checks the server's
certificate against the CA and its name against the address dialled (IP addresses against the
certificate's IP SANs, host names against its DNS SANs). There are no client certificates: users and
servers authenticate with their tokens, which TLS now keeps from the network.

``explain`` tells, after a connection failed, whether TLS is why (one side has it and the other not,
or the certificate is not the CA's), in words a user can act on.
"""

from __future__ import annotations

import functools
import os
import socket
import ssl
from dataclasses import dataclass
from pathlib import Path

import grpc
import grpc.aio

from ._discovery import CLUSTER_FILE
from ._errors import InvalidArgument
from ._private import check_private

__all__ = ["ENV_CA", "ServerTLS", "add_port", "aio_channel", "channel", "channel_credentials", "client_context",
           "explain", "find_ca", "host_of", "server_context"]

ENV_CA = "FS3_TLS_CA"
MIN_VERSION = ssl.TLSVersion.TLSv1_2
PROBE_TIMEOUT = 2.0  # seconds ``explain`` gives a server to show whether it speaks TLS


def _read(path: Path, what: str) -> bytes:
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise InvalidArgument(f"cannot read {what} {path}: {exc.strerror or exc}") from None
    if b"-----BEGIN " not in data:
        raise InvalidArgument(f"{what} {path} is not a PEM file")
    return data


@dataclass(frozen=True)
class ServerTLS:
    """A server's TLS files: its certificate chain and key (PEM), and the CA it verifies the servers
    it calls with."""

    cert: Path
    key: Path
    ca: Path

    @classmethod
    def of(cls, cert: str | os.PathLike | None, key: str | os.PathLike | None,
           ca: str | os.PathLike | None) -> ServerTLS | None:
        """The three files given together, or None when neither certificate nor key is (TLS off: a CA
        alone, say ``FS3_TLS_CA`` set for the clients of this host, changes nothing); a certificate
        without its key, or either without the CA, is an error."""
        given = {"--tls-cert": cert, "--tls-key": key, "--tls-ca": ca}
        if not cert and not key:
            return None
        missing = [flag for flag, value in given.items() if not value]
        if missing:
            raise InvalidArgument(f"TLS needs --tls-cert, --tls-key and --tls-ca together; missing {', '.join(missing)}")
        assert cert and key and ca  # (checked above)
        return cls(Path(cert).absolute(), Path(key).absolute(), Path(ca).absolute())

    def check(self) -> None:
        """Refuse a key that others may read (``PermissionDenied``, with the chmod that fixes it), and
        files that are missing or not PEM (``InvalidArgument``)."""
        try:
            check_private(self.key)
        except FileNotFoundError:
            raise InvalidArgument(f"cannot read --tls-key {self.key}: no such file") from None
        _read(self.key, "--tls-key")
        _read(self.cert, "--tls-cert")
        _read(self.ca, "--tls-ca")


@functools.lru_cache(maxsize=4)
def server_context(tls: ServerTLS) -> ssl.SSLContext:
    """The context a server's listeners (framed calls, data plane) wrap accepted connections in."""
    tls.check()
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = MIN_VERSION
    try:
        ctx.load_cert_chain(str(tls.cert), str(tls.key))
    except ssl.SSLError as exc:
        raise InvalidArgument(f"--tls-cert {tls.cert} and --tls-key {tls.key} do not make a key pair: "
                              f"{exc.reason or exc}") from None
    return ctx


@functools.lru_cache(maxsize=8)
def client_context(ca: Path) -> ssl.SSLContext:
    """The context a connection to a server is wrapped in: the server's certificate must be signed by
    ``ca`` and name the host dialled."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # (verifies the certificate and the host name)
    ctx.minimum_version = MIN_VERSION
    try:
        ctx.load_verify_locations(cafile=str(ca))
    except (OSError, ssl.SSLError) as exc:
        raise InvalidArgument(f"cannot load the TLS CA {ca}: {getattr(exc, 'strerror', None) or exc}") from None
    return ctx


def host_of(address: str) -> str:
    """The name a certificate must carry for ``HOST:PORT`` (an IP address or a host name)."""
    return address.rpartition(":")[0].strip("[]")


# -- gRPC ------------------------------------------------------------------------------------------

def add_port(server: grpc.Server, listen: str, tls: ServerTLS | None) -> int:
    """Listen on ``listen`` (TLS when ``tls``); returns the bound port, 0 when binding failed."""
    if tls is None:
        return server.add_insecure_port(listen)
    tls.check()
    credentials = grpc.ssl_server_credentials([(_read(tls.key, "--tls-key"), _read(tls.cert, "--tls-cert"))])
    return server.add_secure_port(listen, credentials)


@functools.lru_cache(maxsize=8)
def channel_credentials(ca: Path) -> grpc.ChannelCredentials:
    return grpc.ssl_channel_credentials(root_certificates=_read(ca, "the TLS CA"))


def channel(address: str, ca: Path | None, options) -> grpc.Channel:
    """A gRPC channel to ``address``: verified against ``ca``, or in clear without one."""
    if ca is None:
        return grpc.insecure_channel(address, options=options)
    return grpc.secure_channel(address, channel_credentials(ca), options=options)


def aio_channel(address: str, ca: Path | None, options) -> grpc.aio.Channel:
    """``channel`` for grpc.aio."""
    if ca is None:
        return grpc.aio.insecure_channel(address, options=options)
    return grpc.aio.secure_channel(address, channel_credentials(ca), options=options)


# -- clients: which CA -----------------------------------------------------------------------------

def find_ca(explicit: str | os.PathLike | None = None, cluster_dir: str | os.PathLike | None = None) -> Path | None:
    """The CA a client verifies servers with: ``explicit``, else ``FS3_TLS_CA``, else the one a local
    cluster's ``cluster.json`` names; None: TLS off. A CA named but not readable is an error that
    says where it was named."""
    if explicit:
        return _ca_at(Path(explicit), "tls_ca")
    named = os.environ.get(ENV_CA, "").strip()
    if named:
        return _ca_at(Path(named), ENV_CA)
    if cluster_dir:
        try:
            import json

            info = json.loads((Path(cluster_dir) / CLUSTER_FILE).read_text())
        except (OSError, ValueError):
            return None  # no local cluster there: nothing recorded
        ca = (info.get("tls") or {}).get("ca") if isinstance(info, dict) else None
        if ca:
            return _ca_at(Path(ca), f"the local cluster's {CLUSTER_FILE}")
    return None


def _ca_at(path: Path, source: str) -> Path:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InvalidArgument(f"the TLS CA {path} (from {source}) cannot be read: {exc.strerror or exc}") from None
    if b"-----BEGIN CERTIFICATE-----" not in data:
        raise InvalidArgument(f"the TLS CA {path} (from {source}) is not a PEM certificate")
    return path.absolute()


# -- why a connection failed -----------------------------------------------------------------------

def _handshake(address: str, ctx: ssl.SSLContext, timeout: float) -> None:
    host, _, port = address.rpartition(":")
    with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout) as raw:
        ctx.wrap_socket(raw, server_hostname=host.strip("[]")).close()  # (the handshake happens here)


def _no_verify() -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE  # only to learn whether the server speaks TLS at all
    return ctx


def explain(address: str, ca: Path | None, what: str, timeout: float = PROBE_TIMEOUT) -> str | None:
    """Why a connection to ``what`` at ``address`` failed, when TLS is why: the server speaks TLS and
    this client has no CA, it does not speak TLS and this client does, or its certificate is not
    signed by ``ca`` or does not name ``address``. None when it is not that (or cannot be told).
    Blocking (a TLS handshake with the server, at most ``timeout`` seconds); run it off an event loop."""
    try:
        _handshake(address, client_context(ca) if ca is not None else _no_verify(), timeout)
    except ssl.SSLCertVerificationError as exc:
        return (f"{what} {address}: its TLS certificate is refused: {exc.verify_message} (verified with the "
                f"CA {ca}; use the CA of that cluster: {ENV_CA}, or the tls_ca= argument)")
    except (ssl.SSLEOFError, ssl.SSLZeroReturnError):
        return None  # closed without a word (a connection cap, a restart): not a sign either way
    except ssl.SSLError as exc:  # it answered, but not with TLS
        if ca is None:
            return None  # neither side speaks TLS: the failure is something else
        return (f"{what} {address} does not speak TLS, and this client has TLS on (CA {ca}): is TLS off "
                f"on that cluster? ({exc.reason or exc})")
    except (OSError, ValueError):
        return None  # not reachable at all: not a TLS matter
    if ca is None:
        return (f"{what} {address} speaks TLS, and this client has no CA to verify it: set {ENV_CA} to the "
                "cluster's CA certificate (`fs3 up --tls` keeps it in DATA_DIR/tls/ca.pem)")
    return None
