from __future__ import annotations

import errno

import pytest

from fs3.meta import ops
from fs3.meta.ops import ROOT_CRED
from fs3.proto import meta_pb2


def create(ctx, path):
    inode, session = ops.open_file(ctx, meta_pb2.OpenRequest(path=path, write=True, create=True), ROOT_CRED)
    ops.close_file(ctx, meta_pb2.CloseRequest(inode=inode.id, session=session))
    return inode


def mv(ctx, src, dst, **kw):
    return ops.rename(ctx, meta_pb2.RenameRequest(src=src, dst=dst, **kw), ROOT_CRED)


def errno_of(fn):
    with pytest.raises(OSError) as info:
        fn()
    return info.value.errno


def test_rename_within_and_across_directories(ctx):
    f = create(ctx, "/a")
    mv(ctx, "/a", "/b")
    assert ops.stat(ctx, "/b", ROOT_CRED).id == f.id
    ops.mkdir(ctx, "/d", ROOT_CRED)
    mv(ctx, "/b", "/d/c")
    assert ops.stat(ctx, "/d/c", ROOT_CRED).id == f.id
    with pytest.raises(FileNotFoundError):
        ops.stat(ctx, "/b", ROOT_CRED)


def test_directory_moves_keep_link_counts_and_parent(ctx):
    ops.mkdir(ctx, "/x/sub", ROOT_CRED, parents=True)
    ops.mkdir(ctx, "/y", ROOT_CRED)
    mv(ctx, "/x/sub", "/y/sub")
    assert ops.stat(ctx, "/x", ROOT_CRED).nlink == 2
    assert ops.stat(ctx, "/y", ROOT_CRED).nlink == 3
    assert ops.stat(ctx, "/y/sub", ROOT_CRED).parent == ops.stat(ctx, "/y", ROOT_CRED).id


def test_rename_over_existing(ctx):
    create(ctx, "/src")
    old = create(ctx, "/dst")
    moved = mv(ctx, "/src", "/dst")
    assert ops.stat(ctx, "/dst", ROOT_CRED).id == moved.id != old.id
    assert errno_of(lambda: ops.stat(ctx, "/src", ROOT_CRED)) == errno.ENOENT
    create(ctx, "/keep")
    assert errno_of(lambda: mv(ctx, "/dst", "/keep", no_replace=True)) == errno.EEXIST


def test_posix_refusals(ctx):
    create(ctx, "/f")
    ops.mkdir(ctx, "/d/inner", ROOT_CRED, parents=True)
    ops.mkdir(ctx, "/empty", ROOT_CRED)
    assert errno_of(lambda: mv(ctx, "/f", "/d")) == errno.EISDIR
    assert errno_of(lambda: mv(ctx, "/d", "/f")) == errno.ENOTDIR
    create(ctx, "/d/inner/x")
    ops.mkdir(ctx, "/full/y", ROOT_CRED, parents=True)
    assert errno_of(lambda: mv(ctx, "/empty", "/full")) == errno.ENOTEMPTY
    assert errno_of(lambda: mv(ctx, "/d", "/d/inner/d2")) == errno.EINVAL
    assert errno_of(lambda: mv(ctx, "/nope", "/x")) == errno.ENOENT
    assert errno_of(lambda: mv(ctx, "/f", "/nope/x")) == errno.ENOENT
    mv(ctx, "/full/y", "/empty")  # a directory may replace an empty directory
    assert ops.stat(ctx, "/empty", ROOT_CRED).type == meta_pb2.DIRECTORY


def test_rename_onto_itself_is_a_no_op(ctx):
    f = create(ctx, "/f")
    assert mv(ctx, "/f", "/f").id == f.id
    assert ops.stat(ctx, "/f", ROOT_CRED).id == f.id
