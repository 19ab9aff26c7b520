"""The data-plane capabilities a client holds (fs3/_capability.py), per file and access: installed from
meta's replies (Open, Stat, BatchStat), presented to storage nodes before the reads and writes they
cover, and renewed at meta, many in one call, when they are about to lapse.

Capabilities of open files are pinned while the file is open; the others are kept while there is room
(``MAX_HELD``) and then the oldest go first. A write capability of a file a quota counts reaches only so
far into the file; ``write`` asks meta for more room (ExtendWrite) before a write past it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from fs3 import _capability
from fs3._errors import PermissionDenied, error_for
from fs3.proto import meta_pb2

MAX_HELD = 65536
Key = tuple[int, int]  # (inode, access)


class _Held:
    __slots__ = ("raw", "expiry", "limit", "pins")

    def __init__(self, raw: bytes, pins: int):
        self.pins = pins
        self.take(raw)

    def take(self, raw: bytes) -> None:
        cap = _capability.fields(raw)
        self.raw, self.expiry, self.limit = raw, cap.expiry, cap.limit


class Capabilities:
    """``renew`` sends a RenewCapabilitiesRequest to meta and returns its reply; ``extend`` an
    ExtendWriteRequest (None: this client never writes past what it holds)."""

    def __init__(self, renew: Callable[[meta_pb2.RenewCapabilitiesRequest], Awaitable[meta_pb2.RenewCapabilitiesReply]],
                 extend: Callable[[meta_pb2.ExtendWriteRequest], Awaitable[Any]] | None = None):
        self._renew_call = renew
        self._extend_call = extend
        self._held: dict[Key, _Held] = {}
        # A write capability names its write session. Several files of one inode open for writing in
        # this client share the held one: when its session ends, another open session's takes its place.
        self._writers: dict[int, dict[int, bytes]] = {}  # inode -> session -> its write capability
        self._renewing = asyncio.Lock()
        self._extending = asyncio.Lock()

    def install(self, raw: bytes, *, pin: bool = False) -> Key | None:
        """Keep a capability meta issued (b"": none was); ``pin``: until ``unpin``. Returns its key."""
        if not raw:
            return None
        cap = _capability.fields(raw)
        key = (cap.inode, cap.access)
        if pin and cap.access == _capability.WRITE and cap.session:
            self._writers.setdefault(cap.inode, {})[cap.session] = raw
        held = self._held.pop(key, None)  # (re-inserted: the newest go last)
        pins = (held.pins if held is not None else 0) + pin
        self._held[key] = _Held(raw, pins)
        if len(self._held) > MAX_HELD:
            self._evict()
        return key

    def unpin(self, key: Key | None, *, drop: bool = False, session: int = 0) -> None:
        """A file let go of ``key``; ``session``: the write session that ended with it."""
        held = self._held.get(key) if key is not None else None
        if key is not None and key[1] == _capability.WRITE and session:
            live = self._writers.get(key[0], {})
            live.pop(session, None)
            if not live:
                self._writers.pop(key[0], None)
            elif held is not None and _capability.fields(held.raw).session == session:
                held.take(next(iter(live.values())))  # a live session's, renewed before it is presented
                held.expiry = 0
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
                    held.take(raw)
            if refused is not None and any(k not in self._held for k in keys):
                raise refused

    async def write(self, inode: int, end: int) -> bytes:
        """The write capability for ``inode``, reaching at least byte ``end`` of the file: more room is
        reserved at meta first where it does not (QuotaExceeded when a quota has none)."""
        key = (inode, _capability.WRITE)
        ((_, raw),) = await self.get([key])
        held = self._held[key]
        if held.limit >= end:
            return raw
        if self._extend_call is None:
            raise PermissionDenied(f"Permission denied: this client cannot write past byte {held.limit} "
                                   f"of inode {inode}")
        async with self._extending:
            held = self._held.get(key) or held
            if held.limit < end:
                reply = await self._extend_call(meta_pb2.ExtendWriteRequest(capability=held.raw, end=end))
                held.take(reply.capability)
                self._held.setdefault(key, held)
            return held.raw

    def _evict(self) -> None:
        now = time.time()
        unpinned = [k for k, h in self._held.items() if not h.pins]
        lapsed = [k for k in unpinned if self._held[k].expiry < now]
        for key in lapsed or unpinned[: len(unpinned) // 2 + 1]:
            del self._held[key]
