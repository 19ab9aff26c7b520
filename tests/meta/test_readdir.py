from __future__ import annotations

import pytest

from fs3.meta import ops
from fs3.meta.ops import ROOT_CRED
from fs3.proto import meta_pb2


def readdir(ctx, path, **kw):
    return ops.readdir(ctx, ROOT_CRED, meta_pb2.ReadDirRequest(path=path, **kw))


def create(ctx, path):
    ops.open_file(ctx, ROOT_CRED, meta_pb2.OpenRequest(path=path, write=True, create=True))


def test_pages_in_name_order(ctx):
    ops.mkdir(ctx, ROOT_CRED, meta_pb2.MkdirRequest(path="/d"))
    names = [f"f{i:03d}" for i in range(25)] + ["é", "Z", "a b"]
    for n in names:
        create(ctx, f"/d/{n}")
    got, after = [], ""
    while True:
        reply = readdir(ctx, "/d", start_after=after, limit=7)
        got += [e.name for e in reply.entries]
        if not reply.more:
            break
        after = reply.entries[-1].name
    assert got == sorted(names, key=lambda s: s.encode())


def test_with_inodes_and_errors(ctx):
    ops.mkdir(ctx, ROOT_CRED, meta_pb2.MkdirRequest(path="/d"))
    create(ctx, "/d/f")
    reply = readdir(ctx, "/d", with_inodes=True)
    assert reply.entries[0].inode.type == meta_pb2.FILE and not reply.more
    with pytest.raises(NotADirectoryError):
        readdir(ctx, "/d/f")
    with pytest.raises(FileNotFoundError):
        readdir(ctx, "/nope")
