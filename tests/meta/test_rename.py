from __future__ import annotations

import errno

import pytest

from fs3.meta import ops
from fs3.meta.ops import ROOT_CRED
from fs3.proto import meta_pb2


def create(ctx, path):
    opened = ops.open_file(ctx, ROOT_CRED, meta_pb2.OpenRequest(path=path, write=True, create=True))
    ops.close_file(ctx, ROOT_CRED, meta_pb2.CloseRequest(inode=opened.inode.id, session=opened.session))
    return opened.inode


def mv(ctx, src, dst, **kw):
    reply = ops.rename(ctx, ROOT_CRED, meta_pb2.RenameRequest(src=src, dst=dst, **kw))
    assert isinstance(reply, meta_pb2.RenameReply)
    return reply.inode


def stat(ctx, path):
    return ops.stat(ctx, ROOT_CRED, meta_pb2.StatRequest(path=path)).inode


def mkdir(ctx, path, **kw):
    return ops.mkdir(ctx, ROOT_CRED, meta_pb2.MkdirRequest(path=path, **kw)).inode


def errno_of(fn):
    with pytest.raises(OSError) as info:
        fn()
    return info.value.errno


def test_rename_within_and_across_directories(ctx):
    f = create(ctx, "/a")
    mv(ctx, "/a", "/b")
    assert stat(ctx, "/b").id == f.id
    mkdir(ctx, "/d")
    mv(ctx, "/b", "/d/c")
    assert stat(ctx, "/d/c").id == f.id
    with pytest.raises(FileNotFoundError):
        stat(ctx, "/b")


def test_directory_moves_keep_link_counts_and_parent(ctx):
    mkdir(ctx, "/x/sub", parents=True)
    mkdir(ctx, "/y")
    mv(ctx, "/x/sub", "/y/sub")
    assert stat(ctx, "/x").nlink == 2
    assert stat(ctx, "/y").nlink == 3
    assert stat(ctx, "/y/sub").parent == stat(ctx, "/y").id


def test_rename_over_existing(ctx):
    create(ctx, "/src")
    old = create(ctx, "/dst")
    moved = mv(ctx, "/src", "/dst")
    assert stat(ctx, "/dst").id == moved.id != old.id
    assert errno_of(lambda: stat(ctx, "/src")) == errno.ENOENT
    create(ctx, "/keep")
    assert errno_of(lambda: mv(ctx, "/dst", "/keep", no_replace=True)) == errno.EEXIST


def test_posix_refusals(ctx):
    create(ctx, "/f")
    mkdir(ctx, "/d/inner", parents=True)
    mkdir(ctx, "/empty")
    assert errno_of(lambda: mv(ctx, "/f", "/d")) == errno.EISDIR
    assert errno_of(lambda: mv(ctx, "/d", "/f")) == errno.ENOTDIR
    create(ctx, "/d/inner/x")
    mkdir(ctx, "/full/y", parents=True)
    assert errno_of(lambda: mv(ctx, "/empty", "/full")) == errno.ENOTEMPTY
    assert errno_of(lambda: mv(ctx, "/d", "/d/inner/d2")) == errno.EINVAL
    assert errno_of(lambda: mv(ctx, "/nope", "/x")) == errno.ENOENT
    assert errno_of(lambda: mv(ctx, "/f", "/nope/x")) == errno.ENOENT
    mv(ctx, "/full/y", "/empty")  # a directory may replace an empty directory
    assert stat(ctx, "/empty").type == meta_pb2.DIRECTORY


def test_rename_onto_itself_is_a_no_op(ctx):
    f = create(ctx, "/f")
    assert mv(ctx, "/f", "/f").id == f.id
    assert stat(ctx, "/f").id == f.id
