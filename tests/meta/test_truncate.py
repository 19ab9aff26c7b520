from __future__ import annotations

import pytest

from fs3.meta import ops
from fs3.meta.ops import ROOT_CRED
from fs3.proto import meta_pb2


def test_shrink_reclaims_chunks_past_the_end(ctx):
    inode, session = ops.open_file(ctx, meta_pb2.OpenRequest(path="/f", write=True, create=True), ROOT_CRED)
    ops.close_file(ctx, meta_pb2.CloseRequest(inode=inode.id, session=session, wrote=True, written_end=5 << 20))
    out = ops.truncate(ctx, "/f", (2 << 20) + 10, ROOT_CRED)
    assert out.length == (2 << 20) + 10
    assert ctx.chunks.removed == [(inode.id, 3)]
    assert ctx.chunks.truncated == [(inode.id, 2, 10)]
    assert ops.truncate(ctx, "/f", 7 << 20, ROOT_CRED).length == 7 << 20  # growing leaves a hole


def test_truncate_errors(ctx):
    ops.mkdir(ctx, "/d", ROOT_CRED)
    with pytest.raises(IsADirectoryError):
        ops.truncate(ctx, "/d", 0, ROOT_CRED)
    with pytest.raises(FileNotFoundError):
        ops.truncate(ctx, "/nope", 0, ROOT_CRED)
    with pytest.raises(OSError):
        ops.truncate(ctx, "/d", -1, ROOT_CRED)
