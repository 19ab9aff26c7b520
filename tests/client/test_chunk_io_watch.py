"""A storage node that stops answering (a real DataServer whose disk hangs): the client's checks of it
are tasks ChunkIO owns. A check that fails is logged, not lost, and close cancels the checks."""

from __future__ import annotations

import asyncio
import logging
import threading
import time

import pytest
from _data_node import DataNode, OneTarget, capabilities, token

from fs3._errors import Unavailable
from fs3.client import _chunk_io
from fs3.client._chunk_io import ChunkIO, ReadPiece


class _HungDisk(OneTarget):
    """The node's reads hang (its loop blocks in the lookup) until released."""

    def __init__(self):
        self.release = threading.Event()

    def local_target(self, *_args, **_kw) -> int:
        self.release.wait(60)
        return 1


class _Routing:
    """The client's view: one replica, on the node; ``refresh`` fails with ``error`` when given."""

    def __init__(self, address: str, error: Exception | None = None):
        self.address = address
        self.error = error
        self.refreshes = 0

    def data_readers(self, _chain: int) -> tuple[list[str], int]:
        return [self.address], 1

    def chain_version(self, _chain: int) -> int:
        return 1

    def data_socket(self, _address: str) -> str:
        return ""

    def ucx_address(self, _address: str) -> str:
        return ""

    def node_serving(self, _address: str) -> bool:
        return True

    async def refresh(self) -> None:
        self.refreshes += 1
        if self.error is not None:
            raise self.error


@pytest.fixture
def hung_node(tmp_path, monkeypatch):
    monkeypatch.setattr(_chunk_io, "WATCH_INTERVAL", 0.02)
    disk = _HungDisk()
    node = DataNode(tmp_path, routing=disk)
    yield node
    disk.release.set()
    node.stop()


async def _until(condition, what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.01)


async def _token() -> bytes:
    return token()


def _reading(io: ChunkIO) -> asyncio.Task:
    piece = ReadPiece(inode=7, index=0, chain=1, offset=0, length=4096, dest=memoryview(bytearray(4096)))
    return asyncio.ensure_future(io.read([piece]))


async def _stop(io: ChunkIO, read: asyncio.Task) -> None:
    io.close()
    read.cancel()
    with pytest.raises((asyncio.CancelledError, Unavailable)):
        await read


def test_a_failing_check_is_logged(hung_node, caplog):
    caplog.set_level(logging.WARNING)

    async def scenario():
        routing = _Routing(hung_node.data_address, RuntimeError("routing broke"))
        io = ChunkIO(routing, _token, client_name="test", shm=None, capabilities=capabilities())
        read = _reading(io)
        await _until(lambda: any("still serves failed" in r.getMessage() for r in caplog.records),
                     "the failed check to be logged")
        failed = next(r for r in caplog.records if "still serves failed" in r.getMessage())
        assert "routing broke" in str(failed.exc_info[1])
        await _stop(io, read)

    asyncio.run(scenario())


def test_close_cancels_the_checks(hung_node):
    async def scenario():
        routing = _Routing(hung_node.data_address)
        io = ChunkIO(routing, _token, client_name="test", shm=None, capabilities=capabilities())
        read = _reading(io)
        await _until(lambda: io._checks and routing.refreshes >= 2, "a check of the silent node")
        checks = set(io._checks)
        await _stop(io, read)
        await asyncio.gather(*checks, return_exceptions=True)
        assert all(task.cancelled() for task in checks)
        assert not io._checks
        assert {t for t in asyncio.all_tasks() if t is not asyncio.current_task()} == set()  # nothing left

    asyncio.run(scenario())
