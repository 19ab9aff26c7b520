"""Data-plane capabilities: meta's proof, checked by storage nodes, that a user may read or write one file.

Meta issues a capability with each open (and with a stat that asks for one) after checking the POSIX
permissions along the path; it is bound to the file (inode), the access (read or write), the write
session (writes only: no session, no write), the user (uid, which must match the data-plane token the
connection presented) and an expiry ``LIFETIME`` seconds ahead. Clients renew what they still use before
it expires, and meta checks the file's permissions (and, for writes, that the session lives) again each
time; a removed user or revoked token gets no renewal, so data access ends within ``LIFETIME`` seconds
plus meta's user cache (see docs/security.md).

A write capability also names the file's chunk size, how far into the file it lets the holder write
(``limit``, in bytes: ``UNLIMITED`` unless a quota applies to the file, in which case it is the room
meta reserved for the file against its quotas; the client asks for more with ExtendWrite), and the
file's chains: a layout is ``stripe`` consecutive chains of chain table ``table_id`` from position
``chain_start``, wrapping at the table's length then (``table_len``; tables only grow), so chunk ``i``
belongs on ``table[(chain_start + i % stripe) % table_len]`` and nowhere else.

Capabilities are signed (HMAC-SHA256, truncated to 128 bits) with keys that only meta and the storage
nodes can derive from the cluster secret: key ``k`` signs what is issued during the ``k``-th
``KEY_PERIOD``, and a verifier accepts the current key and the one before it (the overlap), so a key
retires after at most two periods. Anyone can read a capability's fields; no one without the keys can
make or change one. Pure functions; no I/O.
"""

from __future__ import annotations

import hashlib
import hmac
import struct
import time
from collections.abc import Callable
from typing import NamedTuple

READ = 1
WRITE = 2
ACCESS_NAMES = {READ: "read", WRITE: "write"}
FORMAT = 3
LIFETIME = 20            # seconds a capability is good for
RENEW_MARGIN = 10        # a client renews a capability with less than this left
KEY_PERIOD = 3600        # seconds each signing key is the current one
UNLIMITED = (1 << 64) - 1  # a write capability's limit where no quota applies
# format, access, key id, inode, session, uid, expiry (unix seconds); writes: limit (bytes), chunk size,
# chain table id, chain start, stripe, table length
_BODY = struct.Struct("<BBIQQIQQIHIHI")
MAC_SIZE = 16
SIZE = _BODY.size + MAC_SIZE
_KEY_LABEL = b"fs3 data-plane capability key\0"


class Lapsed(ValueError):
    """A genuine capability no longer good for access: expired, or signed with a retired key."""


class Capability(NamedTuple):
    """What a capability says (verified only where ``verify`` returned it)."""

    access: int
    key_id: int
    inode: int
    session: int
    uid: int
    expiry: int
    limit: int = 0       # writes: how far into the file (bytes) the holder may write
    chunk_size: int = 0  # writes: the file's chunk size (what each write item must say)
    table_id: int = 0    # writes: the file's chains (see the module docstring); stripe 0: not bound
    chain_start: int = 0
    stripe: int = 0
    table_len: int = 0


class Reach(NamedTuple):
    """Where a write capability lets its holder write: see the module docstring."""

    limit: int = 0
    chunk_size: int = 0
    table_id: int = 0
    chain_start: int = 0
    stripe: int = 0
    table_len: int = 0


NO_REACH = Reach()  # read capabilities


class CapabilityKeys:
    """The signing keys, derived from the cluster secret (``secret`` is called each time: a node has
    none until it registers). Derived keys are kept, so a check costs one HMAC."""

    def __init__(self, secret: Callable[[], bytes]):
        self._secret = secret
        self._from: bytes = b""
        self._keys: dict[int, bytes] = {}

    def key(self, key_id: int) -> bytes:
        secret = self._secret()
        if not secret:
            raise ValueError("this node has no cluster secret yet (not registered with meta)")
        if secret is not self._from:
            self._from, self._keys = secret, {}
        key = self._keys.get(key_id)
        if key is None:
            key = hmac.new(secret, _KEY_LABEL + key_id.to_bytes(4, "little"), hashlib.sha256).digest()
            if len(self._keys) > 8:
                self._keys.clear()
            self._keys[key_id] = key
        return key


def key_id(now: float) -> int:
    return int(now // KEY_PERIOD) & 0xFFFFFFFF


def sign(keys: CapabilityKeys, access: int, inode: int, session: int, uid: int, *,
         reach: Reach = NO_REACH, now: float | None = None, lifetime: float = LIFETIME) -> bytes:
    now = time.time() if now is None else now
    kid = key_id(now)
    body = _BODY.pack(FORMAT, access, kid, inode, session, uid, int(now + lifetime), *reach)
    return body + hmac.new(keys.key(kid), body, hashlib.sha256).digest()[:MAC_SIZE]


def fields(raw: bytes) -> Capability:
    """A capability's fields, unverified (what a client reads to know what it holds)."""
    if len(raw) != SIZE:
        raise ValueError(f"malformed capability ({len(raw)} bytes, not {SIZE})")
    fmt, *rest = _BODY.unpack_from(raw)
    if fmt != FORMAT:
        raise ValueError(f"unknown capability format {fmt}")
    return Capability(*rest)


def verify(keys: CapabilityKeys, raw: bytes, *, now: float | None = None, expired_ok: bool = False) -> Capability:
    """The capability's fields; raises ``ValueError`` saying why when it is malformed or forged, and
    ``Lapsed`` when it is signed with a retired key or (unless ``expired_ok``: a renewal) expired."""
    cap = fields(raw)
    now = time.time() if now is None else now
    current = key_id(now)
    if cap.key_id not in (current, (current - 1) & 0xFFFFFFFF):
        raise Lapsed(f"capability signed with retired key {cap.key_id} (current {current})")
    mac = hmac.new(keys.key(cap.key_id), raw[: _BODY.size], hashlib.sha256).digest()[:MAC_SIZE]
    if not hmac.compare_digest(mac, raw[_BODY.size :]):
        raise ValueError("capability signature does not match this cluster (forged or altered)")
    if cap.access not in ACCESS_NAMES:
        raise ValueError(f"capability for unknown access {cap.access}")
    if not expired_ok and cap.expiry < now:
        raise Lapsed(f"capability expired {now - cap.expiry:.0f} s ago")
    return cap
