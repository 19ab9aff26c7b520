"""What one data-plane connection may touch: the capabilities (fs3/_capability.py) its client presented
in GRANT frames, kept per file as "may read until" and "may write until" (with how far into the file, and
in chunks of which size), so that checking an item costs one dictionary lookup.

A capability must be genuine and the user's whose token opened the connection; a forged one or another
user's closes the connection (an attack, not a mistake). One that has lapsed (expired, retired key) is
ignored: the items it was meant for fail with CAPABILITY_REFUSED and the client renews it at meta.
Connections from other storage nodes carry node credentials and have no grants to check.
"""

from __future__ import annotations

from fs3 import _capability, _wire
from fs3._errors import FS3Error, Status

MAX_FILES = 65536  # files one connection holds capabilities for (per access); then room is made


class Grants:
    __slots__ = ("_keys", "uid", "read", "write", "lapsed")

    def __init__(self, keys: _capability.CapabilityKeys, uid: int):
        self._keys = keys
        self.uid = uid
        self.read: dict[int, int] = {}   # inode -> expiry (unix seconds)
        self.write: dict[int, _capability.Capability] = {}  # inode -> the newest write capability
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
            if cap.access == _capability.READ:
                _room(self.read, cap.inode, now, lambda until: until)
                self.read[cap.inode] = max(cap.expiry, self.read.get(cap.inode, 0))
                continue
            _room(self.write, cap.inode, now, lambda held: held.expiry)
            held = self.write.get(cap.inode)
            if held is None or cap.expiry >= held.expiry:  # the newest says how far (a reservation only grows)
                self.write[cap.inode] = cap

    def check_write(self, item: _wire.WriteItem, now: float) -> None:
        """Raise unless this connection holds a live write capability for the item's file that covers
        it: CAPABILITY_REFUSED without one (the client renews it), EDQUOT past the file's reservation."""
        held = self.write.get(item.inode)
        if held is None or held.expiry < now:
            raise FS3Error("no write capability", status=Status.CAPABILITY_REFUSED)
        if held.chunk_size and item.chunk_size != held.chunk_size:
            raise FS3Error(f"write with chunk size {item.chunk_size} to a file of chunk size {held.chunk_size}",
                           status=Status.PERMISSION_DENIED)
        if item.index * item.chunk_size + item.offset + item.length > held.limit:
            raise FS3Error(f"Disk quota exceeded: write past byte {held.limit} of inode {item.inode}, the room "
                           "its quota reserved (ask meta to extend the write)", status=Status.QUOTA_EXCEEDED)

    def check_chain(self, item: _wire.WriteItem, table_chain) -> None:
        """Raise unless the item's chunk belongs on the chain it was sent to (``table_chain(table id,
        position)``: the node's routing, which knows every chain it serves and the tables holding them):
        a file's chunks stay on its own chains, where its removal reclaims them."""
        held = self.write.get(item.inode)
        if held is None or not held.stripe:
            return
        position = (held.chain_start + item.index % held.stripe) % held.table_len
        if table_chain(held.table_id, position) != item.chain_id:
            raise FS3Error(f"chunk {item.inode}:{item.index} belongs on another chain than {item.chain_id}",
                           status=Status.PERMISSION_DENIED)


def _room(held: dict, inode: int, now: float, expiry) -> None:
    """Make room for one more file: those lapsed go, or (none lapsed) the oldest half (a client presents
    one again when refused)."""
    if len(held) >= MAX_FILES and inode not in held:
        lapsed = [k for k, value in held.items() if expiry(value) < now]
        for key in lapsed or list(held)[: MAX_FILES // 2]:
            del held[key]
