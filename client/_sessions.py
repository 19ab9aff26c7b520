"""The write sessions a client holds at meta: one per file open for writing. Meta keeps a file's chunks
while a session is open and prunes sessions nobody renews (a crashed writer), so an open session is
renewed every RENEW_INTERVAL, or more often when meta's session TTL (in its replies) asks for it; at close it ends with the length the writer reached, or, for a file closed
without a write, is released without waiting (``SessionReleases``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence

from fs3.proto import meta_pb2

from ._releases import SessionReleases

log = logging.getLogger(__name__)

RENEW_INTERVAL = 15.0  # how often open write sessions are renewed (meta prunes them after 60 s unrenewed)
RENEWALS_PER_TTL = 4   # ... and at least this often within meta's session TTL, when that is shorter


class WriteSessions:
    """This client's open write sessions, and the task that renews them (owned here: cancelled and
    awaited by ``close``)."""

    def __init__(self, meta: Callable[..., Awaitable]):
        self._meta = meta                            # MetaConnection: meta(method, request)
        self._open: set[tuple[int, int]] = set()     # (inode, session)
        self._renewer: asyncio.Task | None = None
        self.releases = SessionReleases(meta)        # sessions of files closed unwritten
        self.lock_client = ""                        # set once this client took a lock: its lease is renewed too
        self.interval = RENEW_INTERVAL               # seconds between renewals

    def opened(self, inode: int, session: int, ttl: float = 0.0) -> None:
        """A session meta prunes if not renewed for ``ttl`` seconds (0: unknown, an older meta)."""
        self._open.add((inode, session))
        self._learn(ttl)
        self._start()

    def locking(self, client: str, ttl: float = 0.0) -> None:
        """This client holds locks at meta: renew its lock lease (``ttl`` long) from now on (ops/lock.py)."""
        self.lock_client = client
        self._learn(ttl)
        self._start()

    def _learn(self, ttl: float) -> None:
        if ttl > 0:
            self.interval = min(self.interval, max(ttl / RENEWALS_PER_TTL, 0.05))

    def _start(self) -> None:
        if self._renewer is None or self._renewer.done():
            self._renewer = asyncio.get_running_loop().create_task(self._renew())
            self._renewer.add_done_callback(_said)

    async def close(self, inode: meta_pb2.Inode, session: int, wrote: bool, written_end: int,
                    chunks: Sequence[int] = (), rename: tuple[str, str, str] | None = None) -> meta_pb2.Inode:
        """End a session: the file's length becomes at least ``written_end``; ``chunks`` are those it
        wrote (meta counts the bytes stored: st_blocks); returns the inode. ``rename``: (the file's path,
        its new path, a request id), renamed in the same transaction; should that fail, nothing happened
        and the session is still open."""
        request = meta_pb2.CloseRequest(inode=inode.id, session=session, wrote=wrote, written_end=written_end,
                                        chunks=chunks)
        if rename is not None:
            request.rename_from, request.rename_to, request.request_id = rename
        reply = await self._meta("Close", request)
        self._open.discard((inode.id, session))
        if rename is not None and not reply.renamed:  # a meta server from before rename_to: closed only
            moved = await self._meta("Rename", meta_pb2.RenameRequest(src=rename[0], dst=rename[1],
                                                                     request_id=rename[2] + "-rename"))
            return moved.inode
        return reply.inode

    async def commit(self, inode: meta_pb2.Inode, session: int, written_end: int,
                     chunks: Sequence[int] = ()) -> meta_pb2.Inode:
        """Settle what a session wrote so far (as ``close`` does) and keep the session open."""
        return (await self._meta("Close", meta_pb2.CloseRequest(
            inode=inode.id, session=session, wrote=True, written_end=written_end, chunks=chunks, keep=True,
        ))).inode

    def release(self, inode: meta_pb2.Inode, session: int) -> None:
        """End the session of a file closed without a write, without waiting."""
        self._open.discard((inode.id, session))
        self.releases.add(inode.id, session)

    async def _renew(self) -> None:
        while self._open or self.lock_client:
            await asyncio.sleep(self.interval)
            pairs = list(self._open)
            if not pairs and not self.lock_client:
                return
            try:
                await self._meta("RenewSessions", meta_pb2.RenewSessionsRequest(
                    inodes=[i for i, _ in pairs], sessions=[s for _, s in pairs], lock_client=self.lock_client))
            except OSError:
                pass  # tried again next round; a session outliving its lease only loses its hold

    async def aclose(self) -> None:
        """Send the releases still waiting and stop renewing (the client is closing)."""
        await self.releases.close()
        renewer, self._renewer = self._renewer, None
        if renewer is not None:
            renewer.cancel()
            # Waits for the renewer to end without raising what it ended with (its cancellation, or a
            # failure _said reported): only a cancellation of this close itself comes through.
            await asyncio.wait([renewer])


def _said(task: asyncio.Task) -> None:
    """A renewer that failed (a bug: errors of meta are retried) says so at once, not only at close."""
    if not task.cancelled() and task.exception() is not None:
        log.error("renewing write sessions failed; open files may lose their sessions",
                  exc_info=task.exception())
