"""Recovery's repairs are tasks it owns, on the data-plane loop (a thread of its own here, as on a node):
a repair that fails is logged, and close cancels those still running and waits for them to end."""

from __future__ import annotations

import asyncio
import logging
import threading
from types import SimpleNamespace

import pytest
from _timing import wait_for

from fs3.storage._recovery import Recovery
from fs3.storage._replication import _ChunkLocks

CHUNK = (1, 7, 0)  # target, inode, index


class _Routing:
    def __init__(self, error: Exception | None = None):
        self.error = error

    def local_chains(self):
        if self.error is not None:
            raise self.error
        return [(SimpleNamespace(id=1, version=1), 1)]

    def serving_peers(self, _chain, _target_id):
        return []


@pytest.fixture
def loop():
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    yield loop
    loop.call_soon_threadsafe(loop.stop)
    thread.join(timeout=10)
    loop.close()


def _recovery(loop, routing) -> Recovery:
    replicator = SimpleNamespace(locks=_ChunkLocks())
    recovery = Recovery(routing, {1: SimpleNamespace(target_id=1, store=None)}, replicator)
    recovery.attach(loop)
    return recovery


def test_a_failed_repair_is_logged(loop, caplog):
    caplog.set_level(logging.ERROR)
    recovery = _recovery(loop, _Routing(RuntimeError("routing broke")))
    recovery.chunk_corrupt(*CHUNK)
    record = wait_for(lambda: next((r for r in caplog.records if "repairing chunk 7:0 failed" in r.getMessage()),
                                   None), what="the failed repair to be logged")
    assert "routing broke" in str(record.exc_info[1])
    wait_for(lambda: not recovery._repairs, what="the repair to be forgotten")
    recovery.close()


def test_close_cancels_running_repairs_and_waits_for_them(loop):
    recovery = _recovery(loop, _Routing())
    held = threading.Event()

    async def hold_the_chunk():  # an update holds the chunk's lock: the repair waits behind it
        async with recovery.replicator.locks.hold(CHUNK):
            held.set()
            await asyncio.Event().wait()

    holder = asyncio.run_coroutine_threadsafe(hold_the_chunk(), loop)
    held.wait(60)
    recovery.chunk_corrupt(*CHUNK)
    [repair] = wait_for(lambda: list(recovery._repairs), what="the repair to start")
    recovery.close()
    assert repair.cancelled()
    assert not recovery._repairs
    recovery.chunk_corrupt(*CHUNK)  # a closed recovery starts nothing
    assert asyncio.run_coroutine_threadsafe(asyncio.sleep(0, result=len(recovery._repairs)), loop).result(10) == 0
    holder.cancel()
