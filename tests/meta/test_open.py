from __future__ import annotations

import errno

import pytest

from fs3.meta import ops
from fs3.meta.ops import ROOT_CRED
from fs3.proto import meta_pb2


def req(path, **kw):
    return meta_pb2.OpenRequest(path=path, **kw)


def test_create_assigns_layout_from_chain_table(ctx):
    inode, session = ops.open_file(ctx, req("/f", write=True, create=True, mode=0o600), ROOT_CRED)
    assert inode.type == meta_pb2.FILE and inode.mode == 0o600 and inode.nlink == 1
    assert session != 0
    assert inode.layout.chunk_size == 1 << 20 and inode.layout.stripe == 2
    assert len(set(inode.layout.chains)) == 2 and set(inode.layout.chains) <= {1, 2, 3}


def test_open_flags(ctx):
    with pytest.raises(FileNotFoundError):
        ops.open_file(ctx, req("/nope"), ROOT_CRED)
    ops.open_file(ctx, req("/f", write=True, create=True), ROOT_CRED)
    with pytest.raises(FileExistsError):
        ops.open_file(ctx, req("/f", write=True, create=True, exclusive=True), ROOT_CRED)
    inode, session = ops.open_file(ctx, req("/f"), ROOT_CRED)
    assert session == 0
    ops.mkdir(ctx, "/d", ROOT_CRED)
    with pytest.raises(IsADirectoryError):
        ops.open_file(ctx, req("/d"), ROOT_CRED)
    with pytest.raises(OSError) as info:
        ops.open_file(ctx, req("/f", truncate=True), ROOT_CRED)
    assert info.value.errno == errno.EINVAL


def test_close_sets_length(ctx):
    inode, session = ops.open_file(ctx, req("/f", write=True, create=True), ROOT_CRED)
    out = ops.close_file(ctx, meta_pb2.CloseRequest(inode=inode.id, session=session, wrote=True, written_end=12345))
    assert out.length == 12345
    # A later, shorter write session does not shrink the file; truncate does.
    inode, session = ops.open_file(ctx, req("/f", write=True), ROOT_CRED)
    out = ops.close_file(ctx, meta_pb2.CloseRequest(inode=inode.id, session=session, wrote=True, written_end=10))
    assert out.length == 12345


def test_truncating_open_reclaims_chunks(ctx):
    inode, session = ops.open_file(ctx, req("/f", write=True, create=True), ROOT_CRED)
    ops.close_file(ctx, meta_pb2.CloseRequest(inode=inode.id, session=session, wrote=True, written_end=5 << 20))
    again, _ = ops.open_file(ctx, req("/f", write=True, truncate=True), ROOT_CRED)
    assert again.length == 0
    assert ctx.chunks.removed == [(inode.id, 0)]


def test_write_sessions_are_recorded_until_close(ctx, kv):
    from fs3.meta import _keys as keys

    inode, session = ops.open_file(ctx, req("/f", write=True, create=True), ROOT_CRED)
    begin, end = keys.prefix_range(keys.session_prefix(inode.id))
    assert len(kv.transact(lambda t: t.get_range(begin, end), readonly=True)) == 1
    ops.close_file(ctx, meta_pb2.CloseRequest(inode=inode.id, session=session))
    assert kv.transact(lambda t: t.get_range(begin, end), readonly=True) == []
