"""Removing a file's chunks along a chain (Replicator.remove, what meta's reclaimer asks of the head)
survives a successor that fails mid-way: the caller retries, and the retry must still reach the
successors. Before, the head dropped each chunk before passing its removal on, so a retry no longer
found it and the successors kept a stale copy; a later chunk of the same name (versions start again at
1) was then taken by them for one they already held."""

from __future__ import annotations

import asyncio
import os
from concurrent.futures import ThreadPoolExecutor

import pytest

from fs3._errors import FS3Error
from fs3._wire import UpdateResult
from fs3.storage._replication import Replicator
from fs3.storage._routing import Peer
from fs3.storage._target import Target

SUCCESSOR = Peer(2, "127.0.0.3:1", "", 1)


class Routing:
    def chain(self, _chain_id):
        return object()

    def successor(self, _members, _target_id):
        return SUCCESSOR


class Successor:
    """A successor's connection that refuses (UNAVAILABLE) while ``down``; records the removals it took."""

    status = None

    def __init__(self):
        self.down = True
        self.removed: list[tuple[int, int]] = []

    def send_update(self, item, _data, _flags=0):
        future = asyncio.get_running_loop().create_future()
        if self.down:
            future.set_result(UpdateResult(1004, 0, 0))  # UNAVAILABLE
        else:
            self.removed.append((item.inode, item.index))
            future.set_result(UpdateResult(0, 0, 0))
        return future


class Peers:
    def __init__(self, conn):
        self.conn = conn

    async def connection(self, _peer):
        return self.conn


@pytest.fixture
def head(tmp_path):
    target = Target.open(tmp_path / "t", direct=False)
    for index in range(3):
        target.store.write(7, index, 0, os.urandom(4096), 1 << 16)
    yield target
    target.store.close()


def test_a_removal_a_successor_refused_is_still_found_by_the_retry(head):
    successor = Successor()

    async def main():
        with ThreadPoolExecutor(2) as pool:
            replicator = Replicator(Routing(), pool, Peers(successor))
            with pytest.raises(FS3Error):
                await replicator.remove(head, 1, 1, 7, 0)
            # the successor has removed nothing: nor has the head, so the retry finds every chunk
            assert [head.store.query(7, i) is not None for i in range(3)] == [True] * 3
            successor.down = False
            assert await replicator.remove(head, 1, 1, 7, 0) == 3

    asyncio.run(main())
    assert sorted(successor.removed) == [(7, 0), (7, 1), (7, 2)]
    assert [head.store.query(7, i) for i in range(3)] == [None] * 3
