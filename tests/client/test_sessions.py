"""The client's write sessions: renewed while open, and a client that closes always closes, whatever
became of the task renewing them."""

from __future__ import annotations

import asyncio

import pytest

from fs3.client import _sessions
from fs3.proto import meta_pb2


class FakeMeta:
    """Records the calls a WriteSessions makes; RenewSessions fails with ``renew_error`` when set."""

    def __init__(self, renew_error: BaseException | None = None):
        self.calls: list[str] = []
        self.renew_error = renew_error
        self.renewed = asyncio.Event()

    async def __call__(self, method, request):
        self.calls.append(method)
        if method == "RenewSessions":
            self.renewed.set()
            if self.renew_error is not None:
                raise self.renew_error
            return meta_pb2.RenewSessionsReply(renewed=len(request.inodes))
        if method == "Close":
            return meta_pb2.CloseReply(inode=meta_pb2.Inode(id=request.inode, length=request.written_end))
        raise AssertionError(method)


@pytest.fixture
def quick_renewal(monkeypatch):
    monkeypatch.setattr(_sessions, "RENEW_INTERVAL", 0.001)


@pytest.mark.parametrize("error", [OSError("meta unreachable"), RuntimeError("a bug")])
def test_aclose_stops_a_renewer_whatever_it_raised(quick_renewal, error, caplog):
    async def main():
        meta = FakeMeta(renew_error=error)
        sessions = _sessions.WriteSessions(meta)
        sessions.opened(7, 1)
        await meta.renewed.wait()
        await sessions.aclose()  # never raises: the client goes on closing its connections
        return meta

    meta = asyncio.run(main())
    assert "RenewSessions" in meta.calls
    if isinstance(error, RuntimeError):
        assert "renewing write sessions failed" in caplog.text


def test_a_closed_session_is_no_longer_renewed(quick_renewal):
    async def main():
        meta = FakeMeta()
        sessions = _sessions.WriteSessions(meta)
        sessions.opened(7, 1)
        await meta.renewed.wait()
        inode = await sessions.close(meta_pb2.Inode(id=7), 1, wrote=True, written_end=10)
        assert inode.length == 10
        renewer = sessions._renewer
        await asyncio.wait_for(renewer, 10)  # the loop ends by itself once nothing is open
        await sessions.aclose()

    asyncio.run(main())


def test_a_writer_goes_on_when_another_writer_of_its_file_in_the_client_closes(client, workdir):
    """Files of one inode open for writing in one client share the write capability the client holds,
    which names one write session: when that session ends, a live one's takes its place (before: the
    next renewal presented the ended session and the remaining writer failed with EACCES, which broke
    SQLite from two processes on one mount once the mount kept sessions across fsync)."""
    from fs3 import _capability

    path = f"{workdir}/f"
    with client.open(path, "wb") as first:
        first.write(b"a" * 10)
        first.flush()
        with client.open(path, "r+b") as second:  # its capability is the one held now
            second.write(b"b" * 5)
        ino = first.raw.inode.id
        client._async._capabilities.lapse(ino, _capability.WRITE)  # renew before the next write
        first.seek(10)
        first.write(b"c" * 10)
        first.flush()
        first.raw.commit()  # a flush that settles the length and keeps the session (the mount's fsync)
        assert client.stat(path).size == 20
        first.write(b"d")
    assert client.read(path) == b"b" * 5 + b"a" * 5 + b"c" * 10 + b"d"
