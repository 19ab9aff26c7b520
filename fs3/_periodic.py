"""A background thread that runs one function every so often (a heartbeat, a manager pass, a collector).

Every such loop wants the same things: a daemon thread with a name, a stop that wakes it at once and
waits for it, and a failure that is logged without ending the loop (a KV store briefly unreachable must
not stop a node's heartbeats for good).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable


class PeriodicThread:
    """Runs ``fn()`` every ``interval`` seconds on a daemon thread named ``name``, from ``start()`` until
    ``stop()``: first after one interval, or at once with ``immediate``. An exception from ``fn`` is
    logged on ``log`` at ``failure_level`` with the message ``failure`` (and its traceback) and the loop
    goes on. The interval runs from the end of one pass to the start of the next."""

    def __init__(self, name: str, interval: float, fn: Callable[[], object], *, log: logging.Logger,
                 failure: str, immediate: bool = False, failure_level: int = logging.ERROR):
        self.name = name
        self.interval = interval
        self.fn = fn
        self.runs = 0       # passes finished, failed ones included
        self.failures = 0
        self._log = log
        self._failure = failure
        self._failure_level = failure_level
        self._immediate = immediate
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def stopping(self) -> bool:
        """Whether ``stop()`` was called (a long pass may check it to end early)."""
        return self._stop.is_set()

    def is_alive(self) -> bool:
        """Whether the thread runs (started, and not yet ended by ``stop``)."""
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name=self.name, daemon=True)
        self._thread.start()

    def request_stop(self) -> None:
        """Ask the thread to end after its pass in progress, without waiting (a server stopping several
        of them asks them all first, so their last passes end together)."""
        self._stop.set()

    def stop(self, timeout: float = 5.0) -> None:
        """Wake the thread and wait up to ``timeout`` seconds for its pass in progress to end; say so
        when it has not (what is torn down next may race that pass)."""
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
            if thread.is_alive():
                self._log.warning("%s: a pass still runs %.0f s after stop was asked", self.name, timeout)

    def statistics(self) -> dict[str, int]:
        return {"runs": self.runs, "failures": self.failures}

    def _loop(self) -> None:
        if not self._immediate and self._stop.wait(self.interval):
            return
        while not self._stop.is_set():
            try:
                self.fn()
            except Exception:  # noqa: BLE001 - the loop must outlive any one failure
                self.failures += 1
                self._log.log(self._failure_level, self._failure, exc_info=True)
            self.runs += 1
            if self._stop.wait(self.interval):
                return
