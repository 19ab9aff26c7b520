"""Retrying until a deadline: the pauses between tries, and waiting for a condition.

One shape for every loop that tries again (a call through failover, a registration, a start-up wait):

    backoff = Backoff(30.0)              # gives up 30 s from now; pauses 0.05, 0.1, 0.2 ... 1.0 s
    while True:
        try:
            return attempt()
        except Unavailable:
            if backoff.expired:
                raise
            backoff.sleep()              # or: await backoff.asleep(); or: stop.wait(backoff.next_delay())

and ``poll(check, deadline, interval=..., error=...)`` for waiting until something holds (a file is
written, a process serves, nodes registered). The clock and the sleep are injectable, so the tests of a
loop's timing advance a fake clock instead of waiting.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable
from typing import TypeVar

from ._errors import Unavailable

T = TypeVar("T")

Clock = Callable[[], float]


class Deadline:
    """A point in time ``timeout`` seconds after its creation, on a monotonic ``clock`` (``math.inf``:
    never). Several waits may share one: a start-up's steps all count against the same budget."""

    __slots__ = ("at", "_clock")

    def __init__(self, timeout: float, *, clock: Clock = time.monotonic):
        self._clock = clock
        self.at = clock() + timeout

    @property
    def remaining(self) -> float:
        """Seconds left (0 once passed)."""
        return max(0.0, self.at - self._clock())

    @property
    def expired(self) -> bool:
        """Whether the deadline has come (with nothing left, a loop's last try was its last)."""
        return self._clock() >= self.at


class Backoff(Deadline):
    """A deadline and the growing pauses of a retry loop: ``first``, then each ``factor`` times the
    last, at most ``cap`` seconds, and never past the deadline (the last try comes as it passes)."""

    __slots__ = ("delay", "cap", "factor")

    def __init__(self, timeout: float = math.inf, *, first: float = 0.05, cap: float = 1.0, factor: float = 2.0,
                 clock: Clock = time.monotonic):
        # Deadline's fields set here rather than through super(): a chunk read makes one per call.
        self._clock = clock
        self.at = clock() + timeout
        self.delay = first  # the next pause, before clipping
        self.cap = cap
        self.factor = factor

    def next_delay(self) -> float:
        """The pause before the next try (clipped to what remains), growing the one after it."""
        delay = self.delay
        self.delay = min(delay * self.factor, self.cap)
        remaining = self.at - self._clock()
        if remaining < delay:
            return max(0.0, remaining)
        return delay

    def sleep(self, sleep: Callable[[float], object] = time.sleep) -> None:
        """Pause before the next try (on this thread)."""
        sleep(self.next_delay())

    async def asleep(self) -> None:
        """Pause before the next try (on the running event loop)."""
        await asyncio.sleep(self.next_delay())


def poll(check: Callable[[], T | None], deadline: Deadline | float, *, interval: float = 0.05,
         error: Callable[[], BaseException] | str, sleep: Callable[[float], object] = time.sleep) -> T:
    """Call ``check`` every ``interval`` seconds until it returns something other than None or False,
    and return that. ``deadline``: a ``Deadline``, or seconds from now. When it passes, raises
    ``error()`` (or ``Unavailable(error)`` for a message). An exception ``check`` raises (the process
    it waits for exited, say) ends the wait at once."""
    if not isinstance(deadline, Deadline):
        deadline = Deadline(deadline)
    while True:
        result = check()
        if result is not None and result is not False:
            return result
        if deadline.expired:
            raise Unavailable(error) if isinstance(error, str) else error()
        sleep(min(interval, deadline.remaining))
