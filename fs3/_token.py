"""Data-plane tokens: proof, checked by storage nodes, that a client was admitted by the meta service.

Meta signs ``(role, expiry, uid, gid, client)`` with the cluster's secret (HMAC-SHA256); storage nodes
receive the secret when they register and verify the signature and expiry of the token a peer presents
in its data-plane HELLO. Meta signs client tokens only; storage nodes sign node tokens for one another
(only a node may forward chain updates). Pure functions; no I/O.
"""

from __future__ import annotations

import hashlib
import hmac
import struct
import time
from dataclasses import dataclass

_BODY = struct.Struct("<BBQII")  # format, role, expiry (unix seconds), uid, gid
FORMAT = 2
MAC_SIZE = 32
ROLE_CLIENT = 1
ROLE_NODE = 2


@dataclass(frozen=True)
class TokenClaims:
    expiry: int
    uid: int
    gid: int
    client: str
    role: int = ROLE_CLIENT


def sign(secret: bytes, claims: TokenClaims) -> bytes:
    body = _BODY.pack(FORMAT, claims.role, claims.expiry, claims.uid, claims.gid) + claims.client.encode()[:255]
    return body + hmac.new(secret, body, hashlib.sha256).digest()


def verify(secret: bytes, token: bytes, *, now: float | None = None) -> TokenClaims:
    """The token's claims; raises ``ValueError`` with the reason when it is forged, malformed or expired."""
    if not secret:
        raise ValueError("this node has no cluster secret yet (not registered with meta)")
    if len(token) < _BODY.size + MAC_SIZE:
        raise ValueError("malformed token")
    body, mac = token[:-MAC_SIZE], token[-MAC_SIZE:]
    if not hmac.compare_digest(mac, hmac.new(secret, body, hashlib.sha256).digest()):
        raise ValueError("token signature does not match this cluster")
    fmt, role, expiry, uid, gid = _BODY.unpack_from(body)
    if fmt != FORMAT:
        raise ValueError(f"unknown token format {fmt}")
    if expiry < (time.time() if now is None else now):
        raise ValueError("token expired")
    return TokenClaims(expiry, uid, gid, body[_BODY.size :].decode(errors="replace"), role)
