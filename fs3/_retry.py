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

A client rides out outages of its servers (storage nodes stopped, a meta server restarting) for one
deadline, ``retry_timeout(...)``: the ``retry_timeout=`` a caller passed, else ``FS3_RETRY_TIMEOUT``, else
``DEFAULT_RETRY_TIMEOUT`` (long enough for a server to restart). ``Outage`` logs one line when calls start
waiting and one when the wait ends, and words the error of a call that gave up.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import time
from collections.abc import Callable
from typing import TypeVar

from ._errors import InvalidArgument, Unavailable

T = TypeVar("T")

Clock = Callable[[], float]

DEFAULT_RETRY_TIMEOUT = 300.0  # seconds: a storage node's or a meta server's restart, with margin
RETRY_TIMEOUT_ENV = "FS3_RETRY_TIMEOUT"
DEFAULT_UNREACHABLE_TIMEOUT = 15.0  # seconds: a chain head cut off from this client alone (one-way partition)
UNREACHABLE_TIMEOUT_ENV = "FS3_UNREACHABLE_TIMEOUT"
QUIET = 1.0  # a call failing for less than this is routine failover, not an outage worth a log line


def retry_timeout(value: float | None = None) -> float:
    """How long a client's calls keep retrying through an outage: ``value`` (a caller's
    ``retry_timeout=``), else the ``FS3_RETRY_TIMEOUT`` environment variable, else
    ``DEFAULT_RETRY_TIMEOUT``. A value that is not a number of seconds >= 0 is an ``InvalidArgument``."""
    return _seconds(value, "retry_timeout", RETRY_TIMEOUT_ENV, DEFAULT_RETRY_TIMEOUT)


def unreachable_timeout(value: float | None = None) -> float:
    """How long a write keeps trying a chain head that this client cannot reach though meta says it
    serves (a one-way partition) before it fails: ``value``, else ``FS3_UNREACHABLE_TIMEOUT``, else
    ``DEFAULT_UNREACHABLE_TIMEOUT``."""
    return _seconds(value, "unreachable_timeout", UNREACHABLE_TIMEOUT_ENV, DEFAULT_UNREACHABLE_TIMEOUT)


def _seconds(value: float | None, where: str, env: str, default: float) -> float:
    if value is None:
        raw = os.environ.get(env, "").strip()
        if not raw:
            return default
        where = env
        try:
            value = float(raw)
        except ValueError:
            raise InvalidArgument(f"Invalid argument: {env}={raw!r} is not a number of seconds") from None
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        raise InvalidArgument(f"Invalid argument: {where} must be a number of seconds, not {value!r}") from None
    if not seconds >= 0:  # (NaN too)
        raise InvalidArgument(f"Invalid argument: {where} must be a number of seconds >= 0, not {value!r}")
    return seconds


class Outage:
    """The calls of one client that are waiting for ``what`` (e.g. "storage nodes") to answer again.

    A call holds a ``Wait`` (``outage.wait()``: cheap, it joins the outage at its first failure), reports
    each failure to it (``failed``) and ends it (``end``) however it finishes. One line is logged once
    some call has been failing for ``QUIET`` seconds ("waiting"), and one when the last waiting call ends
    (back, or given up): however many calls wait at once, an outage logs two lines."""

    def __init__(self, what: str, logger: logging.Logger, *, clock: Clock = time.monotonic):
        self.what = what
        self.log = logger
        self.clock = clock
        self.waiting = 0          # calls failing now
        self.since = 0.0          # when the first of them started failing
        self.announced = False    # the "waiting" line was logged
        self.gave_up = False      # some call of this outage gave up

    def wait(self) -> Wait:
        return Wait(self)

    def _join(self, now: float) -> None:
        if self.waiting == 0:
            self.since, self.announced, self.gave_up = now, False, False
        self.waiting += 1

    def _leave(self, gave_up: bool) -> None:
        self.waiting -= 1
        self.gave_up = self.gave_up or gave_up
        if self.waiting == 0 and self.announced:
            took = self.clock() - self.since
            if self.gave_up:
                self.log.warning("%s: gave up waiting after %.1f s", self.what, took)
            else:
                self.log.warning("%s answer again after %.1f s; calls resumed", self.what, took)


class Wait:
    """One call's part in an ``Outage`` (see there)."""

    __slots__ = ("outage", "started", "last", "state")

    def __init__(self, outage: Outage):
        self.outage = outage
        self.started = 0.0
        self.last: BaseException | None = None
        self.state = 0  # 0: not failed yet; 1: failing (counted in the outage); 2: ended

    def failed(self, error: BaseException, timeout: float) -> None:
        """The call failed once with ``error`` and will try again (within ``timeout`` seconds in all)."""
        o = self.outage
        now = o.clock()
        if self.state == 0:
            self.state, self.started = 1, now
            o._join(now)
        self.last = error
        if not o.announced and now - self.started >= QUIET:
            o.announced = True
            o.log.warning("%s unavailable (%s); waiting up to %.0f s (retry_timeout) for them to answer",
                          o.what, error, timeout)

    def give_up(self, timeout: float, what: str, error: BaseException | None = None,
                cls: type[Unavailable] = Unavailable) -> Unavailable:
        """The error for a call that gave up after ``timeout`` seconds (raise it ``from`` the last error):
        it names the outage and the last error, not only the last error (a stale routing reply, say,
        when nodes were stopped for minutes). Ends the wait."""
        last = error or self.last
        self.end(gave_up=True)
        detail = f"; last error: {last}" if last is not None else ""
        return cls(f"{self.outage.what} unavailable: {what} timed out after {timeout:g} s (retry_timeout, "
                   f"or {RETRY_TIMEOUT_ENV}){detail}")

    def end(self, *, gave_up: bool = False) -> None:
        """The call finished (succeeded, gave up, or failed for another reason); idempotent."""
        if self.state == 1:
            self.outage._leave(gave_up)
        self.state = 2


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
