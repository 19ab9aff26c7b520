"""fs3 workloads for ``fs3 bench``, on an AsyncClient: files to read, random or sequential batched reads,
sequential writes, and a large streaming read whose client memory is measured in a child process."""

from __future__ import annotations

import asyncio
import json
import os
import random
import subprocess
import sys
import time
from collections.abc import Callable

from fs3._errors import InternalError

from ._stats import Measurement


async def ensure_files(client, directory: str, count: int, size: int, *, block: int = 4 << 20,
                       progress: Callable[[int], None] | None = None, fresh: bool = False) -> list:
    """``count`` fs3 files of ``size`` random bytes under ``directory``: reused from an earlier run, or
    written anew with ``fresh`` (so fs3's files and the baseline's are equally recent)."""
    await client.mkdir(directory, parents=True)
    data = os.urandom(block)
    stats = []
    for i in range(count):
        path = f"{directory.rstrip('/')}/file-{i}-{size}"
        if fresh or not await client.exists(path) or (await client.stat(path)).size != size:
            async with await client.open(path, "wb") as f:
                for off in range(0, size, block):
                    n = min(block, size - off)
                    await f.write(memoryview(data)[:n])
                    if progress:
                        progress(n)
        elif progress:
            progress(size)
        stats.append(await client.stat(path))
    return stats


async def read(client, files: list, size: int, block: int, depth: int, batch: int, seconds: float, *,
               sequential: bool = False, seed: int = 0) -> Measurement:
    """``depth`` reads in flight, as ``depth // batch`` tasks each issuing batches of ``batch`` reads."""
    batch = max(1, min(batch, depth))
    workers = max(1, depth // batch)
    blocks = size // block
    stop = time.monotonic() + seconds
    ops = 0
    lats: list[float] = []

    async def worker(i: int) -> None:
        nonlocal ops
        rng = random.Random(seed * 1000 + i)
        buf = bytearray(block * batch)
        pos = i * (blocks // workers)
        while time.monotonic() < stop:
            if sequential:
                reqs = []
                for _ in range(batch):
                    reqs.append((files[i % len(files)], (pos % blocks) * block, block))
                    pos += 1
            else:
                reqs = [(files[rng.randrange(len(files))], rng.randrange(blocks) * block, block)
                        for _ in range(batch)]
            t = time.perf_counter()
            await client.read_batch(reqs, buf)
            lat = time.perf_counter() - t
            lats.extend([lat] * batch)
            ops += batch

    start = time.monotonic()
    await asyncio.gather(*(worker(i) for i in range(workers)))
    elapsed = time.monotonic() - start
    return Measurement(ops, ops * block, elapsed, lats)


async def read_calls(client, path: str, size: int, block: int, depth: int, seconds: float, *,
                     seed: int = 0) -> Measurement:
    """``depth`` tasks each calling ``await client.read(path, offset, block)`` at random aligned offsets
    for ``seconds``: one call per read, by path, as an application that knows nothing of batches does."""
    blocks = size // block
    stop = time.monotonic() + seconds
    ops = 0
    lats: list[float] = []

    async def worker(i: int) -> None:
        nonlocal ops
        rng = random.Random(seed * 1000 + i)
        while time.monotonic() < stop:
            t = time.perf_counter()
            data = await client.read(path, rng.randrange(blocks) * block, block)
            lats.append(time.perf_counter() - t)
            if len(data) != block:
                raise InternalError(f"short read of {path}: {len(data)} of {block} bytes")
            ops += 1

    start = time.monotonic()
    await asyncio.gather(*(worker(i) for i in range(depth)))
    elapsed = time.monotonic() - start
    return Measurement(ops, ops * block, elapsed, lats)


async def write_sequential(client, path: str, block: int, total: int) -> Measurement:
    """Write ``total`` bytes in ``block``-byte writes to a new file and close it (every byte durable). The
    caller removes the file (after its last round: the cluster reclaims removed chunks in the background,
    which must not run beside a round being timed)."""
    data = os.urandom(block)
    lats = []
    start = time.monotonic()
    async with await client.open(path, "wb") as f:
        for _ in range(0, total, block):
            t = time.perf_counter()
            await f.write(data)
            lats.append(time.perf_counter() - t)
    elapsed = time.monotonic() - start
    return Measurement(len(lats), len(lats) * block, elapsed, lats)


_STREAM = r"""
import json, resource, sys, time
import fs3
address, path, bufsize = sys.argv[1], sys.argv[2], int(sys.argv[3])
with fs3.connect(address) as client:
    with client.open(path, "rb", buffering=0) as f:
        buf = bytearray(bufsize)
        total = 0
        start = time.monotonic()
        while n := f.readinto(buf):
            total += n
        elapsed = time.monotonic() - start
print(json.dumps({"bytes": total, "seconds": elapsed,
                  "max_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}))
"""


def stream_read(address: str, path: str, bufsize: int = 16 << 20) -> dict:
    """Read a whole file in a fresh client process; returns its bytes, seconds and peak resident memory."""
    proc = subprocess.run([sys.executable, "-c", _STREAM, address, path, str(bufsize)],
                          capture_output=True, text=True, timeout=3600)
    if proc.returncode != 0:
        raise RuntimeError(f"streaming reader failed: {proc.stderr.strip()[-500:]}")
    return json.loads(proc.stdout)
