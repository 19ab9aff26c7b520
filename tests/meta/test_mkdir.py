from __future__ import annotations

import errno

import pytest

from fs3.meta import ops
from fs3.meta.ops import ROOT_CRED
from fs3.proto import meta_pb2


def test_mkdir_and_stat(ctx):
    d = ops.mkdir(ctx, "/a", ROOT_CRED, 0o750)
    assert d.type == meta_pb2.DIRECTORY and d.mode == 0o750 and d.nlink == 2
    assert ops.stat(ctx, "/a", ROOT_CRED).id == d.id
    assert ops.stat(ctx, "/", ROOT_CRED).nlink == 3  # root gained a subdirectory


def test_mkdir_errors(ctx):
    ops.mkdir(ctx, "/a", ROOT_CRED)
    with pytest.raises(FileExistsError):
        ops.mkdir(ctx, "/a", ROOT_CRED)
    with pytest.raises(FileNotFoundError):
        ops.mkdir(ctx, "/missing/b", ROOT_CRED)
    ops.open_file(ctx, meta_pb2.OpenRequest(path="/f", write=True, create=True), ROOT_CRED)
    with pytest.raises(NotADirectoryError):
        ops.mkdir(ctx, "/f/b", ROOT_CRED)
    with pytest.raises(OSError) as info:
        ops.mkdir(ctx, "/", ROOT_CRED)
    assert info.value.errno == errno.EBUSY


def test_mkdir_parents(ctx):
    leaf = ops.mkdir(ctx, "/p/q/r", ROOT_CRED, parents=True)
    assert ops.stat(ctx, "/p/q/r", ROOT_CRED).id == leaf.id
    assert ops.mkdir(ctx, "/p/q/r", ROOT_CRED, parents=True).id == leaf.id  # idempotent
    assert ops.stat(ctx, "/p/q", ROOT_CRED).nlink == 3
    ops.open_file(ctx, meta_pb2.OpenRequest(path="/p/file", write=True, create=True), ROOT_CRED)
    with pytest.raises(FileExistsError):
        ops.mkdir(ctx, "/p/file", ROOT_CRED, parents=True)
    with pytest.raises(NotADirectoryError):
        ops.mkdir(ctx, "/p/file/x", ROOT_CRED, parents=True)


def test_new_directory_inherits_layout(ctx):
    d = ops.mkdir(ctx, "/d", ROOT_CRED)
    assert d.layout.chunk_size == ctx.config.chunk_size and d.layout.stripe == ctx.config.stripe
