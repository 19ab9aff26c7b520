"""POSIX permissions on namespace operations: owners, groups, others, root, sticky directories,
chmod/chown/utimes rules, layouts on directories."""

from __future__ import annotations

import errno

import pytest

from fs3.meta import ops
from fs3.meta.ops import ROOT_CRED as ROOT
from fs3.meta.ops import Cred
from fs3.proto import meta_pb2

ALICE = Cred(1000, 1000, (), False, "alice")
BOB = Cred(1001, 1001, (500,), False, "bob")


def errno_of(fn) -> int:
    with pytest.raises(OSError) as info:
        fn()
    return info.value.errno


def create(ctx, path, cred, mode=0o644):
    opened = ops.open_file(ctx, cred, meta_pb2.OpenRequest(path=path, write=True, create=True, mode=mode))
    ops.close_file(ctx, cred, meta_pb2.CloseRequest(inode=opened.inode.id, session=opened.session))
    return opened.inode


def setattr_(ctx, path, cred, **kw):
    reply = ops.setattr_(ctx, cred, meta_pb2.SetAttrRequest(path=path, **kw))
    assert isinstance(reply, meta_pb2.SetAttrReply)
    return reply.inode


def mkdir(ctx, path, cred, mode=0, **kw):
    return ops.mkdir(ctx, cred, meta_pb2.MkdirRequest(path=path, mode=mode, **kw)).inode


def stat(ctx, path, cred):
    return ops.stat(ctx, cred, meta_pb2.StatRequest(path=path)).inode


def open_(ctx, cred, **kw):
    return ops.open_file(ctx, cred, meta_pb2.OpenRequest(**kw))


def names(ctx, path, cred):
    return [e.name for e in ops.readdir(ctx, cred, meta_pb2.ReadDirRequest(path=path)).entries]


@pytest.fixture
def home(ctx):
    """/home/alice owned by alice (0755), /tmp world-writable and sticky (1777)."""
    mkdir(ctx, "/home/alice", ROOT, parents=True)
    setattr_(ctx, "/home/alice", ROOT, set_uid=True, uid=ALICE.uid, set_gid=True, gid=ALICE.gid)
    mkdir(ctx, "/tmp", ROOT, 0o1777)
    return ctx


def test_new_entries_belong_to_their_creator(home):
    f = create(home, "/home/alice/f", ALICE)
    d = mkdir(home, "/home/alice/d", ALICE)
    assert (f.uid, f.gid, d.uid, d.gid) == (1000, 1000, 1000, 1000)


def test_others_cannot_write_into_or_list_a_private_directory(home):
    create(home, "/home/alice/f", ALICE, 0o600)
    assert errno_of(lambda: create(home, "/home/alice/g", BOB)) == errno.EACCES
    assert errno_of(lambda: mkdir(home, "/home/alice/x", BOB)) == errno.EACCES
    assert errno_of(lambda: ops.remove(home, BOB, meta_pb2.RemoveRequest(path="/home/alice/f"))) == errno.EACCES
    assert errno_of(lambda: open_(home, BOB, path="/home/alice/f")) == errno.EACCES
    assert errno_of(lambda: ops.truncate(
        home, BOB, meta_pb2.TruncateRequest(path="/home/alice/f", length=0))) == errno.EACCES
    assert errno_of(lambda: ops.rename(
        home, BOB, meta_pb2.RenameRequest(src="/home/alice/f", dst="/tmp/f"))) == errno.EACCES
    setattr_(home, "/home/alice", ALICE, set_mode=True, mode=0o700)
    assert errno_of(lambda: names(home, "/home/alice", BOB)) == errno.EACCES
    assert errno_of(lambda: stat(home, "/home/alice/f", BOB)) == errno.EACCES  # no search permission
    # nothing changed
    assert names(home, "/home/alice", ALICE) == ["f"]
    # root bypasses
    assert stat(home, "/home/alice/f", ROOT).uid == ALICE.uid
    open_(home, ROOT, path="/home/alice/f", write=True)


def test_group_bits_apply_to_group_members(home):
    f = create(home, "/tmp/shared", ALICE, 0o640)
    setattr_(home, "/tmp/shared", ROOT, set_gid=True, gid=500)
    assert open_(home, BOB, path="/tmp/shared").inode.id == f.id  # bob is in 500
    assert errno_of(lambda: open_(home, BOB, path="/tmp/shared", write=True)) == errno.EACCES
    outsider = Cred(2000, 2000, (), False, "eve")
    assert errno_of(lambda: open_(home, outsider, path="/tmp/shared")) == errno.EACCES


def test_sticky_directory_protects_other_users_entries(home):
    create(home, "/tmp/a", ALICE)
    create(home, "/tmp/b", BOB)
    assert errno_of(lambda: ops.remove(home, BOB, meta_pb2.RemoveRequest(path="/tmp/a"))) == errno.EPERM
    assert errno_of(lambda: ops.rename(
        home, BOB, meta_pb2.RenameRequest(src="/tmp/b", dst="/tmp/a"))) == errno.EPERM
    ops.remove(home, BOB, meta_pb2.RemoveRequest(path="/tmp/b"))  # own entry: fine
    ops.remove(home, ROOT, meta_pb2.RemoveRequest(path="/tmp/a"))


def test_chmod_chown_utimes_rules(home):
    create(home, "/home/alice/f", ALICE)
    assert setattr_(home, "/home/alice/f", ALICE, set_mode=True, mode=0o600).mode == 0o600
    assert errno_of(lambda: setattr_(home, "/home/alice/f", BOB, set_mode=True, mode=0o777)) == errno.EPERM
    assert errno_of(lambda: setattr_(home, "/home/alice/f", ALICE, set_uid=True, uid=BOB.uid)) == errno.EPERM
    assert errno_of(lambda: setattr_(home, "/home/alice/f", ALICE, set_gid=True, gid=500)) == errno.EPERM
    assert errno_of(lambda: setattr_(home, "/home/alice/f", BOB, set_atime=True, atime_ns=1)) == errno.EPERM
    st = setattr_(home, "/home/alice/f", ALICE, set_atime=True, atime_ns=111, set_mtime=True, mtime_ns=222)
    assert (st.atime_ns, st.mtime_ns) == (111, 222) and st.ctime_ns > 222
    assert setattr_(home, "/home/alice/f", ROOT, set_uid=True, uid=BOB.uid).uid == BOB.uid
    assert errno_of(lambda: setattr_(home, "/home/alice/f", ROOT, set_mode=True, mode=0o10000)) == errno.EINVAL
    assert stat(home, "/home/alice/f", ROOT).mode == 0o600


def test_directory_layout_is_inherited_by_new_files_and_directories(home):
    setattr_(home, "/home/alice", ALICE, chunk_size=64 << 10, stripe=1)
    f = create(home, "/home/alice/f", ALICE)
    assert f.layout.chunk_size == 64 << 10 and f.layout.stripe == 1
    sub = mkdir(home, "/home/alice/sub", ALICE)
    assert sub.layout.chunk_size == 64 << 10
    assert create(home, "/home/alice/sub/g", ALICE).layout.chunk_size == 64 << 10
    assert errno_of(lambda: setattr_(home, "/home/alice/f", ALICE, chunk_size=1 << 20)) == errno.EINVAL
    assert errno_of(lambda: setattr_(home, "/home/alice", ALICE, chunk_size=1000)) == errno.EINVAL
    assert errno_of(lambda: setattr_(home, "/home/alice", BOB, chunk_size=1 << 20)) == errno.EPERM


def test_moving_a_directory_elsewhere_needs_write_permission_on_it(home):
    mkdir(home, "/tmp/ro", ALICE, 0o555)
    mkdir(home, "/tmp/dst", ALICE)
    assert errno_of(lambda: ops.rename(
        home, ALICE, meta_pb2.RenameRequest(src="/tmp/ro", dst="/tmp/dst/ro"))) == errno.EACCES
    ops.rename(home, ALICE, meta_pb2.RenameRequest(src="/tmp/ro", dst="/tmp/ro2"))  # same parent: fine
