"""fs3/_retry.py: the pauses of a retry loop, its deadline, and polling for a condition. A fake clock
and a fake sleep (which advances it): nothing here waits."""

from __future__ import annotations

import asyncio
import math

import pytest

from fs3._errors import FS3Error, Unavailable
from fs3._retry import Backoff, Deadline, poll


class Clock:
    """Monotonic seconds that move only when slept on."""

    def __init__(self) -> None:
        self.now = 100.0  # sums of binary fractions stay exact
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_a_deadline_knows_what_remains():
    clock = Clock()
    deadline = Deadline(2.0, clock=clock)
    assert deadline.remaining == 2.0 and not deadline.expired
    clock.now += 1.999
    assert deadline.remaining == pytest.approx(0.001) and not deadline.expired
    clock.now += 0.001
    assert deadline.remaining == 0.0 and deadline.expired  # from the instant itself
    clock.now += 5
    assert deadline.remaining == 0.0 and deadline.expired


def test_the_pauses_grow_to_their_cap():
    clock = Clock()
    backoff = Backoff(100.0, clock=clock)
    assert [backoff.next_delay() for _ in range(8)] == [0.05, 0.1, 0.2, 0.4, 0.8, 1.0, 1.0, 1.0]
    backoff = Backoff(100.0, first=0.1, cap=2.0, factor=3.0, clock=clock)
    assert [backoff.next_delay() for _ in range(4)] == pytest.approx([0.1, 0.3, 0.9, 2.0])


def test_a_constant_pause():
    backoff = Backoff(10.0, first=0.025, factor=1.0, clock=Clock())
    assert {backoff.next_delay() for _ in range(5)} == {0.025}


def test_the_last_pause_ends_at_the_deadline():
    clock = Clock()
    backoff = Backoff(1.0, first=0.375, clock=clock)
    backoff.sleep(clock.sleep)
    backoff.sleep(clock.sleep)
    assert clock.slept == [0.375, 0.625]  # not 0.75: the deadline comes first
    assert backoff.expired  # the try after the last pause is the last one
    assert backoff.next_delay() == 0.0


def test_a_retry_loop_gives_up_at_its_deadline():
    clock = Clock()
    backoff = Backoff(3.0, first=0.125, clock=clock)  # binary fractions: the sums are exact
    tries = 0
    with pytest.raises(Unavailable):
        while True:
            tries += 1
            try:
                raise Unavailable("down")
            except Unavailable:
                if backoff.expired:
                    raise
                backoff.sleep(clock.sleep)
    assert clock.slept == [0.125, 0.25, 0.5, 1.0, 1.0, 0.125]  # the last pause: what was left
    assert tries == 7  # the last one as the deadline came


def test_without_a_timeout_it_never_expires():
    clock = Clock()
    backoff = Backoff(first=0.1, cap=2.0, clock=clock)
    clock.now += 1e12
    assert backoff.remaining == math.inf and not backoff.expired
    assert backoff.next_delay() == 0.1


def test_asleep_pauses_on_the_event_loop():
    backoff = Backoff(10.0, first=0.0)
    asyncio.run(backoff.asleep())
    assert backoff.delay == 0.0


def test_poll_returns_the_first_answer():
    clock = Clock()
    answers = iter([None, False, None, "ready"])
    assert poll(lambda: next(answers), Deadline(5.0, clock=clock), interval=0.25, error="never",
                sleep=clock.sleep) == "ready"
    assert clock.slept == [0.25, 0.25, 0.25]


def test_poll_raises_its_error_at_the_deadline():
    clock = Clock()
    with pytest.raises(Unavailable, match="the file was not written in time"):
        poll(lambda: None, Deadline(1.0, clock=clock), interval=0.375, error="the file was not written in time",
             sleep=clock.sleep)
    assert clock.slept == [0.375, 0.375, 0.25]
    seen = []
    with pytest.raises(FS3Error, match="only 2 of 3"):
        poll(lambda: seen.append(2), Deadline(1.0, clock=clock), interval=0.5,
             error=lambda: FS3Error(f"only {seen[-1]} of 3"), sleep=clock.sleep)


def test_poll_passes_on_what_check_raises():
    def exited():
        raise FS3Error("the process exited")

    clock = Clock()
    with pytest.raises(FS3Error, match="exited"):
        poll(exited, Deadline(5.0, clock=clock), error="never", sleep=clock.sleep)
    assert clock.slept == []


def test_poll_takes_seconds_for_a_deadline():
    assert poll(lambda: 7, 1.0, error="never") == 7
