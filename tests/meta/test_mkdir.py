from __future__ import annotations

import errno

import pytest

from fs3.meta import ops
from fs3.meta.ops import ROOT_CRED
from fs3.proto import meta_pb2


def mkdir(ctx, path, cred=ROOT_CRED, **kw):
    return ops.mkdir(ctx, cred, meta_pb2.MkdirRequest(path=path, **kw)).inode


def stat(ctx, path, cred=ROOT_CRED):
    return ops.stat(ctx, cred, meta_pb2.StatRequest(path=path)).inode


def create(ctx, path):
    ops.open_file(ctx, ROOT_CRED, meta_pb2.OpenRequest(path=path, write=True, create=True))


def test_mkdir_and_stat(ctx):
    reply = ops.mkdir(ctx, ROOT_CRED, meta_pb2.MkdirRequest(path="/a", mode=0o750))
    assert isinstance(reply, meta_pb2.MkdirReply)
    d = reply.inode
    assert d.type == meta_pb2.DIRECTORY and d.mode == 0o750 and d.nlink == 2
    assert stat(ctx, "/a").id == d.id
    assert stat(ctx, "/").nlink == 3  # root gained a subdirectory


def test_mkdir_errors(ctx):
    mkdir(ctx, "/a")
    with pytest.raises(FileExistsError):
        mkdir(ctx, "/a")
    with pytest.raises(FileNotFoundError):
        mkdir(ctx, "/missing/b")
    create(ctx, "/f")
    with pytest.raises(NotADirectoryError):
        mkdir(ctx, "/f/b")
    with pytest.raises(OSError) as info:
        mkdir(ctx, "/")
    assert info.value.errno == errno.EBUSY


def test_mkdir_parents(ctx):
    leaf = mkdir(ctx, "/p/q/r", parents=True)
    assert stat(ctx, "/p/q/r").id == leaf.id
    assert mkdir(ctx, "/p/q/r", parents=True).id == leaf.id  # idempotent
    assert stat(ctx, "/p/q").nlink == 3
    create(ctx, "/p/file")
    with pytest.raises(FileExistsError):
        mkdir(ctx, "/p/file", parents=True)
    with pytest.raises(NotADirectoryError):
        mkdir(ctx, "/p/file/x", parents=True)


def test_new_directory_inherits_layout(ctx):
    d = mkdir(ctx, "/d")
    assert d.layout.chunk_size == ctx.config.chunk_size and d.layout.stripe == ctx.config.stripe
    assert mkdir(ctx, "/e", mode=0).mode == 0o755  # no mode: the default
