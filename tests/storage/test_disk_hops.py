"""A disk hop of the replicator (Replicator.disk) that is cancelled (a node stopping, a repair given up)
ends only once its disk thread has: the buffers that thread reads or fills go back to the pool only
after it."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from fs3.storage._replication import Replicator


@pytest.mark.parametrize("cancels", [1, 3])
def test_a_cancelled_disk_hop_ends_after_its_thread(cancels):
    started, release = threading.Event(), threading.Event()
    finished = []

    def slow_write():  # stands in for store.put writing from a pooled buffer
        started.set()
        release.wait(30)
        finished.append(True)
        return "written"

    async def main():
        with ThreadPoolExecutor(1) as pool:
            replicator = Replicator(None, pool, None)
            task = asyncio.create_task(replicator.disk(slow_write))
            await asyncio.get_running_loop().run_in_executor(None, started.wait, 30)
            for _ in range(cancels):  # cancelled, and cancelled again while it waits for the thread
                task.cancel()
                await asyncio.sleep(0)
                await asyncio.sleep(0)
                assert not task.done()
            release.set()
            with pytest.raises(asyncio.CancelledError):
                await task
            assert finished == [True]  # the thread was done before the cancellation reached the caller

    asyncio.run(main())


def test_a_disk_hop_returns_and_raises_what_its_function_does():
    def fail():
        raise OSError(5, "disk failed")

    async def main():
        with ThreadPoolExecutor(1) as pool:
            replicator = Replicator(None, pool, None)
            assert await replicator.disk(lambda: 42) == 42
            with pytest.raises(OSError):
                await replicator.disk(fail)

    asyncio.run(main())
