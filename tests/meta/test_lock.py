"""Locks kept by meta: fcntl's range rules (split, merge, shared and exclusive), flock apart from POSIX
locks, and a dead client's locks freeing themselves when its lease runs out."""

from __future__ import annotations

import pytest

from fs3.meta import ops
from fs3.meta.ops import ROOT_CRED
from fs3.meta.ops.lock import FLOCK, POSIX, READ, TO_END, UNLOCK, WRITE, conflicts, lock, set_ranges
from fs3.proto import meta_pb2


def test_set_ranges_splits_and_merges_as_fcntl_does():
    held = set_ranges([], 0, 100, READ)
    held = set_ranges(held, 40, 60, WRITE)
    assert held == [(0, 40, READ), (40, 60, WRITE), (60, 100, READ)]
    held = set_ranges(held, 40, 60, READ)
    assert held == [(0, 100, READ)]
    held = set_ranges(held, 10, 20, UNLOCK)
    assert held == [(0, 10, READ), (20, 100, READ)]
    assert set_ranges(held, 0, TO_END, UNLOCK) == []


def test_conflicts_only_with_a_writer_or_as_one():
    held = [(0, 10, READ), (20, 30, WRITE)]
    assert conflicts(held, 5, 8, READ) is None
    assert conflicts(held, 5, 8, WRITE) == (0, 10, READ)
    assert conflicts(held, 25, 26, READ) == (20, 30, WRITE)
    assert conflicts(held, 10, 20, WRITE) is None


def _lock(ctx, ino, client, owner, type_, start=0, end=0, kind=POSIX, test=False, holder=""):
    return lock(ctx, ROOT_CRED, meta_pb2.LockRequest(inode=ino, client=client, owner=owner, kind=kind,
                                                     type=type_, start=start, end=end, test=test, holder=holder))


@pytest.fixture
def ino(ctx):
    return ops.open_file(ctx, ROOT_CRED, meta_pb2.OpenRequest(path="/locked", write=True, create=True)).inode.id


def test_owners_exclude_each_other_across_clients(ctx, ino):
    assert _lock(ctx, ino, "host-a", "p1", WRITE, 0, 100).granted
    reply = _lock(ctx, ino, "host-b", "p7", READ, 50, 60)
    assert not reply.granted and reply.conflict.type == WRITE and reply.conflict_owner == "host-a/p1"
    assert _lock(ctx, ino, "host-b", "p7", READ, 100, 200).granted  # beside it: fine
    assert not _lock(ctx, ino, "host-b", "p7", WRITE, 0, 1, test=True).granted  # F_GETLK takes nothing
    assert _lock(ctx, ino, "host-a", "p1", UNLOCK).granted
    assert _lock(ctx, ino, "host-b", "p7", WRITE, 0, 100).granted
    # flock and POSIX locks never conflict (as on Linux)
    assert _lock(ctx, ino, "host-a", "f1", WRITE, kind=FLOCK).granted
    assert not _lock(ctx, ino, "host-b", "f2", READ, kind=FLOCK).granted


def test_a_dead_clients_locks_free_themselves(ctx, ino):
    now = ctx.clock()
    ctx.clock = lambda: now
    assert _lock(ctx, ino, "crashed", "p1", WRITE).granted
    assert not _lock(ctx, ino, "alive", "p2", WRITE).granted
    ctx.clock = lambda: now + int(ctx.config.session_ttl * 1e9) + 1  # its lease ran out, unrenewed
    assert _lock(ctx, ino, "alive", "p2", WRITE).granted


def test_a_renewed_lease_keeps_the_locks(ctx, ino):
    now = ctx.clock()
    ctx.clock = lambda: now
    assert _lock(ctx, ino, "live", "p1", WRITE).granted
    ttl = int(ctx.config.session_ttl * 1e9)
    ctx.clock = lambda: now + ttl // 2
    ops.renew_sessions(ctx, ROOT_CRED, meta_pb2.RenewSessionsRequest(lock_client="live"))
    ctx.clock = lambda: now + ttl + 1
    assert not _lock(ctx, ino, "other", "p2", WRITE).granted


def _open(ctx, path, client, write):
    return ops.open_file(ctx, ROOT_CRED, meta_pb2.OpenRequest(path=path, write=write, create=write, client=client))


def test_meta_says_when_another_client_shares_writes_to_a_file(ctx):
    """OpenReply.shared and LockReply.shared: what lets a mount open a file uncached and drop its page
    cache under a lock (docs/consistency.md, "Files shared between clients")."""
    first = _open(ctx, "/shared", "host-a:1", write=True)
    assert not first.shared
    assert not _open(ctx, "/shared", "host-a:1", write=True).shared  # the same client: its own cache
    assert _open(ctx, "/shared", "host-b:2", write=False).shared  # host-a writes it
    ino = first.inode.id
    assert _lock(ctx, ino, "host-b:2:x", "p", READ, holder="host-b:2").shared
    assert not _lock(ctx, ino, "host-a:1:x", "p", WRITE, 0, 1, holder="host-a:1").shared  # only host-b reads
    # a file only read by many clients stays cached everywhere
    made = _open(ctx, "/shard", "writer:9", write=True)
    ops.close_file(ctx, ROOT_CRED, meta_pb2.CloseRequest(inode=made.inode.id, session=made.session))
    assert not _open(ctx, "/shard", "reader:1", write=False).shared
    assert not _open(ctx, "/shard", "reader:2", write=False).shared
    assert _open(ctx, "/shard", "writer:9", write=True).shared  # ... until one of them writes
    # a dead client's session (past its expiry, not yet pruned) shares nothing
    now = ctx.clock()
    ctx.clock = lambda: now + int(ctx.config.session_ttl * 1e9) + 1
    assert not _open(ctx, "/shard", "reader:3", write=True).shared
