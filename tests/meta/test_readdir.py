from __future__ import annotations

import pytest

from fs3.meta import ops
from fs3.meta.ops import ROOT_CRED
from fs3.proto import meta_pb2


def test_pages_in_name_order(ctx):
    ops.mkdir(ctx, "/d", ROOT_CRED)
    names = [f"f{i:03d}" for i in range(25)] + ["é", "Z", "a b"]
    for n in names:
        ops.open_file(ctx, meta_pb2.OpenRequest(path=f"/d/{n}", write=True, create=True), ROOT_CRED)
    got, after = [], ""
    while True:
        reply = ops.readdir(ctx, meta_pb2.ReadDirRequest(path="/d", start_after=after, limit=7), ROOT_CRED)
        got += [e.name for e in reply.entries]
        if not reply.more:
            break
        after = reply.entries[-1].name
    assert got == sorted(names, key=lambda s: s.encode())


def test_with_inodes_and_errors(ctx):
    ops.mkdir(ctx, "/d", ROOT_CRED)
    ops.open_file(ctx, meta_pb2.OpenRequest(path="/d/f", write=True, create=True), ROOT_CRED)
    reply = ops.readdir(ctx, meta_pb2.ReadDirRequest(path="/d", with_inodes=True), ROOT_CRED)
    assert reply.entries[0].inode.type == meta_pb2.FILE and not reply.more
    with pytest.raises(NotADirectoryError):
        ops.readdir(ctx, meta_pb2.ReadDirRequest(path="/d/f"), ROOT_CRED)
    with pytest.raises(FileNotFoundError):
        ops.readdir(ctx, meta_pb2.ReadDirRequest(path="/nope"), ROOT_CRED)
