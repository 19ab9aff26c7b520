"""The retry deadline (argument, FS3_RETRY_TIMEOUT, default) and ``Outage``'s two log lines, on a fake clock."""

from __future__ import annotations

import logging

import pytest

from fs3._errors import InvalidArgument, StaleRouting, Unavailable, Unreachable
from fs3._retry import DEFAULT_RETRY_TIMEOUT, Outage, retry_timeout


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_deadline_comes_from_the_argument_then_the_environment_then_the_default(monkeypatch):
    monkeypatch.delenv("FS3_RETRY_TIMEOUT", raising=False)
    assert retry_timeout() == DEFAULT_RETRY_TIMEOUT >= 120  # a restart, not a hiccup
    monkeypatch.setenv("FS3_RETRY_TIMEOUT", " 45.5 ")
    assert retry_timeout() == 45.5
    assert retry_timeout(7) == 7.0
    assert retry_timeout(0) == 0.0
    for bad, why in (("nan", "must be a number of seconds >= 0"), ("-3", "must be a number of seconds >= 0"),
                     ("soon", "is not a number of seconds")):
        monkeypatch.setenv("FS3_RETRY_TIMEOUT", bad)
        with pytest.raises(InvalidArgument, match=f"FS3_RETRY_TIMEOUT.*{why}"):
            retry_timeout()
    with pytest.raises(InvalidArgument, match="retry_timeout must be a number of seconds, not 'x'"):
        retry_timeout("x")  # type: ignore[arg-type]


def test_an_outage_logs_one_line_when_waiting_starts_and_one_when_it_ends(caplog):
    caplog.set_level(logging.WARNING)
    clock = Clock()
    outage = Outage("storage nodes", logging.getLogger("t"), clock=clock)
    calls = [outage.wait() for _ in range(5)]
    for step in range(4):  # five calls failing together, for four seconds
        for c in calls:
            c.failed(Unavailable(f"node down ({step})"), 60)
        clock.now += 1
    lines = [r.getMessage() for r in caplog.records]
    assert lines == ["storage nodes unavailable (node down (1)); waiting up to 60 s (retry_timeout) for them "
                     "to answer"]  # not for routine failover under a second, and once for all five
    for c in calls[:-1]:
        c.end()
    assert len(caplog.records) == 1  # the outage ends with its last waiting call
    calls[-1].end()
    calls[-1].end()  # (idempotent)
    assert caplog.records[-1].getMessage() == "storage nodes answer again after 4.0 s; calls resumed"
    quick = outage.wait()  # a call that failed once and then succeeded: nothing logged
    quick.failed(StaleRouting("stale"), 60)
    quick.end()
    assert len(caplog.records) == 2


def test_a_call_that_gives_up_names_the_outage_and_its_last_error(caplog):
    caplog.set_level(logging.WARNING)
    clock = Clock()
    outage = Outage("meta servers", logging.getLogger("t"), clock=clock)
    call = outage.wait()
    call.failed(Unreachable("meta 1.2.3.4:5 unavailable: connection refused"), 30)
    clock.now += 2
    call.failed(Unreachable("meta 1.2.3.4:5 unavailable: connection refused"), 30)
    clock.now += 28
    error = call.give_up(30, "Stat", StaleRouting("stale routing for chunk 7:1"), Unreachable)
    assert isinstance(error, Unreachable) and not isinstance(error, StaleRouting)
    assert str(error) == ("meta servers unavailable: Stat timed out after 30 s (retry_timeout, or "
                          "FS3_RETRY_TIMEOUT); last error: stale routing for chunk 7:1")
    assert caplog.records[-1].getMessage() == "meta servers: gave up waiting after 30.0 s"
    call.end()  # the caller's finally: nothing more
    assert len(caplog.records) == 2
