from __future__ import annotations

import errno

import pytest

from fs3.meta import _keys as keys
from fs3.meta import ops
from fs3.meta._garbage import GarbageCollector
from fs3.meta.ops import ROOT_CRED
from fs3.proto import meta_pb2


def create(ctx, path):
    opened = ops.open_file(ctx, ROOT_CRED, meta_pb2.OpenRequest(path=path, write=True, create=True))
    ops.close_file(ctx, ROOT_CRED, meta_pb2.CloseRequest(inode=opened.inode.id, session=opened.session))
    return opened.inode


def rm(ctx, path, **kw):
    assert ops.remove(ctx, ROOT_CRED, meta_pb2.RemoveRequest(path=path, **kw)) == meta_pb2.RemoveReply()


def stat(ctx, path):
    return ops.stat(ctx, ROOT_CRED, meta_pb2.StatRequest(path=path)).inode


def mkdir(ctx, path, **kw):
    return ops.mkdir(ctx, ROOT_CRED, meta_pb2.MkdirRequest(path=path, **kw)).inode


def test_unlink_and_rmdir_rules(ctx):
    mkdir(ctx, "/d")
    create(ctx, "/d/f")
    with pytest.raises(IsADirectoryError):
        rm(ctx, "/d")
    with pytest.raises(OSError) as info:
        rm(ctx, "/d", directory=True)
    assert info.value.errno == errno.ENOTEMPTY
    with pytest.raises(NotADirectoryError):
        rm(ctx, "/d/f", directory=True)
    rm(ctx, "/d/f")
    with pytest.raises(FileNotFoundError):
        rm(ctx, "/d/f")
    rm(ctx, "/d", directory=True)
    with pytest.raises(FileNotFoundError):
        stat(ctx, "/d")
    assert stat(ctx, "/").nlink == 2
    with pytest.raises(OSError) as info:
        rm(ctx, "/", recursive=True)
    assert info.value.errno == errno.EBUSY


def test_removed_file_is_reclaimed_after_its_last_writer(ctx, kv):
    opened = ops.open_file(ctx, ROOT_CRED, meta_pb2.OpenRequest(path="/f", write=True, create=True))
    inode = opened.inode
    rm(ctx, "/f")
    gc = GarbageCollector(ctx, ctx.chunks, delay=0)
    assert gc.run_once() == 0 and ctx.chunks.removed == []  # still open for writing
    ops.close_file(ctx, ROOT_CRED, meta_pb2.CloseRequest(
        inode=inode.id, session=opened.session, wrote=True, written_end=10))
    assert gc.run_once() == 1
    assert ctx.chunks.removed == [(inode.id, 0)]
    assert gc.pending() == 0


def test_recursive_remove_detaches_then_collects_the_tree(ctx, kv):
    files = []
    for d in range(3):
        mkdir(ctx, f"/top/d{d}/e", parents=True)
        for f in range(300):  # more than one collector batch per directory
            files.append(create(ctx, f"/top/d{d}/f{f}").id)
    rm(ctx, "/top", recursive=True)
    with pytest.raises(FileNotFoundError):
        stat(ctx, "/top")
    gc = GarbageCollector(ctx, ctx.chunks, delay=0)
    for _ in range(50):
        if gc.pending() == 0:
            break
        gc.run_once()
    assert gc.pending() == 0
    assert sorted(i for i, _ in ctx.chunks.removed) == sorted(files)
    begin, end = keys.prefix_range(keys.INODE)
    left = kv.transact(lambda t: t.get_range(begin, end), readonly=True)
    assert [k for k, _ in left] == [keys.inode(ops.ROOT)]
    begin, end = keys.prefix_range(keys.DENTRY)
    assert kv.transact(lambda t: t.get_range(begin, end), readonly=True) == []


def test_collector_waits_for_its_delay(ctx, kv):
    create(ctx, "/f")
    rm(ctx, "/f")
    assert GarbageCollector(ctx, ctx.chunks, delay=3600).run_once() == 0
    assert ctx.chunks.removed == []
