"""An mtime set explicitly while a writer has the file open wins over that writer's close (cp -p and
tar xpf set times before they close); other writers, later writers and pruned sessions are unaffected."""

from __future__ import annotations

import pytest

from fs3._errors import NotPermitted, PermissionDenied
from fs3.meta import _keys as keys
from fs3.meta import ops
from fs3.meta.ops import ROOT_CRED
from fs3.meta.ops._permissions import Cred
from fs3.proto import meta_pb2

T = 1_000_000_000_123_456_789


class Clock:
    def __init__(self, ns: int):
        self.ns = ns

    def __call__(self) -> int:
        return self.ns


def open_(ctx, path, **kw):
    return ops.open_file(ctx, ROOT_CRED, meta_pb2.OpenRequest(path=path, write=True, **kw))


def close(ctx, opened, end):
    req = meta_pb2.CloseRequest(inode=opened.inode.id, session=opened.session, wrote=True, written_end=end)
    return ops.close_file(ctx, ROOT_CRED, req).inode


def set_mtime(ctx, path, ns):
    req = meta_pb2.SetAttrRequest(path=path, set_mtime=True, mtime_ns=ns)
    return ops.setattr_(ctx, ROOT_CRED, req).inode


def markers(ctx):
    begin, end = keys.prefix_range(keys.TIMES_SET)
    return ctx.kv.transact(lambda t: t.get_range(begin, end), readonly=True)


def test_a_set_mtime_survives_the_writers_close_and_a_later_writer_stamps_again(ctx):
    ctx.clock = Clock(2 * 10**18)
    a, b = open_(ctx, "/f", create=True), open_(ctx, "/f")
    set_mtime(ctx, "/f", T)
    assert len(markers(ctx)) == 2  # both writers open at the time are marked
    assert close(ctx, a, 100).mtime_ns == T
    out = close(ctx, b, 200)
    assert (out.mtime_ns, out.length, out.ctime_ns) == (T, 200, ctx.clock())  # length and ctime still move
    assert markers(ctx) == []
    c = open_(ctx, "/f")  # opened after the setting: its close is a new change
    ctx.clock.ns += 10**9
    assert close(ctx, c, 10).mtime_ns == ctx.clock()


def test_setting_only_atime_marks_nothing_and_pruning_drops_the_marker(ctx):
    ctx.clock = Clock(2 * 10**18)
    ctx.config.session_ttl = 30.0
    a = open_(ctx, "/g", create=True)
    ops.setattr_(ctx, ROOT_CRED, meta_pb2.SetAttrRequest(path="/g", set_atime=True, atime_ns=T))
    assert markers(ctx) == []
    set_mtime(ctx, "/g", T)
    assert len(markers(ctx)) == 1
    ctx.clock.ns += int(60e9)  # the writer died: its session and marker go
    assert ops.prune_sessions(ctx) == 1
    assert markers(ctx) == [] and a.session


def test_touch_needs_write_permission_and_other_times_need_the_owner(ctx):
    """utimensat(2): times set to now (``touch``) by anyone who may write; other times by the owner only;
    the times come from meta's clock."""
    bob, eve = Cred(1002, 1002, (), False, "bob"), Cred(1003, 1003, (), False, "eve")
    made = open_(ctx, "/shared-log", create=True, mode=0o646)  # root's; others may write
    ctx.clock = Clock(T)

    def setattr_(cred, **kw):
        return ops.setattr_(ctx, cred, meta_pb2.SetAttrRequest(path="/shared-log", **kw)).inode

    touched = setattr_(bob, set_atime=True, set_mtime=True, times_now=True)
    assert (touched.atime_ns, touched.mtime_ns) == (T, T)
    ctx.clock = Clock(T + 5)
    assert setattr_(bob, set_mtime=True, times_now=True).atime_ns == T  # (touch -m leaves atime)
    with pytest.raises(NotPermitted):  # an explicit time: the owner's alone
        setattr_(bob, set_mtime=True, mtime_ns=7)
    ops.setattr_(ctx, ROOT_CRED, meta_pb2.SetAttrRequest(path="/shared-log", set_mode=True, mode=0o644))
    with pytest.raises(PermissionDenied):  # no write permission: no touch either
        setattr_(eve, set_atime=True, set_mtime=True, times_now=True)
    assert made.inode.id == touched.id
