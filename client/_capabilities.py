"""The data-plane capabilities a client holds (fs3/_capability.py), per file and access: installed from
meta's replies (Open, Stat, BatchStat), presented to storage nodes before the reads and writes they
cover, and renewed at meta, many in one call, when they are about to lapse.

Capabilities of open files are pinned while the file is open; the others are kept while there is room
(``MAX_HELD``) and then the oldest go first.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable

from fs3 import _capability
from fs3._errors import PermissionDenied, error_for
from fs3.proto import meta_pb2

MAX_HELD = 65536
Key = tuple[int, int]  # (inode, access)


class _Held:
    __slots__ = ("raw", "expiry", "pins")

    def __init__(self, raw: bytes, expiry: int, pins: int):
        self.raw, self.expiry, self.pins = raw, expiry, pins


class Capabilities:
    """``renew`` sends a RenewCapabilitiesRequest to meta and returns its reply."""

    def __init__(self, renew: Callable[[meta_pb2.RenewCapabilitiesRequest], Awaitable[meta_pb2.RenewCapabilitiesReply]]):
        self._renew_call = renew
        self._held: dict[Key, _Held] = {}
        self._renewing = asyncio.Lock()

    def install(self, raw: bytes, *, pin: bool = False) -> Key | None:
        """Keep a capability meta issued (b"": none was); ``pin``: until ``unpin``. Returns its key."""
        if not raw:
            return None
        cap = _capability.fields(raw)
        key = (cap.inode, cap.access)
        held = self._held.pop(key, None)  # (re-inserted: the newest go last)
        pins = (held.pins if held is not None else 0) + pin
        self._held[key] = _Held(raw, cap.expiry, pins)
        if len(self._held) > MAX_HELD:
            self._evict()
        return key

    def unpin(self, key: Key | None, *, drop: bool = False) -> None:
        held = self._held.get(key) if key is not None else None
        if held is not None:
            held.pins = max(0, held.pins - 1)
            if drop and not held.pins:
                del self._held[key]  # type: ignore[arg-type]

    def has(self, inode: int, access: int) -> bool:
        return (inode, access) in self._held

    def lapse(self, inode: int, access: int) -> None:
        """A storage node refused this one: renew it before it is presented again."""
        held = self._held.get((inode, access))
        if held is not None:
            held.expiry = 0

    async def get(self, keys: Iterable[Key]) -> list[tuple[Key, bytes]]:
        """The capabilities for ``keys``, renewed first where they are about to lapse; raises
        PermissionDenied for a file the client holds none for, or the reason meta refused a renewal."""
        keys = list(dict.fromkeys(keys))
        soon = time.time() + _capability.RENEW_MARGIN
        held = self._held
        stale = []
        for key in keys:
            h = held.get(key)
            if h is None:
                raise PermissionDenied(f"Permission denied: no {_capability.ACCESS_NAMES[key[1]]} capability "
                                       f"for inode {key[0]} (open or stat the file through this client first)")
            if h.expiry < soon:
                stale.append(key)
        if stale:
            await self._renew(stale)
        return [(key, held[key].raw) for key in keys]

    async def _renew(self, keys: list[Key]) -> None:
        async with self._renewing:  # one renewal at a time: those waiting find theirs done
            soon = time.time() + _capability.RENEW_MARGIN
            due = [k for k in keys if k in self._held and self._held[k].expiry < soon]
            if not due:
                return
            reply = await self._renew_call(meta_pb2.RenewCapabilitiesRequest(
                capabilities=[self._held[k].raw for k in due]))
            refused = None
            for key, raw, status, message in zip(due, reply.capabilities, reply.status, reply.message,
                                                 strict=True):
                held = self._held.get(key)
                if status or not raw:
                    self._held.pop(key, None)
                    refused = refused or error_for(status, message or "capability renewal refused")
                elif held is not None:
                    held.raw, held.expiry = raw, _capability.fields(raw).expiry
            if refused is not None and any(k not in self._held for k in keys):
                raise refused

    def _evict(self) -> None:
        now = time.time()
        unpinned = [k for k, h in self._held.items() if not h.pins]
        lapsed = [k for k in unpinned if self._held[k].expiry < now]
        for key in lapsed or unpinned[: len(unpinned) // 2 + 1]:
            del self._held[key]
