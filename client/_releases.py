"""Write sessions of files closed without a write, on their way to meta.

Nothing about such a file changes at close, so its writer does not wait: the release rides along with
the client's next open (``OpenRequest.release_*``, ended in that open's transaction), or goes alone as a
Close after RELEASE_DELAY. A release that is lost leaves the session to expire unrenewed, which only
delays reclaiming the file's chunks if it is removed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from fs3.proto import meta_pb2

RELEASE_DELAY = 0.2    # a release waits this long for an open to ride along
MAX_RELEASES = 256     # releases one open carries at most


class SessionReleases:
    def __init__(self, meta: Callable[..., Awaitable]):
        self._meta = meta                              # MetaConnection: meta(method, request)
        self._waiting: list[tuple[int, int]] = []      # (inode, session)
        self._timer: asyncio.TimerHandle | None = None
        self._closing: set[asyncio.Task] = set()       # Close calls of their own, in flight

    def add(self, inode: int, session: int) -> None:
        self._waiting.append((inode, session))
        self._schedule()

    def take(self) -> list[tuple[int, int]]:
        """Releases for an open to carry."""
        taken, self._waiting = self._waiting[:MAX_RELEASES], self._waiting[MAX_RELEASES:]
        return taken

    def put_back(self, released: list[tuple[int, int]]) -> None:
        """An open that carried these failed, so it ended none of them."""
        if released:
            self._waiting[:0] = released
            self._schedule()

    def _schedule(self) -> None:
        if self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(RELEASE_DELAY, self.flush)

    def flush(self) -> None:
        """Send every waiting release as a Close of its own."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        waiting, self._waiting = self._waiting, []
        for ino, session in waiting:
            task = asyncio.ensure_future(self._meta("Close", meta_pb2.CloseRequest(inode=ino, session=session)))
            self._closing.add(task)
            task.add_done_callback(self._closed)

    def _closed(self, task: asyncio.Task) -> None:
        self._closing.discard(task)
        if not task.cancelled():
            task.exception()  # retrieved, not raised: a lost release only lets the session expire

    async def close(self, timeout: float = 5.0) -> None:
        """End every session still waiting (the client is closing), rather than let them expire."""
        self.flush()
        if self._closing:
            await asyncio.wait(set(self._closing), timeout=timeout)
