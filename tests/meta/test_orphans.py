"""Orphans (meta/ops/_changes.py): a file removed while open keeps its inode and data, reachable by
inode only, until its last session (write or read) ends: closed, released with a later open, or pruned
after its client died. Then the collector reclaims it, and only then do quotas count it no more."""

from __future__ import annotations

import pytest

from fs3 import _capability as cap
from fs3.meta import _keys as keys
from fs3.meta import ops
from fs3.meta._garbage import GarbageCollector
from fs3.meta.ops import ROOT_CRED, Cred
from fs3.proto import meta_pb2

ALICE = Cred(1001, 1001, (), False, "alice")
MIB = 1 << 20


class Clock:
    def __init__(self, ns: int):
        self.ns = ns

    def __call__(self) -> int:
        return self.ns


@pytest.fixture
def octx(ctx):
    ctx.capabilities = cap.CapabilityKeys(lambda: b"k" * 32)
    ctx.clock = Clock(10**18)
    ctx.config.session_ttl = 30.0
    ops.mkdir(ctx, ROOT_CRED, meta_pb2.MkdirRequest(path="/q", mode=0o1777))
    ops.set_quota(ctx, ROOT_CRED, meta_pb2.SetQuotaRequest(path="/q", max_bytes=100 * MIB))
    return ctx


def open_(ctx, path, cred=ALICE, **kw):
    return ops.open_file(ctx, cred, meta_pb2.OpenRequest(path=path, **kw))


def close(ctx, opened, cred=ALICE, **kw):
    return ops.close_file(ctx, cred, meta_pb2.CloseRequest(inode=opened.inode.id, session=opened.session, **kw))


def rm(ctx, path, cred=ALICE):
    ops.remove(ctx, cred, meta_pb2.RemoveRequest(path=path))


def written(ctx, path, length):
    """A file of ``length`` bytes, as a writer that reserved and closed leaves it."""
    w = open_(ctx, path, write=True, create=True)
    raw = ops.extend_write(ctx, ALICE, meta_pb2.ExtendWriteRequest(capability=w.write_capability, end=length))
    assert cap.fields(raw.capability).limit >= length
    close(ctx, w, wrote=True, written_end=length)
    return w.inode.id


def used(ctx):
    return ops.get_quota(ctx, ROOT_CRED, meta_pb2.GetQuotaRequest(path="/q")).quotas[0].used_bytes


def get(ctx, key):
    return ctx.kv.transact(lambda t: t.get(key), readonly=True)


def inode(ctx, ino):
    raw = get(ctx, keys.inode(ino))
    return None if raw is None else meta_pb2.Inode.FromString(raw)


def test_a_file_removed_while_read_keeps_its_data_until_the_reader_closes(octx):
    ino = written(octx, "/q/f", 3 * MIB)
    reader = open_(octx, "/q/f")
    rm(octx, "/q/f")
    with pytest.raises(FileNotFoundError):
        ops.stat(octx, ALICE, meta_pb2.StatRequest(path="/q/f"))
    kept = inode(octx, ino)
    assert kept is not None and kept.nlink == 0 and kept.length == 3 * MIB
    assert get(octx, keys.orphan(ino)) is not None
    renewed = ops.renew_capabilities(octx, ALICE, meta_pb2.RenewCapabilitiesRequest(
        capabilities=[reader.read_capability]))
    assert list(renewed.status) == [0] and cap.fields(renewed.capabilities[0]).inode == ino
    gc = GarbageCollector(octx, octx.chunks, delay=0)
    assert gc.run_once() == 0 and octx.chunks.removed == []
    assert used(octx) == 3 * MIB  # an orphan holds its data: it counts until reclaimed
    assert close(octx, reader).inode == meta_pb2.Inode(id=ino)
    assert inode(octx, ino) is None and get(octx, keys.orphan(ino)) is None
    assert used(octx) == 0
    assert gc.run_once() == 1 and octx.chunks.removed == [(ino, 0)]


def test_an_orphans_writer_keeps_writing_and_the_last_of_several_sessions_reclaims_it(octx):
    writer = open_(octx, "/q/f", write=True, create=True)
    reader = open_(octx, "/q/f")
    ino = writer.inode.id
    rm(octx, "/q/f")
    extended = ops.extend_write(octx, ALICE, meta_pb2.ExtendWriteRequest(
        capability=writer.write_capability, end=2 * MIB))
    assert cap.fields(extended.capability).limit >= 2 * MIB
    out = close(octx, writer, wrote=True, written_end=2 * MIB).inode
    assert (out.id, out.length, out.nlink) == (ino, 2 * MIB, 0)  # the reader still holds it
    assert used(octx) == 2 * MIB
    renewed = ops.renew_capabilities(octx, ALICE, meta_pb2.RenewCapabilitiesRequest(
        capabilities=[writer.write_capability]))
    assert list(renewed.status) != [0]  # the write session ended, the orphan did not
    close(octx, reader)
    assert inode(octx, ino) is None and used(octx) == 0
    assert GarbageCollector(octx, octx.chunks, delay=0).run_once() == 1


def test_a_release_riding_on_a_later_open_reclaims_an_orphan(octx):
    ino = written(octx, "/q/f", MIB)
    reader = open_(octx, "/q/f")
    rm(octx, "/q/f")
    written(octx, "/q/g", 0)
    ops.open_file(octx, ALICE, meta_pb2.OpenRequest(path="/q/g", release_inodes=[ino],
                                                     release_sessions=[reader.session]))
    assert inode(octx, ino) is None and used(octx) == 0


def test_a_dead_readers_session_expires_and_its_orphan_is_reclaimed(octx):
    ino = written(octx, "/q/f", MIB)
    reader = open_(octx, "/q/f")
    rm(octx, "/q/f")
    octx.clock.ns += int(20e9)
    assert ops.renew_sessions(octx, ALICE, meta_pb2.RenewSessionsRequest(
        inodes=[ino], sessions=[reader.session])).renewed == 1
    octx.clock.ns += int(20e9)
    assert ops.prune_sessions(octx) == 0 and inode(octx, ino) is not None  # renewed 20 s ago
    octx.clock.ns += int(40e9)  # the client died: nobody renews
    assert ops.prune_sessions(octx) == 1
    assert inode(octx, ino) is None and get(octx, keys.orphan(ino)) is None and used(octx) == 0
    assert GarbageCollector(octx, octx.chunks, delay=0).run_once() == 1
    assert octx.chunks.removed == [(ino, 0)]


def test_renaming_over_an_open_file_orphans_it(octx):
    ino = written(octx, "/q/f", MIB)
    written(octx, "/q/g", 0)
    reader = open_(octx, "/q/f")
    ops.rename(octx, ALICE, meta_pb2.RenameRequest(src="/q/g", dst="/q/f"))
    assert inode(octx, ino).nlink == 0
    close(octx, reader)
    assert inode(octx, ino) is None


def test_a_file_removed_while_closed_is_queued_at_once(octx):
    ino = written(octx, "/q/f", MIB)
    rm(octx, "/q/f")
    assert inode(octx, ino) is None and get(octx, keys.orphan(ino)) is None
    assert get(octx, keys.garbage(ino)) is not None and used(octx) == 0
