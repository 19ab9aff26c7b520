"""The baseline every fs3 figure is printed beside: the same I/O pattern done locally with os.preadv /
os.pwritev and O_DIRECT on files of the same size, at the same concurrency, in the same run."""

from __future__ import annotations

import mmap
import os
import random
import threading
import time
from pathlib import Path

from ._stats import Measurement

ALIGN = 4096
_halted = [False]  # set by halt(): every reading thread of this process ends after its current read


def halt() -> None:
    """End every baseline read under way in this process (a bench stopped by a signal: its threads must
    not go on reading for the rest of their time, nor through a mount being taken down). Only a flag is
    set, so a signal handler may call it."""
    _halted[0] = True


def _open(path: Path, flags: int) -> int:
    try:
        return os.open(path, flags | os.O_DIRECT, 0o600)
    except OSError:
        return os.open(path, flags, 0o600)  # a file system without O_DIRECT: buffered, still a baseline


def make_files(directory: Path, count: int, size: int, block: int = 4 << 20) -> list[Path]:
    """``count`` files of ``size`` bytes of random data (written with O_DIRECT), reused when present."""
    directory.mkdir(parents=True, exist_ok=True)
    buf = mmap.mmap(-1, block)
    buf.write(os.urandom(block))
    paths = []
    for i in range(count):
        path = directory / f"baseline-{i}.dat"
        if not path.exists() or path.stat().st_size != size:
            fd = _open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC)
            try:
                for off in range(0, size, block):
                    os.pwritev(fd, [memoryview(buf)[: min(block, size - off)]], off)
                os.fsync(fd)
            finally:
                os.close(fd)
        paths.append(path)
    return paths


def read(paths: list[Path], size: int, block: int, depth: int, seconds: float, *, sequential: bool = False,
         seed: int = 0) -> Measurement:
    """``depth`` threads reading ``block``-byte aligned blocks, at random or in sequence, for ``seconds``."""
    fds = [_open(p, os.O_RDONLY) for p in paths]
    blocks = size // block
    ops = [0] * depth
    lats: list[list[float]] = [[] for _ in range(depth)]
    stop = time.monotonic() + seconds
    done = [False]

    def worker(i: int) -> None:
        rng = random.Random(seed * 1000 + i)
        buf = mmap.mmap(-1, block)
        pos = i * (blocks // max(1, depth))
        n = 0
        lat = lats[i]
        while time.monotonic() < stop and not _halted[0] and not done[0]:
            if sequential:
                fd, off = fds[i % len(fds)], (pos % blocks) * block
                pos += 1
            else:
                fd, off = fds[rng.randrange(len(fds))], rng.randrange(blocks) * block
            t = time.perf_counter()
            os.preadv(fd, [buf], off)
            lat.append(time.perf_counter() - t)
            n += 1
        ops[i] = n

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(depth)]
    start = time.monotonic()
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:  # interrupted: the threads end after their current read, before the files close
        done[0] = True
        for t in threads:
            if t.ident is not None:  # started
                t.join()
        elapsed = time.monotonic() - start
        for fd in fds:
            os.close(fd)
    total = sum(ops)
    return Measurement(total, total * block, elapsed, [x for lat in lats for x in lat])


def write_sequential(directory: Path, block: int, total: int) -> Measurement:
    """Write ``total`` bytes in ``block``-byte O_DIRECT writes, then fsync (as fs3 acknowledges only
    durable data); the time includes the fsync."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "baseline-write.dat"
    buf = mmap.mmap(-1, block)
    buf.write(os.urandom(block))
    fd = _open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC)
    lats = []
    try:
        start = time.monotonic()
        for off in range(0, total, block):
            t = time.perf_counter()
            os.pwritev(fd, [buf], off)
            lats.append(time.perf_counter() - t)
        os.fsync(fd)
        elapsed = time.monotonic() - start
    finally:
        os.close(fd)
        path.unlink(missing_ok=True)
    return Measurement(len(lats), len(lats) * block, elapsed, lats)
