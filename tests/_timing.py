"""Waiting on conditions instead of durations, and a clock that tests move by hand.

Imported by tests as ``from _timing import wait_for`` (pytest puts tests/ on the path: see
pyproject.toml). A test never sleeps to let something happen: it waits for the state it needs, with a
deadline generous enough for a machine whose cores are busy with other work (``pytest --cpu-hogs N``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_for(predicate: Callable[[], T], timeout: float = 60.0, what: str = "condition",
             interval: float = 0.05, max_interval: float = 0.5) -> T:
    """Call ``predicate`` until it returns something truthy and return that; fail after ``timeout``
    seconds with ``what`` and the last value seen. Polls every ``interval`` seconds, growing to
    ``max_interval`` so that a long wait does not compete for the CPU with what it waits for (pass
    the same value for both where the moment the condition turns true matters)."""
    deadline = time.monotonic() + timeout
    value = predicate()
    while not value:
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what} (last: {value!r})")
        time.sleep(interval)
        interval = min(interval * 1.5, max_interval)
        value = predicate()
    return value


class FakeClock:
    """Unix time in ns that moves only when ``advance`` is called: pass it as ``clock=`` to what takes
    one (the cluster manager, its lease loop) and expire leases and heartbeats without sleeping."""

    def __init__(self, start_ns: int = 1_700_000_000 * 10**9):
        self.now_ns = start_ns

    def __call__(self) -> int:
        return self.now_ns

    def advance(self, seconds: float) -> None:
        self.now_ns += int(seconds * 1e9)
