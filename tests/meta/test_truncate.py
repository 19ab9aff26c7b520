from __future__ import annotations

import pytest

from fs3.meta import ops
from fs3.proto import meta_pb2


def test_shrink_reclaims_chunks_past_the_end(ctx):
    inode, session = ops.open_file(ctx, meta_pb2.OpenRequest(path="/f", write=True, create=True))
    ops.close_file(ctx, meta_pb2.CloseRequest(inode=inode.id, session=session, wrote=True, written_end=5 << 20))
    out = ops.truncate(ctx, "/f", (2 << 20) + 10)
    assert out.length == (2 << 20) + 10
    assert ctx.chunks.removed == [(inode.id, 3)]
    assert ctx.chunks.truncated == [(inode.id, 2, 10)]
    assert ops.truncate(ctx, "/f", 7 << 20).length == 7 << 20  # growing leaves a hole


def test_truncate_errors(ctx):
    ops.mkdir(ctx, "/d")
    with pytest.raises(IsADirectoryError):
        ops.truncate(ctx, "/d", 0)
    with pytest.raises(FileNotFoundError):
        ops.truncate(ctx, "/nope", 0)
    with pytest.raises(OSError):
        ops.truncate(ctx, "/d", -1)
