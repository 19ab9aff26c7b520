"""Following what other clients change, for a client that caches attributes (a mount's kernel).

Each meta server publishes the inodes changed through it (meta/_change_feed.py); ``ChangeWatcher``
long-polls every meta server the client knows and hands ``notify`` each batch of changes, or None when
a feed cannot say what changed (the server restarted, could not be reached, or the watcher fell behind):
then everything cached may be stale.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from fs3._errors import FS3Error
from fs3.proto import meta_pb2

from ._meta import MetaConnection

log = logging.getLogger(__name__)

WAIT = 10.0          # how long one call waits for a change
IDLE_POLL = 0.2      # between calls a busy server answered at once, without a change
RETRY = 1.0          # between tries of a server that cannot be reached

Notify = Callable[[list[meta_pb2.InodeChange] | None], None]


class ChangeWatcher:
    def __init__(self, meta: MetaConnection, notify: Notify, *, wait: float = WAIT):
        self._meta = meta
        self._notify = notify
        self._wait = wait
        self.ready = asyncio.Event()  # every known server's feed was reached once (or given up on)
        self._at: dict[str, tuple[int, int]] = {}  # address -> (epoch, last change handed to notify)

    async def run(self) -> None:
        """Follow every meta server's feed until cancelled (servers learned later are followed too)."""
        tasks: dict[str, asyncio.Task] = {}
        first: list[asyncio.Event] = []
        try:
            while True:
                for address in list(self._meta.addresses):
                    if address not in tasks:
                        reached = asyncio.Event()
                        first.append(reached)
                        tasks[address] = asyncio.create_task(self._follow(address, reached))
                if not self.ready.is_set():
                    await asyncio.wait([asyncio.create_task(e.wait()) for e in first], timeout=self._wait)
                    self.ready.set()
                await asyncio.sleep(self._wait)
        finally:
            for t in tasks.values():
                t.cancel()
            await asyncio.gather(*tasks.values(), return_exceptions=True)

    async def pending(self) -> list[meta_pb2.InodeChange] | None:
        """The changes made after those handed to ``notify`` so far, asked of every server now (they
        reach ``notify`` later too); None when a feed cannot say. A client calls it where it must see
        every change made before (a lock was granted: the last holder's changes)."""
        out: list[meta_pb2.InodeChange] = []
        for address, (epoch, after) in list(self._at.items()):
            try:
                reply = await self._meta.watch(address, epoch, after, 0.0)
            except FS3Error:
                return None
            if reply.reset:
                return None
            out += reply.changes
        return out

    async def _follow(self, address: str, reached: asyncio.Event) -> None:
        epoch, after, lost = 0, 0, False
        while True:
            loop = asyncio.get_running_loop()
            asked = loop.time()
            try:
                reply = await self._meta.watch(address, epoch, after, self._wait)
            except FS3Error as exc:
                if not lost:
                    log.info("cannot follow the changes of meta %s (%s): cached attributes expire on "
                             "their own until it answers", address, exc)
                lost = True
                self._at.pop(address, None)
                reached.set()
                await asyncio.sleep(RETRY)
                continue
            reached.set()
            if reply.reset or lost:  # what changed meanwhile is unknown
                if epoch:
                    self._notify(None)
                if lost:
                    log.info("following the changes of meta %s again", address)
                epoch, after, lost = reply.epoch, reply.last, False
                self._at[address] = (epoch, after)
                continue
            if reply.changes:
                self._notify(list(reply.changes))
            after = reply.last
            self._at[address] = (epoch, after)
            if not reply.changes and loop.time() - asked < self._wait / 2:
                await asyncio.sleep(IDLE_POLL)  # the server did not wait (it has watchers enough)
