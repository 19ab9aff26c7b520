"""Concurrent per-call reads share their stats at meta (client/_coalesce.py): the logic on its own, then on a
real cluster, where each call still gets its own bytes and its own error, and a call that starts after
another client's close sees what that client wrote (close-to-open is kept)."""

from __future__ import annotations

import asyncio
import os

import pytest
from _users import fresh_user

import fs3
from fs3._errors import PermissionDenied
from fs3.client._coalesce import Coalescer

KiB = 1 << 10


def test_calls_that_come_while_a_batch_is_out_go_together_in_the_next_one():
    sent: list[list[int]] = []
    gate = asyncio.Event()

    async def send(items):
        sent.append(list(items))
        if len(sent) == 1:
            await gate.wait()  # the first batch is out while the others arrive
        return [i * 10 for i in items]

    async def run():
        c = Coalescer(send)
        first = asyncio.ensure_future(c(1))
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        assert sent == [[1]]  # alone, it goes at once
        rest = [asyncio.ensure_future(c(i)) for i in range(2, 18)]
        await asyncio.sleep(0)
        assert sent == [[1]]  # never joined to the batch in flight
        gate.set()
        assert await first == 10
        assert await asyncio.gather(*rest) == [i * 10 for i in range(2, 18)]
        assert sent == [[1], list(range(2, 18))]

    asyncio.run(run())


def test_an_error_reaches_its_own_caller_and_a_failed_batch_every_caller_of_it():
    async def send(items):
        if "all" in items:
            raise OSError("down")
        return [ValueError(i) if i == "bad" else i for i in items]

    async def run():
        c = Coalescer(send)
        got = await asyncio.gather(c("a"), c("bad"), c("b"), return_exceptions=True)
        assert got[0] == "a" and got[2] == "b" and isinstance(got[1], ValueError)
        got = await asyncio.gather(c("x"), c("all"), return_exceptions=True)
        assert all(isinstance(g, OSError) for g in got)
        assert await c("after") == "after"  # and it goes on

    asyncio.run(run())


def test_a_cancelled_caller_is_skipped_and_the_others_answered():
    seen = []

    async def send(items):
        seen.extend(items)
        await asyncio.sleep(0)
        return items

    async def run():
        c = Coalescer(send)
        blocker = asyncio.ensure_future(c("first"))
        await asyncio.sleep(0)
        gone = asyncio.ensure_future(c("gone"))
        kept = asyncio.ensure_future(c("kept"))
        await asyncio.sleep(0)
        gone.cancel()
        assert await kept == "kept" and await blocker == "first"
        assert "gone" not in seen

    asyncio.run(run())


@pytest.fixture
def blobs(client, workdir):
    out = {}
    for i in range(4):
        out[f"{workdir}/b{i}"] = os.urandom(200 * KiB + i)
        client.write(f"{workdir}/b{i}", out[f"{workdir}/b{i}"])
    return out


def test_concurrent_reads_each_get_their_own_bytes_and_errors(cluster, client, workdir, blobs):
    client.write(f"{workdir}/secret", b"s" * 100)
    client.chmod(f"{workdir}/secret", 0o600)
    _info, token = fresh_user(client, "coalesce-reader", uid=43210, gid=43210)

    async def run():
        async with await fs3.aconnect(cluster.meta[0]) as a, \
                await fs3.aconnect(cluster.meta[0], token=token) as other:
            calls = []
            for k in range(64):
                path = f"{workdir}/b{k % 4}"
                off = (k * 7919) % (150 * KiB)
                calls.append((path, off, 4 * KiB + k))
            got = await asyncio.gather(*(a.read(p, o, n) for p, o, n in calls),
                                       a.read(f"{workdir}/missing", 0, 10), return_exceptions=True)
            for (p, o, n), g in zip(calls, got, strict=False):
                assert g == blobs[p][o:o + n]
            assert isinstance(got[-1], FileNotFoundError)
            # another user's calls in flight together: the one it may not read fails, alone
            mixed = await asyncio.gather(other.read(f"{workdir}/secret", 0, 10),
                                         *(other.read(f"{workdir}/b0", k * KiB, KiB) for k in range(8)),
                                         return_exceptions=True)
            assert isinstance(mixed[0], PermissionDenied)
            assert mixed[1:] == [blobs[f"{workdir}/b0"][k * KiB:(k + 1) * KiB] for k in range(8)]

    asyncio.run(run())


def test_a_read_that_starts_after_another_clients_close_sees_its_bytes(cluster, workdir):
    # Readers hammer one file while another client rewrites it; each time the writer has closed, a
    # read started afterwards must see the new bytes, even though batches were in flight all along.
    path = f"{workdir}/rewritten"

    async def run():
        async with await fs3.aconnect(cluster.meta[0]) as reader, \
                await fs3.aconnect(cluster.meta[0]) as writer:
            await writer.write(path, b"v0" * 2048)
            stop = False

            async def hammer():
                while not stop:
                    await reader.read(path, 0, 4096)

            busy = [asyncio.ensure_future(hammer()) for _ in range(8)]
            try:
                for v in range(1, 20):
                    data = f"v{v % 10}".encode() * 2048 + bytes([v]) * v  # longer each time
                    await writer.write(path, data)  # closed: committed at meta and on every replica
                    assert await reader.read(path) == data
            finally:
                stop = True
                await asyncio.gather(*busy)

    asyncio.run(run())
