"""Authentication shared by clients and servers: user tokens on gRPC calls, node tokens between
servers, and where a client finds its token.

A user token is a random string (``fs3_...``) handed out by ``fs3 user add`` / ``fs3 user token``; meta
stores only its SHA-256 digest. Calls carry it as ``authorization: Bearer <token>``. Servers calling
storage nodes (meta's chunk reclamation, recovery between nodes) carry a node token signed with the
cluster secret instead (``authorization: Node <hex>``, see ``_token``).

A client's token comes from, in order: the ``token=`` argument, ``FS3_TOKEN``, the file named by
``FS3_TOKEN_FILE``, or the admin token of a local cluster started by ``fs3 up`` (readable only by the
user who started it). A token file named in ``FS3_TOKEN_FILE`` that cannot be read, or is empty, is an
error: never a quiet fall back to the next source, which could be the admin token (``locate_token``
says which source gave the token, for ``fs3 user whoami``).
"""

from __future__ import annotations

import errno
import hashlib
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

from . import _token
from ._errors import InvalidArgument, IsADirectory, NotFound, PermissionDenied

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


ARGUMENT = "argument"
LOCAL_CLUSTER = "local cluster"
NO_TOKEN = "none"


@dataclass(frozen=True)
class FoundToken:
    """A client's token and where it came from: ``source`` is ``"argument"``, ``"FS3_TOKEN"``,
    ``"FS3_TOKEN_FILE"`` or ``"local cluster"`` (``path``: the file read), or ``"none"``."""

    token: str | None
    source: str
    path: Path | None = None

    def describe(self) -> str:
        """Where the token came from, for a human."""
        if self.source == ENV_TOKEN_FILE:
            return f"{ENV_TOKEN_FILE}={self.path}"
        if self.source == LOCAL_CLUSTER:
            return f"the local cluster's admin token at {self.path}"
        if self.source == NO_TOKEN:
            return "no token"
        return self.source


def locate_token(explicit: str | None = None, cluster_dir: str | os.PathLike | None = None) -> FoundToken:
    """The token a client presents and its source (see the module docstring). A token file named in
    ``FS3_TOKEN_FILE`` that cannot be read or is empty raises (``NotFound``, ``PermissionDenied``,
    ``IsADirectory`` or ``InvalidArgument``) naming it and why; a blank ``FS3_TOKEN`` raises too."""
    if explicit:
        return FoundToken(explicit, ARGUMENT)
    env = os.environ.get(ENV_TOKEN)
    if env:
        if not env.strip():
            raise InvalidArgument(f"Invalid argument: {ENV_TOKEN} is set but blank: set it to your token, "
                                  "or unset it")
        return FoundToken(env.strip(), ENV_TOKEN)
    named = os.environ.get(ENV_TOKEN_FILE)
    if named:
        return FoundToken(_read_named(named), ENV_TOKEN_FILE, Path(named))
    if cluster_dir:
        path = Path(cluster_dir) / TOKEN_FILE
        try:
            token = read_token_file(path)
        except OSError:
            token = ""  # not this user's cluster (its token is 0600): go on without a token
        if token:
            return FoundToken(token, LOCAL_CLUSTER, path)
    return FoundToken(None, NO_TOKEN)


def _read_named(path: str) -> str:
    fix = f"fix the path, or unset {ENV_TOKEN_FILE} (no other token is used instead)"
    try:
        token = read_token_file(path)
    except OSError as exc:
        cls = {errno.ENOENT: NotFound, errno.EACCES: PermissionDenied, errno.EPERM: PermissionDenied,
               errno.EISDIR: IsADirectory}.get(exc.errno or 0, InvalidArgument)
        why = exc.strerror or str(exc)
        raise cls(f"{ENV_TOKEN_FILE}={path} cannot be read ({why}): {fix}") from None
    except UnicodeDecodeError:
        raise InvalidArgument(f"{ENV_TOKEN_FILE}={path} is not a token file (not text): {fix}") from None
    if not token:
        raise InvalidArgument(f"{ENV_TOKEN_FILE}={path} is empty: {fix}")
    return token


def find_token(explicit: str | None = None, cluster_dir: str | os.PathLike | None = None) -> str | None:
    """The token a client presents (see the module docstring), or None; raises as ``locate_token``."""
    return locate_token(explicit, cluster_dir).token


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
