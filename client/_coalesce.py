"""Group commit for concurrent calls: the calls that arrive while a batch is on its way go out together in
the next one, so sixteen concurrent ``read(path, ...)`` cost a round trip or two, not sixteen.

A caller's batch is always sent after the caller called, never joined while already in flight: its answer
is never older than the call, so close-to-open (docs/consistency.md) holds as for a call of its own."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

MAX_BATCH = 256


class Coalescer:
    """``await coalescer(item)`` gives ``send([...items])``'s result for ``item``. ``send`` returns one
    result per item, in order; a result that is an exception is raised to that item's caller alone, and
    an exception ``send`` raises goes to every caller of its batch. At most ``in_flight`` batches are
    out at once."""

    def __init__(self, send: Callable[[list], Awaitable[list]], *, in_flight: int = 1, max_batch: int = MAX_BATCH):
        self._send = send
        self._in_flight = in_flight
        self._max_batch = max_batch
        self._queue: list[tuple[Any, asyncio.Future]] = []
        self._running = 0
        self._tasks: set[asyncio.Task] = set()

    async def __call__(self, item):
        future = asyncio.get_running_loop().create_future()
        self._queue.append((item, future))
        if self._running < self._in_flight:
            self._running += 1
            task = asyncio.ensure_future(self._drain())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return await future

    async def _drain(self) -> None:
        try:
            while self._queue:
                batch = [(item, f) for item, f in self._queue[:self._max_batch] if not f.done()]
                del self._queue[:self._max_batch]  # (a cancelled caller's item is skipped above)
                if batch:
                    await self._answer(batch)
        except asyncio.CancelledError:  # the client closes: nobody will send what is queued
            for _, f in self._queue:
                f.cancel()
            self._queue.clear()
            raise
        finally:
            self._running -= 1

    async def _answer(self, batch: list[tuple[Any, asyncio.Future]]) -> None:
        try:
            results = await self._send([item for item, _ in batch])
        except BaseException as exc:  # handed to every caller of the batch
            cancelled = isinstance(exc, asyncio.CancelledError)
            for _, f in batch:
                if not f.done():
                    f.cancel() if cancelled else f.set_exception(exc)
            if cancelled:
                raise
            return
        for (_, f), result in zip(batch, results, strict=True):
            if f.done():
                continue
            if isinstance(result, BaseException):
                f.set_exception(result)
            else:
                f.set_result(result)
