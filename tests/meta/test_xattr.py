"""Extended attributes in meta: namespaces, ext4's limits and Linux's errors, who may read and change
them, and that they leave with their inode."""

from __future__ import annotations

import errno

import pytest

from fs3.meta import _keys as keys
from fs3.meta import ops
from fs3.meta.ops import ROOT_CRED, Cred
from fs3.meta.ops.mknod import mknod
from fs3.meta.ops.xattr import INODE_MAX, VALUE_MAX, get_xattr, set_xattr
from fs3.proto import meta_pb2

ALICE = Cred(1000, 1000, (), False, "alice")
BOB = Cred(1001, 1001, (), False, "bob")


def setx(ctx, path, name, value=b"v", cred=ROOT_CRED, **kw):
    return set_xattr(ctx, cred, meta_pb2.SetXattrRequest(path=path, name=name, value=value, **kw))


def getx(ctx, path, name, cred=ROOT_CRED):
    return get_xattr(ctx, cred, meta_pb2.GetXattrRequest(path=path, name=name)).value


def listx(ctx, path, cred=ROOT_CRED):
    return list(get_xattr(ctx, cred, meta_pb2.GetXattrRequest(path=path, list=True)).names)


def create(ctx, path, cred=ROOT_CRED, mode=0o644):
    """A new file, closed again."""
    reply = ops.open_file(ctx, cred, meta_pb2.OpenRequest(path=path, create=True, mode=mode, exact_mode=True))
    if reply.session:
        ops.close_file(ctx, cred, meta_pb2.CloseRequest(inode=reply.inode.id, session=reply.session))
    return reply.inode


def errno_of(excinfo) -> int:
    return excinfo.value.errno


def test_set_get_list_remove(ctx):
    create(ctx, "/f")
    setx(ctx, "/f", "user.a", b"1")
    setx(ctx, "/f", "user.b", b"")
    assert getx(ctx, "/f", "user.a") == b"1" and getx(ctx, "/f", "user.b") == b""
    assert sorted(listx(ctx, "/f")) == ["user.a", "user.b"]
    setx(ctx, "/f", "user.a", b"2")
    assert getx(ctx, "/f", "user.a") == b"2"
    setx(ctx, "/f", "user.a", remove=True)
    with pytest.raises(OSError) as e:
        getx(ctx, "/f", "user.a")
    assert errno_of(e) == errno.ENODATA
    with pytest.raises(OSError) as e:
        setx(ctx, "/f", "user.a", remove=True)
    assert errno_of(e) == errno.ENODATA


def test_create_and_replace_flags(ctx):
    create(ctx, "/f")
    with pytest.raises(OSError) as e:
        setx(ctx, "/f", "user.a", replace=True)
    assert errno_of(e) == errno.ENODATA
    setx(ctx, "/f", "user.a", create=True)
    with pytest.raises(FileExistsError):
        setx(ctx, "/f", "user.a", create=True)
    setx(ctx, "/f", "user.a", b"x", replace=True)
    assert getx(ctx, "/f", "user.a") == b"x"


def test_limits(ctx):
    create(ctx, "/f")
    setx(ctx, "/f", "user." + "n" * 250)  # 255 bytes
    for name in ("user." + "n" * 251, ""):
        with pytest.raises(OSError) as e:
            setx(ctx, "/f", name)
        assert errno_of(e) == errno.ERANGE
    with pytest.raises(OSError) as e:
        setx(ctx, "/f", "user.big", b"x" * (VALUE_MAX + 1))
    assert errno_of(e) == errno.E2BIG
    setx(ctx, "/f", "user.big", b"x" * (VALUE_MAX - 1000))
    with pytest.raises(OSError) as e:  # the inode's total: ENOSPC, as ext4's full attribute block
        setx(ctx, "/f", "user.more", b"y" * 2000)
    assert errno_of(e) == errno.ENOSPC
    setx(ctx, "/f", "user.big", b"x" * 10)  # replacing counts the new value instead of the old
    setx(ctx, "/f", "user.more", b"y" * (INODE_MAX // 2))
    for name in ("system.posix_acl_access", "other.x", "user."):
        with pytest.raises(OSError) as e:
            setx(ctx, "/f", name)
        assert errno_of(e) == errno.EOPNOTSUPP


def test_permissions(ctx):
    ops.mkdir(ctx, ROOT_CRED, meta_pb2.MkdirRequest(path="/d", mode=0o777))
    create(ctx, "/d/alice", ALICE, 0o644)
    setx(ctx, "/d/alice", "user.a", cred=ALICE)
    assert getx(ctx, "/d/alice", "user.a", BOB) == b"v"  # readable: r for others
    with pytest.raises(PermissionError) as e:
        setx(ctx, "/d/alice", "user.b", cred=BOB)  # no write permission
    assert errno_of(e) == errno.EACCES
    with pytest.raises(PermissionError) as e:
        setx(ctx, "/d/alice", "security.x", cred=ALICE)  # security: root's
    assert errno_of(e) == errno.EPERM
    setx(ctx, "/d/alice", "security.x")
    assert getx(ctx, "/d/alice", "security.x", BOB) == b"v"
    setx(ctx, "/d/alice", "trusted.t")
    assert "trusted.t" not in listx(ctx, "/d/alice", BOB) and "trusted.t" in listx(ctx, "/d/alice")
    with pytest.raises(PermissionError):
        getx(ctx, "/d/alice", "trusted.t", ALICE)
    ops.setattr_(ctx, ALICE, meta_pb2.SetAttrRequest(path="/d/alice", set_mode=True, mode=0o600))
    with pytest.raises(PermissionError):
        getx(ctx, "/d/alice", "user.a", BOB)


def test_user_attributes_only_on_files_and_directories(ctx):
    mknod(ctx, ROOT_CRED, meta_pb2.MknodRequest(path="/p", type=meta_pb2.FIFO, mode=0o666))
    with pytest.raises(PermissionError) as e:
        setx(ctx, "/p", "user.a")
    assert errno_of(e) == errno.EPERM
    with pytest.raises(OSError) as e:
        getx(ctx, "/p", "user.a")
    assert errno_of(e) == errno.ENODATA
    ops.mkdir(ctx, ROOT_CRED, meta_pb2.MkdirRequest(path="/d"))
    setx(ctx, "/d", "user.dir")
    assert listx(ctx, "/d") == ["user.dir"]


def test_attributes_leave_with_the_inode(ctx):
    f = create(ctx, "/f")
    setx(ctx, "/f", "user.a")
    ops.link(ctx, ROOT_CRED, meta_pb2.LinkRequest(src="/f", dst="/g"))
    ops.remove(ctx, ROOT_CRED, meta_pb2.RemoveRequest(path="/f"))
    assert getx(ctx, "/g", "user.a") == b"v"  # the inode lives on under its other name
    ops.remove(ctx, ROOT_CRED, meta_pb2.RemoveRequest(path="/g"))
    d = ops.mkdir(ctx, ROOT_CRED, meta_pb2.MkdirRequest(path="/d")).inode
    setx(ctx, "/d", "user.a")
    ops.remove(ctx, ROOT_CRED, meta_pb2.RemoveRequest(path="/d", directory=True))
    for ino in (f.id, d.id):
        begin, end = keys.prefix_range(keys.xattr_prefix(ino))
        assert ctx.kv.transact(lambda txn, b=begin, e=end: txn.get_range(b, e), readonly=True) == []
