"""Where a storage node serves small reads: on its event loop while the disk is fast, on the thread pool
while it is slow, and back on the loop once it is fast again."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

from fs3 import _wire
from fs3._errors import FS3Error, Status
from fs3.storage import _read_path
from fs3.storage._data_context import DataPlaneContext, Request
from fs3.storage._read_path import INLINE_BUDGET


class _NoTargets:
    """Routing that knows no chain: every item fails fast, as a read from a very fast disk would return."""

    version = 1

    def local_target(self, *_args, **_kw):
        raise FS3Error("no such chain here", status=Status.TARGET_NOT_FOUND)


def _context(executor=None) -> DataPlaneContext:
    return DataPlaneContext(targets={}, routing=_NoTargets(), secret=lambda: b"", node_id=lambda: 1,
                            executor=executor, buffers=None)


def _read_header(count: int) -> _wire.Header:
    return _wire.Header(_wire.READ, count, 1, count * _wire.READ_ITEM.size)


def test_small_reads_run_inline_while_the_disk_is_fast():
    ctx = _context()
    ctx.read_latency = INLINE_BUDGET / 100
    assert all(_read_path.runs_inline(ctx, _read_header(8)) for _ in range(100))
    assert ctx.pooled_frames == 0


def test_a_slow_disk_sends_reads_to_the_pool_and_a_fast_one_brings_them_back():
    async def scenario():
        with ThreadPoolExecutor(2) as pool:
            ctx = _context(pool)
            ctx.read_latency = INLINE_BUDGET  # a frame of 8 would block the loop for 8 budgets
            header = _read_header(8)
            assert not _read_path.runs_inline(ctx, header)
            payload = b"".join(_wire.READ_ITEM.pack(1, 1, 7, 0, 0, 4096, 0) for _ in range(8))
            # Frames served on the pool measure the disk too (before, only frames served inline did,
            # and one slow spell kept small reads off the loop for good).
            for _ in range(60):
                await _read_path.serve_parallel(ctx, Request(header, memoryview(payload)), None, None)  # over TCP
                if _read_path.runs_inline(ctx, header):
                    return ctx
            raise AssertionError(f"still on the pool: {ctx.read_latency * 1e6:.0f} us per read")

    ctx = asyncio.run(scenario())
    assert ctx.read_latency * 8 <= INLINE_BUDGET
    assert ctx.pooled_frames >= 1


def test_only_reads_are_served_inline():
    assert not _read_path.runs_inline(_context(), _wire.Header(_wire.WRITE, 1, 1, 100))
