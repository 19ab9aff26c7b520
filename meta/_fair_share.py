"""Fair shares of a meta server among its users: one user's flood of calls cannot starve the others.

The framed call listener parses every frame a connection sends as it arrives, and answered calls in the
order they came, so a user with thousands of calls in flight (a create storm from many processes) put
them all ahead of another user's ``stat``. ``FairShare`` queues each user's calls apart and serves the
users round robin, ``per_turn`` calls of each per turn of the event loop (the loop reads sockets between
turns), with at most ``in_flight`` calls of one user admitted and not yet answered (a group commit, the
thread pool). A user whose queue holds ``backlog`` calls has its connections paused (TCP pushes back on
the flooding client, not on the others) until the queue is half empty again.

Pure bookkeeping on one event loop: ``run(call)`` starts a call, and whoever answers it calls
``finished(uid)``.
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from collections.abc import Callable
from typing import Any

PER_TURN = 32      # calls of one user started per turn
IN_FLIGHT = 64     # calls of one user started and not yet answered
BACKLOG = 1024     # calls of one user queued before its connections stop being read


class FairShare:
    def __init__(self, loop: asyncio.AbstractEventLoop, run: Callable[[Any], None], *, per_turn: int = PER_TURN,
                 in_flight: int = IN_FLIGHT, backlog: int = BACKLOG):
        self._loop, self._run = loop, run
        self.per_turn, self.in_flight, self.backlog = per_turn, in_flight, backlog
        self._queues: dict[int, deque] = {}
        self._busy: dict[int, int] = {}
        self._ready: deque[int] = deque()   # users with queued calls, in turn order
        self._paused: dict[int, set] = {}   # uid -> connections paused for its backlog
        self._scheduled = False
        self.deferred = 0     # calls that waited for a later turn (a user over its share)
        self.pauses = 0       # times a user's connections were paused for its backlog
        self.overtook: dict[int, int] = {}  # uid -> calls started while another user had calls waiting

    def submit(self, uid: int, call: Any, conn: Any) -> None:
        """Queue one call of user ``uid`` that came on ``conn`` (paused with ``conn.hold(True)`` while
        the user's backlog is full, resumed with ``conn.hold(False)``)."""
        queue = self._queues.get(uid)
        if queue is None:
            queue = self._queues[uid] = deque()
        if not queue:
            self._ready.append(uid)
        queue.append(call)
        if len(queue) >= self.backlog:
            paused = self._paused.setdefault(uid, set())
            if conn not in paused:
                paused.add(conn)
                self.pauses += 1
                conn.hold(True)
        self._schedule()

    def finished(self, uid: int) -> None:
        """A call of ``uid`` was answered: room for its next."""
        busy = self._busy.get(uid, 0) - 1
        if busy > 0:
            self._busy[uid] = busy
        else:
            self._busy.pop(uid, None)
        if self._queues.get(uid):
            self._schedule()

    def forget(self, conn: Any) -> None:
        """``conn`` closed: nothing of it stays paused."""
        for paused in self._paused.values():
            paused.discard(conn)

    def _schedule(self) -> None:
        if not self._scheduled:
            self._scheduled = True
            self._loop.call_soon(self._turn)

    def _turn(self) -> None:
        self._scheduled = False
        waiting = {uid for uid in self._ready if len(self._queues[uid]) > self.per_turn}  # more than a turn's
        for _ in range(len(self._ready)):
            uid = self._ready.popleft()
            queue = self._queues[uid]
            started = 0
            while queue and started < self.per_turn and self._busy.get(uid, 0) < self.in_flight:
                self._busy[uid] = self._busy.get(uid, 0) + 1
                started += 1
                self._run(queue.popleft())
            if started and waiting - {uid}:
                self.overtook[uid] = self.overtook.get(uid, 0) + started
            if queue:
                self.deferred += 1
                self._ready.append(uid)
                if self._busy.get(uid, 0) < self.in_flight:
                    self._schedule()  # over its share this turn: the rest next turn, after the sockets
            else:
                del self._queues[uid]
            if len(queue) < self.backlog // 2 and self._paused.get(uid):
                for conn in self._paused.pop(uid):
                    conn.hold(False)


class UserSlots:
    """The same promise where calls hold threads (gRPC's thread pool): at most ``limit`` calls of one
    user run at once, and a call beyond that is refused at once (the client retries) rather than left
    holding a thread that another user's call needs."""

    def __init__(self, limit: int):
        self.limit = limit
        self.refused = 0
        self._lock = threading.Lock()
        self._running: dict[int, int] = {}

    def enter(self, uid: int) -> bool:
        with self._lock:
            running = self._running.get(uid, 0)
            if running >= self.limit:
                self.refused += 1
                return False
            self._running[uid] = running + 1
            return True

    def leave(self, uid: int) -> None:
        with self._lock:
            running = self._running.get(uid, 1) - 1
            if running > 0:
                self._running[uid] = running
            else:
                self._running.pop(uid, None)
