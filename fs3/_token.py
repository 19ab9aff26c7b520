"""Data-plane tokens: proof, checked by storage nodes, that a client was admitted by the meta service.

Meta signs ``(expiry, uid, gid, client)`` with the cluster's secret (HMAC-SHA256); storage nodes receive
the secret when they register and verify the signature and expiry of the token a client presents in its
data-plane HELLO. Pure functions; no I/O.
"""

from __future__ import annotations

import hashlib
import hmac
import struct
import time
from dataclasses import dataclass

_BODY = struct.Struct("<BQII")  # format, expiry (unix seconds), uid, gid
FORMAT = 1
MAC_SIZE = 32


@dataclass(frozen=True)
class TokenClaims:
    expiry: int
    uid: int
    gid: int
    client: str


def sign(secret: bytes, claims: TokenClaims) -> bytes:
    body = _BODY.pack(FORMAT, claims.expiry, claims.uid, claims.gid) + claims.client.encode()[:255]
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
    fmt, expiry, uid, gid = _BODY.unpack_from(body)
    if fmt != FORMAT:
        raise ValueError(f"unknown token format {fmt}")
    if expiry < (time.time() if now is None else now):
        raise ValueError("token expired")
    return TokenClaims(expiry, uid, gid, body[_BODY.size :].decode(errors="replace"))
