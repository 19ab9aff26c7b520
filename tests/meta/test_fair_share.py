"""FairShare's bookkeeping, driven turn by turn on a real event loop: users are served round robin, one
user's flood waits its turn, and a full backlog pauses that user's connections only."""

from __future__ import annotations

import asyncio

from fs3.meta._fair_share import FairShare


class Conn:
    def __init__(self):
        self.held = False

    def hold(self, on: bool) -> None:
        self.held = on


def drive(fair: FairShare, loop: asyncio.AbstractEventLoop, turns: int) -> None:
    for _ in range(turns):
        loop.run_until_complete(asyncio.sleep(0))


def test_a_flooding_user_waits_while_another_is_served():
    loop = asyncio.new_event_loop()
    try:
        started: list[tuple[int, int]] = []
        fair = FairShare(loop, lambda call: (started.append(call), fair.finished(call[0])), per_turn=4,
                         in_flight=8, backlog=10_000)
        flood, other = Conn(), Conn()
        for i in range(1000):
            fair.submit(1, (1, i), flood)
        drive(fair, loop, 2)
        before = len(started)
        assert before < 1000
        fair.submit(2, (2, 0), other)
        drive(fair, loop, 1)
        assert started.index((2, 0)) <= before + 4  # in the next turn, not after the flood's 1000
        drive(fair, loop, 400)
        assert [c for c in started if c[0] == 1] == [(1, i) for i in range(1000)]  # in order, none lost
        assert fair.deferred > 0
    finally:
        loop.close()


def test_calls_in_flight_are_capped_per_user():
    loop = asyncio.new_event_loop()
    try:
        running: list[tuple[int, int]] = []
        fair = FairShare(loop, running.append, per_turn=100, in_flight=5, backlog=10_000)
        conn = Conn()
        for i in range(20):
            fair.submit(7, (7, i), conn)
        fair.submit(8, (8, 0), conn)
        drive(fair, loop, 5)
        assert [c for c in running if c[0] == 7] == [(7, i) for i in range(5)]  # the cap, until answers come
        assert (8, 0) in running  # another user is not held by it
        fair.finished(7)
        drive(fair, loop, 2)
        assert [c for c in running if c[0] == 7] == [(7, i) for i in range(6)]
    finally:
        loop.close()


def test_a_full_backlog_pauses_that_users_connections_until_it_drains():
    loop = asyncio.new_event_loop()
    try:
        fair = FairShare(loop, lambda call: fair.finished(call), per_turn=10, in_flight=10, backlog=50)
        flood, other = Conn(), Conn()
        for _ in range(60):
            fair.submit(1, 1, flood)
        fair.submit(2, 2, other)
        assert flood.held and not other.held and fair.pauses == 1
        drive(fair, loop, 10)
        assert not flood.held
    finally:
        loop.close()


def test_grpc_slots_refuse_a_users_call_beyond_its_share_but_not_anothers():
    from fs3.meta._fair_share import UserSlots

    slots = UserSlots(3)
    assert all(slots.enter(1) for _ in range(3))
    assert not slots.enter(1) and slots.refused == 1
    assert slots.enter(2)
    slots.leave(1)
    assert slots.enter(1)
