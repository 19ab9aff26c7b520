"""Batched disk reads through io_uring: the same bytes as preadv, in batches larger than the ring, with
short reads at the end of a file, errors as OSError, and the preadv fallback."""

from __future__ import annotations

import mmap
import os
import random

import pytest

from fs3.storage import _uring

BLOCK = 4096


@pytest.fixture
def data_file(tmp_path):
    path = tmp_path / "slots.bin"
    data = os.urandom(8 << 20)
    path.write_bytes(data)
    flags = os.O_RDONLY | getattr(os, "O_DIRECT", 0)
    try:
        fd = os.open(path, flags)
    except OSError:  # a file system without O_DIRECT: buffered reads prove the same
        fd = os.open(path, os.O_RDONLY)
    yield fd, data
    os.close(fd)


def _reads(fd: int, count: int, size: int, seed: int = 1):
    rng = random.Random(seed)
    buf = mmap.mmap(-1, count * size)
    view = memoryview(buf)
    offsets = [rng.randrange((8 << 20) // BLOCK - size // BLOCK + 1) * BLOCK for _ in range(count)]
    return buf, [(fd, view[i * size : (i + 1) * size], off) for i, off in enumerate(offsets)]


def test_ring_reads_what_preadv_reads_in_batches_larger_than_the_ring(data_file):
    fd, data = data_file
    if _uring.thread_ring() is None:
        pytest.skip(f"io_uring unavailable here: {_uring.engine()}")
    count = _uring.ENTRIES * 2 + 7
    for size in (BLOCK, 16 * BLOCK):
        _buf, reads = _reads(fd, count, size)
        got = _uring.read_all(reads)
        assert got == [size] * count
        for _fd, view, off in reads:
            assert bytes(view) == data[off : off + size]


def test_short_read_at_the_end_and_nothing_past_it(data_file):
    fd, data = data_file
    buf = mmap.mmap(-1, 4 * BLOCK)
    view = memoryview(buf)
    end = len(data)
    got = _uring.read_all([(fd, view[: 2 * BLOCK], end - BLOCK), (fd, view[2 * BLOCK :], end)])
    assert got == [BLOCK, 0]
    assert bytes(view[:BLOCK]) == data[-BLOCK:]


def test_a_failed_read_raises_oserror(data_file):
    fd, _data = data_file
    buf = mmap.mmap(-1, 2 * BLOCK)
    view = memoryview(buf)
    r, w = os.pipe()
    os.close(r)
    os.close(w)
    with pytest.raises(OSError):
        _uring.read_all([(fd, view[:BLOCK], 0), (r, view[BLOCK:], 0)])  # a closed descriptor


def test_without_io_uring_reads_fall_back_to_preadv(data_file, monkeypatch):
    fd, data = data_file
    monkeypatch.setitem(_uring._state, "enabled", False)
    monkeypatch.setattr(_uring._local, "ring", None, raising=False)
    assert _uring.thread_ring() is None
    assert _uring.engine().startswith("preadv")
    _buf, reads = _reads(fd, 10, BLOCK, seed=2)
    assert _uring.read_all(reads) == [BLOCK] * 10
    for _fd, view, off in reads:
        assert bytes(view) == data[off : off + BLOCK]


def test_an_interrupted_batch_waits_for_its_reads_before_raising():
    """An exception while the ring waits (a signal handler raising) must not return control while the
    kernel can still write the caller's buffers, nor leave completions behind for the next batch."""
    if _uring.thread_ring() is None:
        pytest.skip(f"io_uring unavailable here: {_uring.engine()}")
    import signal
    import threading
    import time

    class Interrupted(Exception):
        pass

    def interrupt(*_):
        raise Interrupted()

    pipes = [os.pipe() for _ in range(4)]
    buf = mmap.mmap(-1, 4 * BLOCK)
    view = memoryview(buf)
    old = signal.signal(signal.SIGALRM, interrupt)
    writer = threading.Timer(0.5, lambda: [os.write(pipes[k][1], b"late %d" % k) for k in (0, 1)])
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.1)
        writer.start()
        started = time.monotonic()
        with pytest.raises(Interrupted):
            _uring.read_all([(pipes[k][0], view[k * BLOCK : (k + 1) * BLOCK], 0) for k in (0, 1)])
        assert time.monotonic() - started >= 0.45  # it waited for the reads to land
        assert bytes(view[:6]) == b"late 0" and bytes(view[BLOCK : BLOCK + 6]) == b"late 1"
        for k in (2, 3):
            os.write(pipes[k][1], b"next %d" % k)
        got = _uring.read_all([(pipes[k][0], view[k * BLOCK : (k + 1) * BLOCK], 0) for k in (2, 3)])
        assert got == [6, 6] and bytes(view[2 * BLOCK : 2 * BLOCK + 6]) == b"next 2"
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
        writer.cancel()
        for r, w in pipes:
            os.close(r)
            os.close(w)
