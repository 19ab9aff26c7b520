"""Stat, lstat, readlink and batch stat: what a path names, through symlinks."""

from __future__ import annotations

import errno

import pytest

from fs3.meta import ops
from fs3.meta.ops import ROOT_CRED as ROOT
from fs3.proto import meta_pb2


def create(ctx, path):
    opened = ops.open_file(ctx, ROOT, meta_pb2.OpenRequest(path=path, write=True, create=True))
    ops.close_file(ctx, ROOT, meta_pb2.CloseRequest(inode=opened.inode.id, session=opened.session))
    return opened.inode


def errno_of(fn) -> int:
    with pytest.raises(OSError) as info:
        fn()
    return info.value.errno


def stat(ctx, path, **kw):
    reply = ops.stat(ctx, ROOT, meta_pb2.StatRequest(path=path, **kw))
    assert isinstance(reply, meta_pb2.StatReply)
    return reply.inode


def readlink(ctx, path):
    return ops.readlink(ctx, ROOT, meta_pb2.ReadLinkRequest(path=path)).target


def symlink(ctx, target, path):
    ops.symlink(ctx, ROOT, meta_pb2.SymlinkRequest(target=target, path=path))


def test_symlinks_resolve_relative_absolute_and_dotdot(ctx):
    ops.mkdir(ctx, ROOT, meta_pb2.MkdirRequest(path="/a/b", parents=True))
    f = create(ctx, "/a/b/f")
    symlink(ctx, "b/f", "/a/rel")
    symlink(ctx, "/a/b", "/abs")
    symlink(ctx, "../b/./f", "/a/b/up")
    assert stat(ctx, "/a/rel").id == f.id
    assert stat(ctx, "/abs/f").id == f.id       # a symlink in the middle of a path
    assert stat(ctx, "/a/b/up").id == f.id
    link = stat(ctx, "/a/rel", no_follow=True)
    assert link.type == meta_pb2.SYMLINK and link.length == len("b/f")
    assert readlink(ctx, "/a/rel") == "b/f"
    assert errno_of(lambda: readlink(ctx, "/a/b/f")) == errno.EINVAL


def test_batch_stat_reports_each_path(ctx):
    create(ctx, "/f")
    ops.mkdir(ctx, ROOT, meta_pb2.MkdirRequest(path="/d"))
    reply = ops.batch_stat(ctx, ROOT, meta_pb2.BatchStatRequest(paths=["/f", "/d", "/nope", "/f/x"]))
    results = reply.results
    assert [r.status for r in results[:2]] == [0, 0]
    assert results[0].inode.type == meta_pb2.FILE and results[1].inode.type == meta_pb2.DIRECTORY
    assert results[2].status and "No such file" in results[2].message
    assert results[3].status and "Not a directory" in results[3].message


def test_names_something_asks_as_root(ctx):
    """meta's own question (where to run a call), answered whoever asked the call."""
    ops.mkdir(ctx, ROOT, meta_pb2.MkdirRequest(path="/private", mode=0o700))
    create(ctx, "/private/f")
    assert ops.names_something(ctx, "/private/f")
    assert not ops.names_something(ctx, "/private/g")
