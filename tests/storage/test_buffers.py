"""storage/_buffers.py: pooled buffers on lease. A lease gives its buffer back however its block ends;
a buffer handed over is given back by whoever holds it last, once."""

from __future__ import annotations

import pytest

from fs3.storage._buffers import BufferPool


def _free(pool: BufferPool) -> int:
    return sum(len(bufs) for bufs in pool._free.values())


def test_a_lease_gives_its_buffer_back_on_exit():
    pool = BufferPool()
    with pool.lease(5000) as buf:
        assert len(buf) == 8192 and _free(pool) == 0
        buf[:5] = b"hello"
    assert _free(pool) == 1
    with pool.lease(6000) as again:
        assert again is buf  # reused: no fresh page faults
    assert _free(pool) == 1


def test_a_lease_gives_its_buffer_back_when_the_block_fails():
    pool = BufferPool()
    with pytest.raises(RuntimeError), pool.lease(100):
        raise RuntimeError("the disk read failed")
    assert _free(pool) == 1


def test_a_buffer_handed_over_is_given_back_by_its_new_holder_only():
    pool = BufferPool()

    def fill():
        lease = pool.lease(4096)
        with lease as buf:
            buf[:3] = b"abc"
            return lease.hand_over()

    held = fill()
    assert _free(pool) == 0  # the producer's own ``with`` gave nothing back
    with held as buf:
        assert buf[:3] == b"abc"
    assert _free(pool) == 1 and held.buf is None
    held.__exit__(None, None, None)  # a second end gives nothing back twice
    assert _free(pool) == 1


def test_a_producer_that_fails_gives_the_buffer_back():
    pool = BufferPool()

    def fill():
        lease = pool.lease(4096)
        with lease:
            raise OSError("short read")
            return lease.hand_over()  # never reached

    with pytest.raises(OSError):
        fill()
    assert _free(pool) == 1


def test_a_full_pool_closes_what_comes_back():
    pool = BufferPool(max_cached=4096)
    with pool.lease(4096) as first, pool.lease(4096) as second:
        pass  # the second comes back first and is kept; the pool is full when the first does
    assert _free(pool) == 1 and not second.closed and first.closed
