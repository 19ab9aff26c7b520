"""fs3/_periodic.py: a periodic background thread. Synchronised by events, never by sleeping: a stop
that did not wake the thread would show as a thread still alive after its join."""

from __future__ import annotations

import logging
import threading

from fs3._periodic import PeriodicThread

log = logging.getLogger("test.periodic")
HOUR = 3600.0


def test_it_runs_every_interval_until_stopped():
    runs = []
    third = threading.Event()

    def tick():
        runs.append(threading.current_thread().name)
        if len(runs) >= 3:
            third.set()

    thread = PeriodicThread("ticker", 0.001, tick, log=log, failure="tick failed")
    thread.start()
    assert third.wait(60)
    thread.stop(timeout=60)
    assert not thread.is_alive()
    assert set(runs) == {"ticker"}
    assert thread.statistics()["runs"] >= 3 and thread.statistics()["failures"] == 0


def test_the_first_pass_waits_an_interval_unless_immediate():
    ran = threading.Event()
    late = PeriodicThread("late", HOUR, ran.set, log=log, failure="failed")
    late.start()
    late.stop(timeout=60)  # wakes it in its first wait: it never ran
    assert not late.is_alive() and not ran.is_set() and late.runs == 0

    early = PeriodicThread("early", HOUR, ran.set, log=log, failure="failed", immediate=True)
    early.start()
    assert ran.wait(60)
    early.stop(timeout=60)  # wakes it in the hour's wait after its first pass
    assert not early.is_alive() and early.runs == 1


def test_a_failure_is_logged_and_the_loop_goes_on(caplog):
    calls = []
    again = threading.Event()

    def flaky():
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("the KV store is away")
        again.set()

    thread = PeriodicThread("flaky", 0.001, flaky, log=log, failure="flaky pass failed")
    with caplog.at_level(logging.DEBUG, logger="test.periodic"):
        thread.start()
        assert again.wait(60)
        thread.stop(timeout=60)
    failed = [r for r in caplog.records if r.message == "flaky pass failed"]
    assert len(failed) == 1 and failed[0].levelno == logging.ERROR
    assert "the KV store is away" in str(failed[0].exc_info[1])
    assert thread.failures == 1


def test_the_failure_level_is_the_callers(caplog):
    failed = threading.Event()

    def sample():
        failed.set()
        raise OSError("unreachable")

    thread = PeriodicThread("sampler", HOUR, sample, log=log, failure="sample failed", immediate=True,
                            failure_level=logging.DEBUG)
    with caplog.at_level(logging.DEBUG, logger="test.periodic"):
        thread.start()
        assert failed.wait(60)
        thread.stop(timeout=60)
    assert [r.levelno for r in caplog.records if r.message == "sample failed"] == [logging.DEBUG]


def test_stop_from_its_own_pass_does_not_wait_for_itself():
    holder: list[PeriodicThread] = []
    thread = PeriodicThread("self-stop", 0.001, lambda: holder[0].stop(timeout=60), log=log, failure="failed")
    holder.append(thread)
    thread.start()
    thread._thread.join(60)
    assert not thread.is_alive() and thread.runs == 1 and thread.stopping


def test_stop_before_start_is_harmless():
    thread = PeriodicThread("never", HOUR, lambda: None, log=log, failure="failed")
    thread.stop()
    assert thread.stopping


def test_a_stop_that_a_long_pass_outlasts_says_so_and_request_stop_waits_for_nothing(caplog):
    inside, release = threading.Event(), threading.Event()

    def long_pass():
        inside.set()
        release.wait(60)

    thread = PeriodicThread("slow", HOUR, long_pass, log=log, failure="failed", immediate=True)
    thread.start()
    assert inside.wait(60)
    thread.request_stop()  # returns at once, the pass still running
    assert thread.stopping and thread.is_alive()
    with caplog.at_level(logging.WARNING, logger="test.periodic"):
        thread.stop(timeout=0.01)
    assert "slow: a pass still runs" in caplog.text
    release.set()
    thread.stop(timeout=60)
    assert not thread.is_alive()
