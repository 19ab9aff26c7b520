"""Batched reads (USRBIO-style) across files, chunks and storage nodes, into caller buffers."""

from __future__ import annotations

import asyncio
import os
import random

import numpy as np
import pytest

import fs3

CHUNK = 64 << 10


@pytest.fixture
def files(client, workdir):
    rng = random.Random(7)
    blobs = {}
    for i, size in enumerate([5 * CHUNK + 17, 3 * CHUNK, 123, 11 * CHUNK - 1]):
        data = rng.randbytes(size)
        client.write(f"{workdir}/f{i}", data)
        blobs[f"{workdir}/f{i}"] = data
    return blobs


def test_many_reads_across_chunks_and_files_into_one_numpy_array(client, files):
    rng = random.Random(1)
    paths = list(files)
    reqs = []
    for _ in range(200):
        path = rng.choice(paths)
        size = len(files[path])
        off = rng.randrange(size)
        reqs.append((path, off, rng.randrange(1, min(3 * CHUNK, size - off) + 1)))
    reqs += [(paths[0], CHUNK - 5, 10), (paths[3], 0, len(files[paths[3]]))]  # a boundary, a whole file
    total = sum(n for _, _, n in reqs)
    arr = np.zeros(total, dtype=np.uint8)
    counts = client.read_batch(reqs, arr)
    assert counts == [n for _, _, n in reqs]
    expected = b"".join(files[p][o : o + n] for p, o, n in reqs)
    assert arr.tobytes() == expected


def test_batch_with_handles_views_and_bytes(client, files):
    paths = list(files)
    stats = [client.stat(p) for p in paths]
    with client.open(paths[1], "rb") as f:
        reqs = [fs3.ReadRequest(stats[0], 100, CHUNK), (f, CHUNK - 1, 2), (paths[2], 0, 123)]
        out = client.read_batch(reqs)  # no buffers: new bytes objects
    assert out == [files[paths[0]][100 : 100 + CHUNK], files[paths[1]][CHUNK - 1 : CHUNK + 1], files[paths[2]]]
    arr = np.zeros((3, 128), dtype=np.uint8)
    client.read_batch([(paths[3], i * 1000, 128) for i in range(3)], [arr[i] for i in range(3)])
    assert all(arr[i].tobytes() == files[paths[3]][i * 1000 : i * 1000 + 128] for i in range(3))


def test_holes_and_reads_past_the_end(client, workdir):
    path = f"{workdir}/sparse"
    with client.open(path, "wb") as f:
        f.seek(4 * CHUNK + 10)
        f.write(b"tail")
    size = 4 * CHUNK + 14
    buf = bytearray(b"\xff" * (3 * CHUNK))
    counts = client.read_batch(
        [(path, CHUNK, CHUNK), (path, size - 4, 100), (path, size + 5, 100), (path, 3 * CHUNK, 1)],
        [memoryview(buf)[:CHUNK], memoryview(buf)[CHUNK : CHUNK + 100], bytearray(100), bytearray(1)],
    )
    assert counts == [CHUNK, 4, 0, 1]
    assert bytes(buf[:CHUNK]) == bytes(CHUNK)               # a hole reads as zeros
    assert bytes(buf[CHUNK : CHUNK + 4]) == b"tail"          # short at the end of the file
    assert bytes(buf[CHUNK + 4 : CHUNK + 100]) == b"\xff" * 96  # and nothing past what was read


def test_bad_batches_are_refused(client, files):
    path = next(iter(files))
    with pytest.raises(OSError):
        client.read_batch([(path, 0, 10)], bytearray(5))  # buffer too small
    with pytest.raises(OSError):
        client.read_batch([(path, -1, 10)])
    with pytest.raises(OSError):
        client.read_batch([(42, 0, 10)])
    with pytest.raises(FileNotFoundError):
        client.read_batch([("/no/such/file", 0, 10)])
    with pytest.raises(OSError):
        client.read_batch([(path, 0, 10)], bytes(10))  # read-only


def test_asyncio_twin(cluster, workdir):
    async def run():
        async with await fs3.aconnect(cluster.meta[0]) as aclient:
            data = os.urandom(3 * CHUNK + 99)
            async with await aclient.open(f"{workdir}/async", "wb") as f:
                await f.write(data[:1000])
                await f.write(data[1000:])
            assert await aclient.read(f"{workdir}/async") == data
            async with await aclient.open(f"{workdir}/async", "rb") as f:
                f.seek(CHUNK - 10)
                assert await f.read(20) == data[CHUNK - 10 : CHUNK + 10]
            out = await aclient.read_batch([(f"{workdir}/async", 5, 10), (f"{workdir}/async", 2 * CHUNK, 7)])
            assert out == [data[5:15], data[2 * CHUNK : 2 * CHUNK + 7]]
            assert [e async for e in aclient.iterdir(workdir)] == ["async"]

    asyncio.run(run())


def test_tcp_transport_when_shared_memory_is_off(cluster, workdir):
    with fs3.connect(cluster.meta[0], shm=False) as c:
        data = os.urandom(4 * CHUNK + 3)
        c.write(f"{workdir}/tcp", data)
        assert c.read(f"{workdir}/tcp") == data
        arr = np.zeros(2 * CHUNK, dtype=np.uint8)
        c.read_batch([(f"{workdir}/tcp", CHUNK // 2, 2 * CHUNK)], arr)
        assert arr.tobytes() == data[CHUNK // 2 : CHUNK // 2 + 2 * CHUNK]
        statuses = c.data_plane_status()
        assert statuses and {s.transport for s in statuses} == {"tcp"}
        assert all(s.reasons["shm"] == "disabled" for s in statuses)
        assert all(s.reasons["rdma"].startswith("unavailable") for s in statuses)


def test_status_names_the_transport_and_why_not_the_others(client):
    statuses = client.data_plane_status()
    assert len(statuses) == 3
    for s in statuses:
        assert s.transport == "shm"  # client and nodes share this host
        assert s.reasons["rdma"]  # why RDMA was not chosen (here: no RDMA device)
        assert s.channel == "unix"


def test_one_read_larger_than_the_shared_region(cluster, workdir):
    """A read bigger than the client's shared region lands in rounds (frames in flight make room for
    the next ones) instead of waiting on itself."""
    with fs3.connect(cluster.meta[0], shm_size=1 << 20) as c:
        data = os.urandom(40 * CHUNK)  # 2.5 MiB through a 1 MiB region
        c.write(f"{workdir}/big", data)
        assert c.read(f"{workdir}/big") == data
        assert c.read_batch([(f"{workdir}/big", 0, len(data)), (f"{workdir}/big", 7, CHUNK)]) == [data, data[7 : 7 + CHUNK]]
