"""The client's shared-memory region and its allocator."""

from __future__ import annotations

import asyncio
import os

import pytest

from fs3.client._shm import ShmRegion


def test_region_is_a_shared_file_with_a_probe_nonce():
    region = ShmRegion(1 << 20)
    try:
        assert os.path.exists(region.path)
        with open(region.path, "rb") as f:
            assert f.read(16) == region.nonce
    finally:
        region.close()
    assert not os.path.exists(region.path)


def test_allocations_are_aligned_disjoint_and_merge_back():
    async def run():
        region = ShmRegion(64 * 4096)
        try:
            a = await region.alloc(1)
            b = await region.alloc(4097)
            c = await region.alloc(3 * 4096)
            assert all(x % 4096 == 0 and x >= 4096 for x in (a, b, c))
            assert len({a, b, c}) == 3 and b >= a + 4096 and c >= b + 8192
            region.free(b, 4097)
            region.free(a, 1)
            region.free(c, 3 * 4096)
            assert region._free == [(4096, 63 * 4096)]  # all merged back into one run
            with pytest.raises(ValueError):
                await region.alloc(64 * 4096)
        finally:
            region.close()

    asyncio.run(run())


def test_allocation_waits_for_space():
    async def run():
        region = ShmRegion(9 * 4096)
        try:
            first = await region.alloc(8 * 4096)
            waiter = asyncio.ensure_future(region.alloc(4 * 4096))
            for _ in range(10):  # let it run until it blocks: nothing else can free space meanwhile
                await asyncio.sleep(0)
            assert not waiter.done()
            region.free(first, 8 * 4096)
            assert await asyncio.wait_for(waiter, 1) == 4096
        finally:
            region.close()

    asyncio.run(run())
