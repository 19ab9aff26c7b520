"""Meta's change feed (meta/_change_feed.py): every committed change of an inode record is published in
order with what a stat shows; a watcher that cannot be told what changed is told to reset."""

from __future__ import annotations

import threading

import pytest

from fs3._errors import AlreadyExists
from fs3.meta import ops
from fs3.meta._change_feed import ChangeFeed, WatchedStore
from fs3.meta._inode_ids import InodeAllocator, ensure_root
from fs3.meta.kv import open_kv
from fs3.proto import meta_pb2


@pytest.fixture
def ns(tmp_path):
    kv = open_kv(f"sqlite:///{tmp_path}/meta.db")
    ensure_root(kv, ops.NamespaceConfig())
    feed = ChangeFeed()
    store = WatchedStore(kv, feed)
    ctx = ops.OpContext(store, InodeAllocator(kv), ops.ChunkReclaimer())
    yield ctx, feed
    store.close()


def _all(feed: ChangeFeed, after: int = 0) -> list[meta_pb2.InodeChange]:
    return list(feed.since(feed.epoch, after, 0).changes)


def test_a_mkdir_publishes_the_new_inode_and_its_parent_as_a_stat_shows_them(ns):
    ctx, feed = ns
    made = ops.mkdir(ctx, ops.ROOT_CRED, meta_pb2.MkdirRequest(path="/d", mode=0o750)).inode
    changes = {c.inode: c for c in _all(feed)}
    assert set(changes) == {ops.ROOT, made.id}
    mine = changes[made.id]
    assert (mine.mode, mine.nlink, mine.ctime_ns, mine.removed) == (0o750, made.nlink, made.ctime_ns, False)
    root = ctx.kv.transact(lambda txn: ops.get_inode(txn, ops.ROOT), readonly=True)
    assert changes[ops.ROOT].mtime_ns == root.mtime_ns  # the directory's new mtime


def test_a_removal_is_published_as_removed_and_numbers_follow_on(ns):
    ctx, feed = ns
    ops.mkdir(ctx, ops.ROOT_CRED, meta_pb2.MkdirRequest(path="/d"))
    first = feed.since(feed.epoch, 0, 0)
    ops.remove(ctx, ops.ROOT_CRED, meta_pb2.RemoveRequest(path="/d", directory=True))
    later = feed.since(first.epoch, first.last, 0)
    assert later.last > first.last and not later.reset
    assert any(c.removed for c in later.changes)
    assert feed.since(feed.epoch, later.last, 0).changes == []


def test_a_failed_mutation_publishes_nothing(ns):
    ctx, feed = ns
    ops.mkdir(ctx, ops.ROOT_CRED, meta_pb2.MkdirRequest(path="/d"))
    last = feed.since(feed.epoch, 0, 0).last
    with pytest.raises(AlreadyExists):
        ops.mkdir(ctx, ops.ROOT_CRED, meta_pb2.MkdirRequest(path="/d"))
    assert feed.since(feed.epoch, last, 0).last == last


def test_a_reader_of_the_namespace_publishes_nothing(ns):
    ctx, feed = ns
    ops.stat(ctx, ops.ROOT_CRED, meta_pb2.StatRequest(path="/"))
    assert _all(feed) == []


def test_another_epoch_or_a_position_the_history_lost_is_a_reset():
    feed = ChangeFeed(history=4)
    feed.publish([meta_pb2.InodeChange(inode=i) for i in range(1, 11)])
    assert feed.since(0, 0, 0).reset                    # a first call learns the epoch and position
    assert feed.since(feed.epoch + 1, 9, 0).reset       # a restarted server's feed
    assert feed.since(feed.epoch, 2, 0).reset           # 3..6 are gone from the history
    assert feed.since(feed.epoch, 11, 0).reset          # ahead of the feed: not this feed's numbers
    kept = feed.since(feed.epoch, 6, 0)
    assert not kept.reset and [c.inode for c in kept.changes] == [7, 8, 9, 10] and kept.last == 10


def test_a_waiting_watcher_is_answered_when_a_change_comes():
    feed = ChangeFeed()
    got: list = []
    waiter = threading.Thread(target=lambda: got.append(feed.since(feed.epoch, 0, 30.0)))
    waiter.start()
    feed.publish([meta_pb2.InodeChange(inode=7)])
    waiter.join(timeout=30)
    assert not waiter.is_alive() and [c.inode for c in got[0].changes] == [7]


def test_closing_the_feed_answers_waiting_watchers():
    feed = ChangeFeed()
    waiter = threading.Thread(target=lambda: feed.since(feed.epoch, 0, 30.0))
    waiter.start()
    feed.close()
    waiter.join(timeout=30)
    assert not waiter.is_alive()


def test_a_transaction_inside_another_is_published_when_the_outer_one_commits(ns):
    ctx, feed = ns
    seen_inside: list[int] = []

    def outer(txn):
        ops.mkdir(ctx, ops.ROOT_CRED, meta_pb2.MkdirRequest(path="/inner"))  # (its own transact, nested)
        seen_inside.append(feed.since(feed.epoch, 0, 0).last)
        return True

    ctx.kv.transact(outer)
    assert seen_inside == [0]  # nothing published before the commit
    assert {c.inode for c in _all(feed)} >= {ops.ROOT}


def test_a_nested_transaction_whose_outer_one_fails_publishes_nothing(ns):
    ctx, feed = ns

    def outer(txn):
        ops.mkdir(ctx, ops.ROOT_CRED, meta_pb2.MkdirRequest(path="/never"))
        raise RuntimeError("the outer transaction fails")

    with pytest.raises(RuntimeError):
        ctx.kv.transact(outer)
    assert _all(feed) == []
    assert ctx.kv.transact(lambda txn: ops.get_dentry(txn, ops.ROOT, "never"), readonly=True) is None
