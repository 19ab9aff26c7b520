"""The trash, retry-safe mutations (request ids), write-session pruning, and the collector's
housekeeping."""

from __future__ import annotations

import errno

import pytest

from fs3.meta import _keys as keys
from fs3.meta import ops
from fs3.meta._garbage import GarbageCollector
from fs3.meta.ops import ROOT_CRED as ROOT
from fs3.meta.ops import Cred
from fs3.proto import meta_pb2

ALICE = Cred(1000, 1000, (), False, "alice")


def create(ctx, path, cred=ROOT):
    opened = ops.open_file(ctx, cred, meta_pb2.OpenRequest(path=path, write=True, create=True))
    ops.close_file(ctx, cred, meta_pb2.CloseRequest(inode=opened.inode.id, session=opened.session))
    return opened.inode


def names(ctx, path, cred=ROOT):
    return [e.name for e in ops.readdir(ctx, cred, meta_pb2.ReadDirRequest(path=path)).entries]


def mkdir(ctx, path, cred=ROOT, **kw):
    return ops.mkdir(ctx, cred, meta_pb2.MkdirRequest(path=path, **kw)).inode


def stat(ctx, path, cred=ROOT):
    return ops.stat(ctx, cred, meta_pb2.StatRequest(path=path)).inode


def renew(ctx, *pairs):
    inodes, sessions = zip(*pairs, strict=True)
    request = meta_pb2.RenewSessionsRequest(inodes=inodes, sessions=sessions)
    return ops.renew_sessions(ctx, ROOT, request).renewed


class Clock:
    def __init__(self, ns: int):
        self.ns = ns

    def __call__(self) -> int:
        return self.ns


def test_trash_moves_entries_per_user_and_restores_by_rename(ctx):
    mkdir(ctx, "/d", mode=0o777)
    f = create(ctx, "/d/f", ALICE)
    mkdir(ctx, "/d/sub/x", ALICE, parents=True)
    ops.remove(ctx, ALICE, meta_pb2.RemoveRequest(path="/d/f", trash=True))
    ops.remove(ctx, ALICE, meta_pb2.RemoveRequest(path="/d/sub", trash=True, recursive=True))
    assert names(ctx, "/d") == []
    trashed = names(ctx, "/.trash/alice", ALICE)
    assert len(trashed) == 2 and trashed[0].startswith("f.") and trashed[1].startswith("sub.")
    assert stat(ctx, "/.trash", ROOT).mode == 0o711
    assert stat(ctx, "/.trash/alice", ROOT).uid == ALICE.uid
    # the same name trashed twice does not collide
    create(ctx, "/d/f", ALICE)
    ops.remove(ctx, ALICE, meta_pb2.RemoveRequest(path="/d/f", trash=True))
    assert len(names(ctx, "/.trash/alice", ALICE)) == 3
    # restore: a rename back
    ops.rename(ctx, ALICE, meta_pb2.RenameRequest(src=f"/.trash/alice/{trashed[0]}", dst="/d/f"))
    assert stat(ctx, "/d/f", ALICE).id == f.id
    assert ctx.chunks.removed == []  # nothing reclaimed while in the trash
    # removing from the trash removes for good
    ops.remove(ctx, ALICE, meta_pb2.RemoveRequest(path=f"/.trash/alice/{trashed[1]}", trash=True, recursive=True))
    assert len(names(ctx, "/.trash/alice", ALICE)) == 1


def test_trash_expiry_removes_old_entries_only(ctx):
    clock = Clock(10**18)
    ctx.clock = clock
    ctx.config.trash_expiry = 100.0
    create(ctx, "/old")
    ops.remove(ctx, ROOT, meta_pb2.RemoveRequest(path="/old", trash=True))
    clock.ns += int(60e9)
    create(ctx, "/new")
    ops.remove(ctx, ROOT, meta_pb2.RemoveRequest(path="/new", trash=True))
    clock.ns += int(60e9)
    gc = GarbageCollector(ctx, ctx.chunks, delay=0)
    assert gc.expire_trash() == 1
    assert [n.split(".")[0] for n in names(ctx, "/.trash/root")] == ["new"]
    gc.run_once()
    assert len(ctx.chunks.removed) == 1


def test_a_retried_mutation_applies_once(ctx):
    create(ctx, "/a")
    rid = "0000000000000001req"
    first = ops.rename(ctx, ROOT, meta_pb2.RenameRequest(src="/a", dst="/b", request_id=rid))
    again = ops.rename(ctx, ROOT, meta_pb2.RenameRequest(src="/a", dst="/b", request_id=rid))
    assert again.inode.id == first.inode.id  # the first reply, although /a is gone now
    mkdir(ctx, "/d", request_id="m1")
    assert mkdir(ctx, "/d", request_id="m1").type == meta_pb2.DIRECTORY  # no EEXIST
    request = meta_pb2.OpenRequest(path="/n", write=True, create=True, exclusive=True, request_id="o1")
    first_open, second_open = ops.open_file(ctx, ROOT, request), ops.open_file(ctx, ROOT, request)
    assert (first_open.inode.id, first_open.session) == (second_open.inode.id, second_open.session)
    ops.remove(ctx, ROOT, meta_pb2.RemoveRequest(path="/b", request_id="r1"))
    ops.remove(ctx, ROOT, meta_pb2.RemoveRequest(path="/b", request_id="r1"))  # no ENOENT
    with pytest.raises(FileNotFoundError):
        ops.remove(ctx, ROOT, meta_pb2.RemoveRequest(path="/b", request_id="r2"))


def test_request_replies_expire(ctx):
    clock = Clock(10**18)
    ctx.clock = clock
    ctx.config.request_ttl = 10.0
    mkdir(ctx, "/d", request_id="old")
    clock.ns += int(20e9)
    mkdir(ctx, "/e", request_id="young")
    assert GarbageCollector(ctx, ctx.chunks).expire_requests() == 1
    assert ctx.kv.transact(lambda txn: txn.get(keys.request("young")), readonly=True) is not None


def test_a_crashed_writers_session_is_pruned_and_the_file_then_reclaimed(ctx):
    clock = Clock(10**18)
    ctx.clock = clock
    ctx.config.session_ttl = 30.0
    opened = ops.open_file(ctx, ROOT, meta_pb2.OpenRequest(path="/f", write=True, create=True))
    inode, session = opened.inode, opened.session
    ops.remove(ctx, ROOT, meta_pb2.RemoveRequest(path="/f"))
    gc = GarbageCollector(ctx, ctx.chunks, delay=0)
    assert gc.run_once() == 0 and ctx.chunks.removed == []  # a writer holds it
    clock.ns += int(20e9)
    assert renew(ctx, (inode.id, session)) == 1
    clock.ns += int(20e9)
    assert ops.prune_sessions(ctx) == 0  # renewed 20 s ago
    clock.ns += int(40e9)
    assert ops.prune_sessions(ctx) == 1  # the writer went silent
    assert renew(ctx, (inode.id, session)) == 0
    assert gc.run_once() == 1 and ctx.chunks.removed == [(inode.id, 0)]


def test_open_for_read_needs_no_write_permission_but_truncate_does(ctx):
    create(ctx, "/f")
    with pytest.raises(OSError) as info:
        ops.open_file(ctx, ALICE, meta_pb2.OpenRequest(path="/f", write=True, truncate=True))
    assert info.value.errno == errno.EACCES
    read = ops.open_file(ctx, ALICE, meta_pb2.OpenRequest(path="/f"))  # a read session only
    assert ctx.kv.transact(lambda t: t.get(keys.session(read.inode.id, read.session)), readonly=True) is None
