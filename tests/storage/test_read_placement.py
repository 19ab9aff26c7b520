"""Where a storage node serves small reads: on its event loop while the disk is fast, on the thread pool
while it is slow, and back on the loop once it is fast again."""

from __future__ import annotations

import asyncio

from fs3 import _wire
from storage._data_server import INLINE_BUDGET, INLINE_PROBE, DataConnection, DataPlaneContext


def _connection() -> DataConnection:
    ctx = DataPlaneContext(targets={}, routing=None, secret=lambda: b"", node_id=lambda: 1, executor=None,
                           buffers=None)

    async def make() -> DataConnection:  # a connection belongs to the loop that accepted it
        return DataConnection(ctx)

    return asyncio.run(make())


def _read_header(count: int) -> _wire.Header:
    return _wire.Header(_wire.READ, count, 1, count * _wire.READ_ITEM.size)


def test_small_reads_run_inline_while_the_disk_is_fast():
    conn = _connection()
    conn.ctx.read_latency = INLINE_BUDGET / 100
    assert all(conn._inline(_read_header(8)) for _ in range(100))
    assert conn.ctx.pooled_frames == 0


def test_a_slow_disk_sends_reads_to_the_pool_but_keeps_probing_it():
    conn = _connection()
    conn.ctx.read_latency = INLINE_BUDGET  # a frame of 8 would block the loop 8 budgets
    placed = [conn._inline(_read_header(8)) for _ in range(INLINE_PROBE * 4)]
    # Most frames go to the pool; every INLINE_PROBE-th is served inline, so that its measured latency
    # can bring the node back to the loop once the disk is fast again (before, one slow spell kept small
    # reads on the thread pool for good: only inline frames update the estimate).
    assert placed.count(True) == 4
    assert conn.ctx.pooled_frames == INLINE_PROBE * 4
    conn.ctx.read_latency = INLINE_BUDGET / 100
    assert conn._inline(_read_header(8))


def test_only_reads_are_served_inline():
    conn = _connection()
    header = _wire.Header(_wire.WRITE, 1, 1, 100)
    assert not conn._inline(header)
