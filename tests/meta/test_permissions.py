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
    inode, session = ops.open_file(ctx, meta_pb2.OpenRequest(path=path, write=True, create=True, mode=mode), cred)
    ops.close_file(ctx, meta_pb2.CloseRequest(inode=inode.id, session=session))
    return inode


def setattr_(ctx, path, cred, **kw):
    return ops.setattr_(ctx, meta_pb2.SetAttrRequest(path=path, **kw), cred)


@pytest.fixture
def home(ctx):
    """/home/alice owned by alice (0755), /tmp world-writable and sticky (1777)."""
    ops.mkdir(ctx, "/home/alice", ROOT, parents=True)
    setattr_(ctx, "/home/alice", ROOT, set_uid=True, uid=ALICE.uid, set_gid=True, gid=ALICE.gid)
    ops.mkdir(ctx, "/tmp", ROOT, 0o1777)
    return ctx


def test_new_entries_belong_to_their_creator(home):
    f = create(home, "/home/alice/f", ALICE)
    d = ops.mkdir(home, "/home/alice/d", ALICE)
    assert (f.uid, f.gid, d.uid, d.gid) == (1000, 1000, 1000, 1000)


def test_others_cannot_write_into_or_list_a_private_directory(home):
    create(home, "/home/alice/f", ALICE, 0o600)
    assert errno_of(lambda: create(home, "/home/alice/g", BOB)) == errno.EACCES
    assert errno_of(lambda: ops.mkdir(home, "/home/alice/x", BOB)) == errno.EACCES
    assert errno_of(lambda: ops.remove(home, meta_pb2.RemoveRequest(path="/home/alice/f"), BOB)) == errno.EACCES
    assert errno_of(lambda: ops.open_file(home, meta_pb2.OpenRequest(path="/home/alice/f"), BOB)) == errno.EACCES
    assert errno_of(lambda: ops.truncate(home, "/home/alice/f", 0, BOB)) == errno.EACCES
    assert errno_of(lambda: ops.rename(
        home, meta_pb2.RenameRequest(src="/home/alice/f", dst="/tmp/f"), BOB)) == errno.EACCES
    setattr_(home, "/home/alice", ALICE, set_mode=True, mode=0o700)
    assert errno_of(lambda: ops.readdir(home, meta_pb2.ReadDirRequest(path="/home/alice"), BOB)) == errno.EACCES
    assert errno_of(lambda: ops.stat(home, "/home/alice/f", BOB)) == errno.EACCES  # no search permission
    # nothing changed
    names = [e.name for e in ops.readdir(home, meta_pb2.ReadDirRequest(path="/home/alice"), ALICE).entries]
    assert names == ["f"]
    # root bypasses
    assert ops.stat(home, "/home/alice/f", ROOT).uid == ALICE.uid
    ops.open_file(home, meta_pb2.OpenRequest(path="/home/alice/f", write=True), ROOT)


def test_group_bits_apply_to_group_members(home):
    f = create(home, "/tmp/shared", ALICE, 0o640)
    setattr_(home, "/tmp/shared", ROOT, set_gid=True, gid=500)
    assert ops.open_file(home, meta_pb2.OpenRequest(path="/tmp/shared"), BOB)[0].id == f.id  # bob is in 500
    assert errno_of(lambda: ops.open_file(
        home, meta_pb2.OpenRequest(path="/tmp/shared", write=True), BOB)) == errno.EACCES
    outsider = Cred(2000, 2000, (), False, "eve")
    assert errno_of(lambda: ops.open_file(home, meta_pb2.OpenRequest(path="/tmp/shared"), outsider)) == errno.EACCES


def test_sticky_directory_protects_other_users_entries(home):
    create(home, "/tmp/a", ALICE)
    create(home, "/tmp/b", BOB)
    assert errno_of(lambda: ops.remove(home, meta_pb2.RemoveRequest(path="/tmp/a"), BOB)) == errno.EPERM
    assert errno_of(lambda: ops.rename(
        home, meta_pb2.RenameRequest(src="/tmp/b", dst="/tmp/a"), BOB)) == errno.EPERM
    ops.remove(home, meta_pb2.RemoveRequest(path="/tmp/b"), BOB)  # own entry: fine
    ops.remove(home, meta_pb2.RemoveRequest(path="/tmp/a"), ROOT)


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
    assert ops.stat(home, "/home/alice/f", ROOT).mode == 0o600


def test_directory_layout_is_inherited_by_new_files_and_directories(home):
    setattr_(home, "/home/alice", ALICE, chunk_size=64 << 10, stripe=1)
    f = create(home, "/home/alice/f", ALICE)
    assert f.layout.chunk_size == 64 << 10 and f.layout.stripe == 1
    sub = ops.mkdir(home, "/home/alice/sub", ALICE)
    assert sub.layout.chunk_size == 64 << 10
    assert create(home, "/home/alice/sub/g", ALICE).layout.chunk_size == 64 << 10
    assert errno_of(lambda: setattr_(home, "/home/alice/f", ALICE, chunk_size=1 << 20)) == errno.EINVAL
    assert errno_of(lambda: setattr_(home, "/home/alice", ALICE, chunk_size=1000)) == errno.EINVAL
    assert errno_of(lambda: setattr_(home, "/home/alice", BOB, chunk_size=1 << 20)) == errno.EPERM


def test_moving_a_directory_elsewhere_needs_write_permission_on_it(home):
    ops.mkdir(home, "/tmp/ro", ALICE, 0o555)
    ops.mkdir(home, "/tmp/dst", ALICE)
    assert errno_of(lambda: ops.rename(
        home, meta_pb2.RenameRequest(src="/tmp/ro", dst="/tmp/dst/ro"), ALICE)) == errno.EACCES
    ops.rename(home, meta_pb2.RenameRequest(src="/tmp/ro", dst="/tmp/ro2"), ALICE)  # same parent: fine
