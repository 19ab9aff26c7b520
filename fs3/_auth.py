"""Authentication shared by clients and servers: user tokens on gRPC calls, node tokens between
servers, and where a client finds its token.

A user token is a random string (``fs3_...``) handed out by ``fs3 user add`` / ``fs3 user token``; meta
stores only its SHA-256 digest. Calls carry it as ``authorization: Bearer <token>``. Servers calling
storage nodes (meta's chunk reclamation, recovery between nodes) carry a node token signed with the
cluster secret instead (``authorization: Node <hex>``, see ``_token``).

A client's token comes from, in order: the ``token=`` argument, ``FS3_TOKEN``, the file named by
``FS3_TOKEN_FILE``, or the admin token of a local cluster started by ``fs3 up`` (readable only by the
user who started it).
"""

from __future__ import annotations

import hashlib
import os
import secrets
import time
from pathlib import Path

from . import _token
from ._errors import PermissionDenied

AUTH_KEY = "authorization"
ENV_TOKEN = "FS3_TOKEN"
ENV_TOKEN_FILE = "FS3_TOKEN_FILE"
TOKEN_FILE = "admin.token"
PREFIX = "fs3_"
NODE_TOKEN_LIFETIME = 600


def new_token() -> str:
    return PREFIX + secrets.token_urlsafe(32)


def digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8", "surrogateescape")).digest()


def bearer(token: str | None) -> tuple[tuple[str, str], ...] | None:
    return ((AUTH_KEY, f"Bearer {token}"),) if token else None


def presented(context) -> tuple[str, str]:
    """(scheme, credential) of a gRPC call's authorization header, ("", "") when it has none."""
    for key, value in context.invocation_metadata() or ():
        if key == AUTH_KEY:
            scheme, _, credential = str(value).partition(" ")
            return scheme, credential.strip()
    return "", ""


def unauthenticated(why: str) -> PermissionDenied:
    return PermissionDenied(
        f"Permission denied: not authenticated ({why}). Pass --token or set {ENV_TOKEN} "
        f"(a cluster started by `fs3 up` keeps its admin token in <data dir>/{TOKEN_FILE})"
    )


def read_token_file(path: str | os.PathLike) -> str:
    return Path(path).read_text().strip()


def write_token_file(path: str | os.PathLike, token: str) -> None:
    """Write a token readable by its owner only (created 0600, replaced atomically)."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(token + "\n")
    os.replace(tmp, path)


def find_token(explicit: str | None = None, cluster_dir: str | os.PathLike | None = None) -> str | None:
    """The token a client presents (see the module docstring), or None."""
    if explicit:
        return explicit
    if os.environ.get(ENV_TOKEN):
        return os.environ[ENV_TOKEN].strip()
    for path in (os.environ.get(ENV_TOKEN_FILE), Path(cluster_dir) / TOKEN_FILE if cluster_dir else None):
        if path:
            try:
                return read_token_file(path) or None
            except OSError:
                continue
    return None


class NodeSigner:
    """Node tokens for calls between servers, re-signed before they expire."""

    def __init__(self, secret, who: str):
        self._secret = secret if callable(secret) else (lambda: secret)
        self._who = who
        self._metadata: tuple = ()
        self._renew_at = 0.0

    def metadata(self) -> tuple[tuple[str, str], ...]:
        now = time.time()
        if now >= self._renew_at:
            expiry = int(now) + NODE_TOKEN_LIFETIME
            token = _token.sign(self._secret(), _token.TokenClaims(expiry, 0, 0, self._who, _token.ROLE_NODE))
            self._metadata = ((AUTH_KEY, f"Node {token.hex()}"),)
            self._renew_at = now + NODE_TOKEN_LIFETIME / 2
        return self._metadata


def check_node(context, secret: bytes) -> _token.TokenClaims:
    """Admit a call from another server of this cluster (storage's control calls), or raise."""
    scheme, credential = presented(context)
    if scheme != "Node":
        raise unauthenticated("storage control calls need a node token of this cluster")
    try:
        claims = _token.verify(secret, bytes.fromhex(credential))
    except ValueError as exc:
        raise unauthenticated(str(exc)) from None
    if claims.role != _token.ROLE_NODE:
        raise unauthenticated("not a node token")
    return claims
