"""pread / pwrite on the client's files: positional, the position never moves, and many threads (or
tasks) at once on one file object at distinct offsets end with exactly the bytes each wrote; plus lstat."""

from __future__ import annotations

import asyncio
import os
import threading

import pytest

import fs3

CHUNK = 64 << 10  # the session cluster's chunk size
PIECE = 10_000  # not a divisor of CHUNK: pieces straddle chunks, so neighbours share chunks


def _hammer(f, n: int, data: bytes, threads: int = 8) -> list[BaseException]:
    """Threads pwrite disjoint pieces of ``data`` (in a scattered order), then pread them back."""
    errors: list[BaseException] = []

    def worker(k: int):
        try:
            mine = [i for i in range(n) if i % threads == k]
            for i in reversed(mine):
                assert f.pwrite(data[i * PIECE:(i + 1) * PIECE], i * PIECE) == PIECE
            for i in mine:
                got = f.pread(PIECE, i * PIECE)
                assert got == data[i * PIECE:(i + 1) * PIECE], f"piece {i}"
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)

    ts = [threading.Thread(target=worker, args=(k,)) for k in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return errors


@pytest.mark.parametrize("buffering", [0, -1])
def test_threads_pwrite_and_pread_one_file_object(client, workdir, buffering):
    n = 40  # 400,000 bytes over 7 chunks
    data = os.urandom(n * PIECE)
    path = f"{workdir}/p"
    with client.open(path, "w+b", buffering=buffering) as f:
        f.write(b"head")
        assert _hammer(f, n, data) == []
        assert f.tell() == 4  # nobody moved the position
        f.write(b"HEAD")  # the position still writes where it was
        assert f.pread(8, 0) == data[:4] + b"HEAD"  # piece 0 replaced "head"; "HEAD" went to 4
    expected = data[:4] + b"HEAD" + data[8:]
    assert client.read(path) == expected
    assert client.stat(path).size == len(data)


def test_pread_and_pwrite_edges(client, workdir):
    path = f"{workdir}/e"
    client.write(path, b"0123456789")
    with client.open(path, "r+b") as f:
        assert f.read(2) == b"01"  # read-ahead fills the buffer
        assert f.pwrite(b"AB", 2) == 2  # replaces bytes the buffer had read ahead
        assert f.read(2) == b"AB"  # ...and the next read sees them
        assert f.pread(100, 8) == b"89" and f.pread(5, 10) == b"" and f.pread(5, 50) == b""
        f.write(b"cd")  # buffered, not yet sent
        assert f.pread(4, 4) == b"cd67"  # pread sees this file's own writes
        f.pwrite(b"!", 12)  # past the end: a hole in between
        assert f.pread(10, 8) == b"89\0\0!"
        assert f.tell() == 6
        with pytest.raises(fs3.InvalidArgument):
            f.pread(1, -1)
    assert client.read(path) == b"01AB" + b"cd" + b"6789\0\0!"
    with client.open(path, "rb") as f, pytest.raises(OSError):
        f.raw.pwrite(b"x", 0)
    with client.open(path, "ab") as f:  # O_APPEND: pwrite appends, as on Linux
        f.pwrite(b"END", 0)
    assert client.read(path).endswith(b"!END")


def test_async_tasks_pwrite_and_pread(cluster, workdir):
    n = 30
    data = os.urandom(n * PIECE)

    async def run():
        async with await fs3.aconnect(cluster.meta[0]) as aclient:
            async with await aclient.open(f"{workdir}/a", "w+b") as f:
                await asyncio.gather(*(f.pwrite(data[i * PIECE:(i + 1) * PIECE], i * PIECE)
                                       for i in reversed(range(n))))
                assert f.tell() == 0
                got = await asyncio.gather(*(f.pread(PIECE, i * PIECE) for i in range(n)))
                assert b"".join(got) == data
            return await aclient.read(f"{workdir}/a")

    assert asyncio.run(run()) == data


def test_lstat_sees_the_link_itself(client, workdir):
    client.write(f"{workdir}/target", b"x" * 10)
    client.symlink("target", f"{workdir}/link")
    assert client.lstat(f"{workdir}/link").type == "symlink"
    assert client.stat(f"{workdir}/link").size == 10
