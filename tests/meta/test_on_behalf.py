"""Creating as a mount's local user (``Caller`` in Mkdir/Open/Symlink/Mknod): only an admin's token may
ask it; the new inode is that user's, checks run as that user; setgid directories pass their group on;
mode 0 stays 0; special files are inodes that quotas count."""

from __future__ import annotations

import errno

import pytest

from fs3.meta import _keys as keys
from fs3.meta import ops
from fs3.meta.ops import ROOT_CRED, Cred
from fs3.meta.ops.mknod import mknod
from fs3.proto import meta_pb2

ADMIN = Cred(500, 500, (), True, "ops")
ALICE = Cred(1000, 1000, (), False, "alice")
AS_ALICE = meta_pb2.Caller(uid=1000, gid=1000, groups=[1000, 2000])


def creations(path, caller):
    """One request of each creating call, all with ``caller``."""
    return [
        (ops.mkdir, meta_pb2.MkdirRequest(path=path + "d", mode=0o755, caller=caller)),
        (ops.open_file, meta_pb2.OpenRequest(path=path + "f", create=True, mode=0o644, caller=caller)),
        (ops.symlink, meta_pb2.SymlinkRequest(path=path + "l", target="x", caller=caller)),
        (mknod, meta_pb2.MknodRequest(path=path + "p", type=meta_pb2.FIFO, mode=0o644, caller=caller)),
    ]


@pytest.mark.parametrize("cred", [ROOT_CRED, ADMIN])
def test_admin_creates_as_the_caller(ctx, cred):
    ops.mkdir(ctx, ROOT_CRED, meta_pb2.MkdirRequest(path="/home", mode=0o777))
    for op, req in creations("/home/", AS_ALICE):
        inode = op(ctx, cred, req).inode
        assert (inode.uid, inode.gid) == (1000, 1000), op.__name__


def test_other_tokens_may_not_act_for_anyone(ctx):
    """The attack: a user's token names another uid (root's, or a neighbour's) as the caller."""
    ops.mkdir(ctx, ROOT_CRED, meta_pb2.MkdirRequest(path="/tmp", mode=0o1777))
    for target in (meta_pb2.Caller(uid=0, gid=0), meta_pb2.Caller(uid=1001, gid=1001), AS_ALICE):
        for op, req in creations("/tmp/", target):
            with pytest.raises(PermissionError) as e:
                op(ctx, ALICE, req)
            assert e.value.errno == errno.EPERM, op.__name__
    assert list(ops.readdir(ctx, ROOT_CRED, meta_pb2.ReadDirRequest(path="/tmp")).entries) == []


def test_checks_run_as_the_caller(ctx):
    """Acting for alice, root's token cannot create where alice may not."""
    ops.mkdir(ctx, ROOT_CRED, meta_pb2.MkdirRequest(path="/root", mode=0o700))
    for op, req in creations("/root/", AS_ALICE):
        with pytest.raises(PermissionError) as e:
            op(ctx, ROOT_CRED, req)
        assert e.value.errno == errno.EACCES, op.__name__
    # ... and her supplementary groups count: a group-writable directory of group 2000
    ops.mkdir(ctx, ROOT_CRED, meta_pb2.MkdirRequest(path="/team", mode=0o770))
    ops.setattr_(ctx, ROOT_CRED, meta_pb2.SetAttrRequest(path="/team", set_gid=True, gid=2000))
    for op, req in creations("/team/", AS_ALICE):
        op(ctx, ROOT_CRED, req)


def test_setgid_directory_passes_its_group_on(ctx):
    ops.mkdir(ctx, ROOT_CRED, meta_pb2.MkdirRequest(path="/g", mode=0o2777))
    ops.setattr_(ctx, ROOT_CRED, meta_pb2.SetAttrRequest(path="/g", set_gid=True, gid=3000))
    for op, req in creations("/g/", AS_ALICE):
        inode = op(ctx, ROOT_CRED, req).inode
        assert (inode.uid, inode.gid) == (1000, 3000), op.__name__
    sub = ops.stat(ctx, ROOT_CRED, meta_pb2.StatRequest(path="/g/d")).inode
    assert sub.mode & 0o2000  # a subdirectory is setgid too


def test_a_creator_outside_the_group_makes_no_setgid_program(ctx):
    """(Linux's rule, for clients that create without a kernel in between: the mount's kernel strips it
    itself.) A group-executable new file keeps setgid only when its creator is in its group."""
    ops.mkdir(ctx, ROOT_CRED, meta_pb2.MkdirRequest(path="/g", mode=0o2777))
    ops.setattr_(ctx, ROOT_CRED, meta_pb2.SetAttrRequest(path="/g", set_gid=True, gid=3000))

    def made(path, mode, cred=ALICE):
        req = meta_pb2.OpenRequest(path=path, create=True, mode=mode, exact_mode=True)
        return ops.open_file(ctx, cred, req).inode.mode

    assert made("/g/prog", 0o2755) == 0o755  # alice is not in group 3000
    assert made("/g/plain", 0o2644) == 0o2644  # not executable by the group: a mandatory-locking mark
    assert made("/g/mine", 0o2755, Cred(1000, 1000, (3000,), False, "alice")) == 0o2755
    assert made("/g/roots", 0o2755, ROOT_CRED) == 0o2755
    fifo = mknod(ctx, ALICE, meta_pb2.MknodRequest(path="/g/p", type=meta_pb2.FIFO, mode=0o2770)).inode
    assert fifo.mode & 0o7777 == 0o770


def test_mode_zero_is_kept(ctx):
    d = ops.mkdir(ctx, ROOT_CRED, meta_pb2.MkdirRequest(path="/d", mode=0, exact_mode=True)).inode
    f = ops.open_file(ctx, ROOT_CRED, meta_pb2.OpenRequest(path="/f", create=True, mode=0, exact_mode=True)).inode
    assert d.mode == 0 and f.mode == 0
    # an old client's 0 still means the default
    assert ops.mkdir(ctx, ROOT_CRED, meta_pb2.MkdirRequest(path="/e")).inode.mode == 0o755


def test_special_files(ctx):
    ops.mkdir(ctx, ROOT_CRED, meta_pb2.MkdirRequest(path="/tmp", mode=0o1777))
    fifo = mknod(ctx, ALICE, meta_pb2.MknodRequest(path="/tmp/p", type=meta_pb2.FIFO, mode=0o640)).inode
    assert fifo.type == meta_pb2.FIFO and fifo.mode == 0o640 and fifo.uid == 1000 and not fifo.layout.chains
    mknod(ctx, ALICE, meta_pb2.MknodRequest(path="/tmp/s", type=meta_pb2.SOCKET, mode=0o755))
    with pytest.raises(PermissionError) as e:  # devices: root's (CAP_MKNOD)
        mknod(ctx, ALICE, meta_pb2.MknodRequest(path="/tmp/c", type=meta_pb2.CHAR_DEVICE, rdev=0x0103))
    assert e.value.errno == errno.EPERM
    dev = mknod(ctx, ROOT_CRED, meta_pb2.MknodRequest(path="/tmp/c", type=meta_pb2.CHAR_DEVICE, rdev=0x0103)).inode
    assert dev.rdev == 0x0103
    with pytest.raises(FileExistsError):
        mknod(ctx, ROOT_CRED, meta_pb2.MknodRequest(path="/tmp/p", type=meta_pb2.FIFO))
    with pytest.raises(OSError) as e:
        mknod(ctx, ROOT_CRED, meta_pb2.MknodRequest(path="/tmp/x", type=meta_pb2.FILE))
    assert e.value.errno == errno.EINVAL
    names = {e.name: e.type for e in ops.readdir(ctx, ROOT_CRED, meta_pb2.ReadDirRequest(path="/tmp")).entries}
    assert names == {"p": meta_pb2.FIFO, "s": meta_pb2.SOCKET, "c": meta_pb2.CHAR_DEVICE}


def test_special_files_count_against_quotas(ctx):
    ops.mkdir(ctx, ROOT_CRED, meta_pb2.MkdirRequest(path="/q", mode=0o777))
    ops.set_quota(ctx, ROOT_CRED, meta_pb2.SetQuotaRequest(path="/q", max_inodes=2))
    mknod(ctx, ROOT_CRED, meta_pb2.MknodRequest(path="/q/a", type=meta_pb2.FIFO))
    mknod(ctx, ROOT_CRED, meta_pb2.MknodRequest(path="/q/b", type=meta_pb2.SOCKET))
    with pytest.raises(OSError) as e:
        mknod(ctx, ROOT_CRED, meta_pb2.MknodRequest(path="/q/c", type=meta_pb2.FIFO))
    assert e.value.errno == errno.EDQUOT
    ops.remove(ctx, ROOT_CRED, meta_pb2.RemoveRequest(path="/q/a"))
    mknod(ctx, ROOT_CRED, meta_pb2.MknodRequest(path="/q/c", type=meta_pb2.FIFO))
    quota = ops.get_quota(ctx, ROOT_CRED, meta_pb2.GetQuotaRequest(path="/q")).quotas[0]
    assert quota.used_inodes == 2 and quota.used_bytes == 0


def test_special_files_have_no_data_to_open(ctx):
    """Only a mount's kernel opens a fifo or device (its pipe, its driver); the client API may not get
    a file handle, or a data capability, for one."""
    mknod(ctx, ROOT_CRED, meta_pb2.MknodRequest(path="/p", type=meta_pb2.FIFO, mode=0o666))
    for write in (False, True):
        with pytest.raises(OSError) as e:
            ops.open_file(ctx, ROOT_CRED, meta_pb2.OpenRequest(path="/p", write=write, create=write))
        assert e.value.errno == errno.EOPNOTSUPP
    with pytest.raises(OSError):
        ops.truncate(ctx, ROOT_CRED, meta_pb2.TruncateRequest(path="/p", length=10))


def _close(ctx, reply, end, chunks):
    return ops.close_file(ctx, ROOT_CRED, meta_pb2.CloseRequest(
        inode=reply.inode.id, session=reply.session, wrote=True, written_end=end, chunks=chunks)).inode


def test_stored_bytes_count_written_chunks_not_holes(ctx):
    """st_blocks: Inode.stored counts the chunks writers stored, up to the length (meta/ops/_stored.py)."""
    mib = 1 << 20  # the namespace's chunk size (conftest)
    first = ops.open_file(ctx, ROOT_CRED, meta_pb2.OpenRequest(path="/sparse", write=True, create=True))
    assert first.inode.stored_known and first.inode.stored == 0
    inode = _close(ctx, first, 10 * mib + 100, [0, 10])  # chunk 0, a 9 MiB hole, 100 bytes of chunk 10
    assert inode.length == 10 * mib + 100 and inode.stored == mib + 100
    again = ops.open_file(ctx, ROOT_CRED, meta_pb2.OpenRequest(path="/sparse", write=True))
    assert _close(ctx, again, 5 * mib, [5, 0]).stored == 2 * mib + 100  # chunk 0 counts once
    cut = ops.truncate(ctx, ROOT_CRED, meta_pb2.TruncateRequest(path="/sparse", length=mib + 10)).inode
    assert cut.stored == mib  # chunks past the end are gone; chunk 1 was a hole
    grown = ops.truncate(ctx, ROOT_CRED, meta_pb2.TruncateRequest(path="/sparse", length=50 * mib)).inode
    assert grown.stored == mib  # a hole
    ops.remove(ctx, ROOT_CRED, meta_pb2.RemoveRequest(path="/sparse"))
    assert ctx.kv.transact(lambda txn: txn.get(keys.chunk_bitmap(first.inode.id)), readonly=True) is None
