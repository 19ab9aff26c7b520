"""Work given up (cancelled: a client gone, a repair stopped at close) never leaves a pooled buffer in
use after it goes back to the pool: a disk hop of the replicator ends only once its disk thread has; a
lease ended by a cancellation drops its buffer (a transport may still send from it, a reply still land
in it); an aborted peer connection sends nothing more."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from fs3._errors import Unavailable
from fs3.storage._buffers import BufferPool
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


def test_an_aborted_connection_drops_what_it_had_not_sent():
    """A connection aborted (a peer given up on, a request abandoned) must not flush its write buffer
    later, as a plain close would: those bytes may be views of buffers back in the pool."""
    from fs3._data_client import NodeConnection

    class Transport:
        ended = ""

        def abort(self):
            self.ended = "abort"

        def close(self):
            self.ended = "close"

        def is_closing(self):
            return bool(self.ended)

    conn = NodeConnection("127.0.0.2:1", None)
    conn.transport = Transport()
    conn.abort(Unavailable("given up"))
    assert conn.transport.ended == "abort" and not conn.usable


def test_a_lease_given_up_drops_its_buffer_and_any_other_end_gives_it_back():
    pool = BufferPool()

    async def given_up(lease):
        with lease:
            await asyncio.sleep(30)  # (an update on its way to a peer, say)

    async def main():
        lease = pool.lease(4096)
        buf = lease.buf
        task = asyncio.create_task(given_up(lease))
        await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert pool.acquire(4096) is not buf  # not handed out again
        lease = pool.lease(4096)
        buf = lease.buf
        with pytest.raises(OSError), lease:
            raise OSError("a failed disk write")  # nothing else holds it: back to the pool
        assert pool.acquire(4096) is buf

    asyncio.run(main())
