"""What one data-plane connection may touch: the capabilities (fs3/_capability.py) its client presented
in GRANT frames, kept per file as "may read until" and "may write until", so that checking an item costs
one dictionary lookup.

A capability must be genuine and the user's whose token opened the connection; a forged one or another
user's closes the connection (an attack, not a mistake). One that has lapsed (expired, retired key) is
ignored: the items it was meant for fail with CAPABILITY_REFUSED and the client renews it at meta.
Connections from other storage nodes carry node credentials and have no grants to check.
"""

from __future__ import annotations

from fs3 import _capability, _wire
from fs3._errors import Status

MAX_FILES = 65536  # files one connection holds capabilities for (per access); then room is made


class Grants:
    __slots__ = ("_keys", "uid", "read", "write", "lapsed")

    def __init__(self, keys: _capability.CapabilityKeys, uid: int):
        self._keys = keys
        self.uid = uid
        self.read: dict[int, int] = {}   # inode -> expiry (unix seconds)
        self.write: dict[int, int] = {}
        self.lapsed = 0                  # capabilities ignored because they had lapsed

    def take(self, payload, count: int, now: float) -> None:
        """Keep the capabilities of a GRANT frame; raises ProtocolError for a forged or foreign one."""
        size = _capability.SIZE
        if len(payload) != count * size or not 0 < count <= _wire.MAX_ITEMS:
            raise _wire.ProtocolError("malformed GRANT frame (capability count and length disagree)")
        for i in range(count):
            raw = bytes(payload[i * size : (i + 1) * size])
            try:
                cap = _capability.verify(self._keys, raw, now=now)
            except _capability.Lapsed:
                self.lapsed += 1
                continue
            except ValueError as exc:
                raise _wire.ProtocolError(f"permission denied: {exc}", Status.PERMISSION_DENIED) from None
            if cap.uid != self.uid:
                raise _wire.ProtocolError(f"permission denied: a capability of uid {cap.uid} on a connection "
                                          f"of uid {self.uid}", Status.PERMISSION_DENIED)
            held = self.read if cap.access == _capability.READ else self.write
            if len(held) >= MAX_FILES and cap.inode not in held:
                lapsed = [k for k, until in held.items() if until < now]
                # None lapsed: the oldest half goes (a client presents one again when refused).
                for inode in lapsed or list(held)[: MAX_FILES // 2]:
                    del held[inode]
            held[cap.inode] = max(cap.expiry, held.get(cap.inode, 0))
