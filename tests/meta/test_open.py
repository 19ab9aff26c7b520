from __future__ import annotations

import errno

import pytest

from fs3.meta import _keys as keys
from fs3.meta import ops
from fs3.meta.ops import ROOT_CRED
from fs3.proto import meta_pb2


def req(path, **kw):
    return meta_pb2.OpenRequest(path=path, **kw)


def open_(ctx, request, cred=ROOT_CRED):
    return ops.open_file(ctx, cred, request)


def close(ctx, inode, session, **kw):
    return ops.close_file(ctx, ROOT_CRED, meta_pb2.CloseRequest(inode=inode.id, session=session, **kw)).inode


def test_create_assigns_layout_from_chain_table(ctx):
    reply = open_(ctx, req("/f", write=True, create=True, mode=0o600))
    assert isinstance(reply, meta_pb2.OpenReply)
    inode, session = reply.inode, reply.session
    assert inode.type == meta_pb2.FILE and inode.mode == 0o600 and inode.nlink == 1
    assert session != 0
    assert inode.layout.chunk_size == 1 << 20 and inode.layout.stripe == 2
    assert len(set(inode.layout.chains)) == 2 and set(inode.layout.chains) <= {1, 2, 3}


def test_open_flags(ctx):
    with pytest.raises(FileNotFoundError):
        open_(ctx, req("/nope"))
    open_(ctx, req("/f", write=True, create=True))
    with pytest.raises(FileExistsError):
        open_(ctx, req("/f", write=True, create=True, exclusive=True))
    read = open_(ctx, req("/f"))  # a read session (it keeps the file's data), not a write session
    held = ctx.kv.transact(lambda t: (t.get(keys.reader(read.inode.id, read.session)),
                                      t.get(keys.session(read.inode.id, read.session))), readonly=True)
    assert read.session and held[0] is not None and held[1] is None
    ops.mkdir(ctx, ROOT_CRED, meta_pb2.MkdirRequest(path="/d"))
    with pytest.raises(IsADirectoryError):
        open_(ctx, req("/d"))
    with pytest.raises(OSError) as info:
        open_(ctx, req("/f", truncate=True))
    assert info.value.errno == errno.EINVAL


def test_truncating_open_reclaims_chunks(ctx):
    opened = open_(ctx, req("/f", write=True, create=True))
    close(ctx, opened.inode, opened.session, wrote=True, written_end=5 << 20)
    again = open_(ctx, req("/f", write=True, truncate=True)).inode
    assert again.length == 0
    assert ctx.chunks.removed == [(opened.inode.id, 0)]


def test_only_an_open_that_truncates_an_existing_file_reaches_storage(ctx):
    """What meta's call server asks before it runs an Open inside a group commit."""
    reaches = ops.OPERATIONS["Open"].reaches_storage
    assert not reaches(ctx, req("/f", write=True, create=True, truncate=True))  # nothing to truncate yet
    open_(ctx, req("/f", write=True, create=True))
    assert reaches(ctx, req("/f", write=True, truncate=True))
    assert not reaches(ctx, req("/f", write=True))
