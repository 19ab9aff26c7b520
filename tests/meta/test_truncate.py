from __future__ import annotations

import errno

import pytest

from fs3.meta import ops
from fs3.meta.ops import ROOT_CRED
from fs3.meta.ops.truncate import MAX_LENGTH
from fs3.proto import meta_pb2


def truncate(ctx, path, length, cred=ROOT_CRED):
    reply = ops.truncate(ctx, cred, meta_pb2.TruncateRequest(path=path, length=length))
    assert isinstance(reply, meta_pb2.TruncateReply)
    return reply.inode


def test_shrink_reclaims_chunks_past_the_end(ctx):
    opened = ops.open_file(ctx, ROOT_CRED, meta_pb2.OpenRequest(path="/f", write=True, create=True))
    inode = opened.inode
    ops.close_file(ctx, ROOT_CRED, meta_pb2.CloseRequest(
        inode=inode.id, session=opened.session, wrote=True, written_end=5 << 20))
    out = truncate(ctx, "/f", (2 << 20) + 10)
    assert out.length == (2 << 20) + 10
    assert ctx.chunks.removed == [(inode.id, 3)]
    assert ctx.chunks.truncated == [(inode.id, 2, 10)]
    assert truncate(ctx, "/f", 7 << 20).length == 7 << 20  # growing leaves a hole


def test_truncate_errors(ctx):
    ops.mkdir(ctx, ROOT_CRED, meta_pb2.MkdirRequest(path="/d"))
    with pytest.raises(IsADirectoryError):
        truncate(ctx, "/d", 0)
    with pytest.raises(FileNotFoundError):
        truncate(ctx, "/nope", 0)
    with pytest.raises(ValueError):  # the request's length is unsigned: no negative length gets here
        meta_pb2.TruncateRequest(path="/d", length=-1)
    with pytest.raises(OSError) as info:
        truncate(ctx, "/d", MAX_LENGTH + 1)
    assert info.value.errno == errno.EINVAL


def test_truncate_inside_a_group_commit_asks_to_leave_it(ctx):
    """Storage calls never run inside meta's group commit: the call server runs the call elsewhere."""
    ops.open_file(ctx, ROOT_CRED, meta_pb2.OpenRequest(path="/f", write=True, create=True))
    with ops.no_storage_calls(), pytest.raises(ops.MustLeaveGroup):
        truncate(ctx, "/f", 0)
    assert ctx.chunks.removed == []
    assert ops.OPERATIONS["Truncate"].reaches_storage(ctx, meta_pb2.TruncateRequest(path="/f"))
