"""Hard links and symlinks: counting names, creating through a dangling symlink, loops."""

from __future__ import annotations

import errno

import pytest

from fs3.meta import ops
from fs3.meta.ops import ROOT_CRED as ROOT
from fs3.proto import meta_pb2


def create(ctx, path, cred=ROOT, mode=0o644):
    opened = ops.open_file(ctx, cred, meta_pb2.OpenRequest(path=path, write=True, create=True, mode=mode))
    ops.close_file(ctx, cred, meta_pb2.CloseRequest(
        inode=opened.inode.id, session=opened.session, wrote=True, written_end=5))
    return opened.inode


def errno_of(fn) -> int:
    with pytest.raises(OSError) as info:
        fn()
    return info.value.errno


def link(ctx, src, dst, cred=ROOT):
    reply = ops.link(ctx, cred, meta_pb2.LinkRequest(src=src, dst=dst))
    assert isinstance(reply, meta_pb2.LinkReply)
    return reply.inode


def symlink(ctx, target, path, cred=ROOT):
    reply = ops.symlink(ctx, cred, meta_pb2.SymlinkRequest(target=target, path=path))
    assert isinstance(reply, meta_pb2.SymlinkReply)
    return reply.inode


def stat(ctx, path, cred=ROOT, **kw):
    return ops.stat(ctx, cred, meta_pb2.StatRequest(path=path, **kw)).inode


def open_(ctx, cred=ROOT, **kw):
    return ops.open_file(ctx, cred, meta_pb2.OpenRequest(**kw))


def test_hard_link_counts_and_survives_unlink(ctx):
    f = create(ctx, "/f")
    linked = link(ctx, "/f", "/g")
    assert linked.id == f.id and linked.nlink == 2
    ops.remove(ctx, ROOT, meta_pb2.RemoveRequest(path="/f"))
    g = stat(ctx, "/g")
    assert g.id == f.id and g.nlink == 1 and g.length == 5
    assert ctx.chunks.removed == []  # a name remains: nothing reclaimed
    ops.mkdir(ctx, ROOT, meta_pb2.MkdirRequest(path="/d"))
    assert errno_of(lambda: link(ctx, "/d", "/d2")) == errno.EPERM
    assert errno_of(lambda: link(ctx, "/g", "/d")) == errno.EEXIST
    assert errno_of(lambda: link(ctx, "/nope", "/x")) == errno.ENOENT


def test_open_creates_through_a_dangling_symlink_and_writes_through_it(ctx):
    ops.mkdir(ctx, ROOT, meta_pb2.MkdirRequest(path="/d"))
    symlink(ctx, "/d/target", "/link")
    inode = open_(ctx, path="/link", write=True, create=True).inode
    assert stat(ctx, "/d/target").id == inode.id
    assert stat(ctx, "/link", no_follow=True).type == meta_pb2.SYMLINK
    assert errno_of(lambda: open_(ctx, path="/link", write=True, create=True, exclusive=True)) == errno.EEXIST


def test_symlink_loops_are_eloop_and_change_nothing(ctx):
    symlink(ctx, "/loop2", "/loop1")
    symlink(ctx, "/loop1", "/loop2")
    symlink(ctx, "self", "/self")
    for path in ("/loop1", "/self", "/self/x"):
        assert errno_of(lambda path=path: stat(ctx, path)) == errno.ELOOP
    assert errno_of(lambda: open_(ctx, path="/loop1", write=True, create=True)) == errno.ELOOP
    assert errno_of(lambda: ops.mkdir(ctx, ROOT, meta_pb2.MkdirRequest(path="/self/x"))) == errno.ELOOP
    names = [e.name for e in ops.readdir(ctx, ROOT, meta_pb2.ReadDirRequest(path="/")).entries]
    assert names == ["loop1", "loop2", "self"]


def test_symlink_errors(ctx):
    symlink(ctx, "x", "/s")
    assert errno_of(lambda: symlink(ctx, "y", "/s")) == errno.EEXIST
    assert errno_of(lambda: symlink(ctx, "", "/t")) == errno.ENOENT
    assert errno_of(lambda: symlink(ctx, "a" * 4096, "/t")) == errno.ENAMETOOLONG
    assert errno_of(lambda: stat(ctx, "/s")) == errno.ENOENT  # dangling
    # unlink removes the link, not its target
    create(ctx, "/x")
    ops.remove(ctx, ROOT, meta_pb2.RemoveRequest(path="/s"))
    assert stat(ctx, "/x").type == meta_pb2.FILE
