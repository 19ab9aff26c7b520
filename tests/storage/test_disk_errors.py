"""A replica whose disk fails a read answers that item with DISK_ERROR (the client then reads another
replica); the other items of the frame are served, and nothing is left unanswered."""

from __future__ import annotations

import os

import pytest

from fs3 import _wire
from fs3._errors import Status
from fs3.storage._buffers import BufferPool
from fs3.storage._data_context import DataPlaneContext
from fs3.storage._read_path import read_items
from fs3.storage._target import Target

MiB = 1 << 20


class _OneTarget:
    version = 1

    def local_target(self, *_args, **_kw) -> int:
        return 1


@pytest.fixture
def served(tmp_path):
    target = Target.open(tmp_path / "target")
    data = {i: os.urandom(MiB) for i in range(2)}
    for i, blob in data.items():
        target.store.write(7, i, 0, blob, MiB)
    ctx = DataPlaneContext(targets={1: target}, routing=_OneTarget(), secret=lambda: b"", node_id=lambda: 1,
                           executor=None, buffers=BufferPool())
    yield ctx, target, data
    target.close()


def _results(raw: bytearray) -> list[tuple]:
    return [(r[0], r[2]) for r in _wire.READ_RESULT.iter_unpack(raw)]


def test_a_failing_disk_fails_its_items_alone(served):
    ctx, target, data = served
    items = [(1, 1, 7, 0, 4096, 4096, 0), (1, 1, 7, 1, 3 * 4096 + 10, 5000, 0), (1, 1, 7, 2, 0, 4096, 0)]
    results, sent, _held = read_items(ctx, items, None, None)  # over TCP
    assert _results(results) == [(0, 4096), (0, 5000), (Status.CHUNK_NOT_FOUND, 0)]
    assert bytes(sent[0]) == data[0][4096:8192] and bytes(sent[1]) == data[1][3 * 4096 + 10 : 3 * 4096 + 5010]

    # The slot file now refuses reads (EBADF), as a failing disk would answer EIO.
    slot_fd = target.store.slots.file(target.store.query(7, 0).cls).fd
    unreadable = os.open(os.devnull, os.O_WRONLY)
    os.dup2(unreadable, slot_fd)
    os.close(unreadable)
    results, sent, _held = read_items(ctx, items, None, None)
    assert _results(results) == [(Status.DISK_ERROR, 0), (Status.DISK_ERROR, 0), (Status.CHUNK_NOT_FOUND, 0)]
    assert sent == []
    assert ctx.stats.errors.get("DISK_ERROR") == 2
