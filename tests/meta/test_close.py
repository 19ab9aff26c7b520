"""Close: a write session ends and the file's length settles."""

from __future__ import annotations

import pytest

from fs3.meta import _keys as keys
from fs3.meta import ops
from fs3.meta.ops import ROOT_CRED
from fs3.proto import meta_pb2


def open_(ctx, path, **kw):
    return ops.open_file(ctx, ROOT_CRED, meta_pb2.OpenRequest(path=path, write=True, **kw))


def close(ctx, opened, **kw):
    request = meta_pb2.CloseRequest(inode=opened.inode.id, session=opened.session, **kw)
    reply = ops.close_file(ctx, ROOT_CRED, request)
    assert isinstance(reply, meta_pb2.CloseReply)
    return reply.inode


def test_close_sets_length(ctx):
    out = close(ctx, open_(ctx, "/f", create=True), wrote=True, written_end=12345)
    assert out.length == 12345
    # A later, shorter write session does not shrink the file; truncate does.
    out = close(ctx, open_(ctx, "/f"), wrote=True, written_end=10)
    assert out.length == 12345


def test_write_sessions_are_recorded_until_close(ctx, kv):
    opened = open_(ctx, "/f", create=True)
    begin, end = keys.prefix_range(keys.session_prefix(opened.inode.id))
    assert len(kv.transact(lambda t: t.get_range(begin, end), readonly=True)) == 1
    close(ctx, opened)
    assert kv.transact(lambda t: t.get_range(begin, end), readonly=True) == []


def test_closing_a_removed_file_just_ends_the_session(ctx):
    opened = open_(ctx, "/f", create=True)
    ops.remove(ctx, ROOT_CRED, meta_pb2.RemoveRequest(path="/f"))
    assert close(ctx, opened, wrote=True, written_end=10) == meta_pb2.Inode(id=opened.inode.id)


def test_appends_never_overlap_and_an_unwritten_one_leaves_no_hole(ctx):
    from fs3.meta.ops.append import append

    w1 = ops.open_file(ctx, ROOT_CRED, meta_pb2.OpenRequest(path="/ap", write=True, create=True))
    w2 = ops.open_file(ctx, ROOT_CRED, meta_pb2.OpenRequest(path="/ap", write=True))
    ino = w1.inode.id

    def at(session, n):
        return append(ctx, ROOT_CRED, meta_pb2.AppendRequest(inode=ino, session=session, length=n)).offset

    assert [at(w1.session, 10), at(w2.session, 5), at(w1.session, 1)] == [0, 10, 15]
    ops.close_file(ctx, ROOT_CRED, meta_pb2.CloseRequest(inode=ino, session=w2.session, wrote=True, written_end=15))
    assert at(w1.session, 4) == 16  # after every append given out, not after the length
    # w1 dies without writing its appends: once no writer is left, the next append starts at the length
    ops.close_file(ctx, ROOT_CRED, meta_pb2.CloseRequest(inode=ino, session=w1.session))
    w3 = ops.open_file(ctx, ROOT_CRED, meta_pb2.OpenRequest(path="/ap", write=True))
    assert append(ctx, ROOT_CRED, meta_pb2.AppendRequest(inode=ino, session=w3.session, length=1)).offset == 15
    with pytest.raises(PermissionError):  # a closed session gets no offset
        at(w1.session, 1)
