"""Quotas on trees and users: counted inside every mutation, enforced with EDQUOT on growth, moved with
renames across trees, and reserved for writers through their write capabilities (ExtendWrite)."""

from __future__ import annotations

import errno

import pytest

from fs3 import _capability as cap
from fs3.meta import ops
from fs3.meta.ops import ROOT_CRED, Cred
from fs3.meta.ops.quota import RESERVE_STEP
from fs3.proto import meta_pb2

ALICE = Cred(1001, 1001, (), False, "alice")
MIB = 1 << 20


@pytest.fixture
def qctx(ctx):
    ctx.capabilities = cap.CapabilityKeys(lambda: b"k" * 32)
    for path in ("/q", "/other"):
        ops.mkdir(ctx, ROOT_CRED, meta_pb2.MkdirRequest(path=path, mode=0o1777))
    return ctx


def set_tree(ctx, path, max_bytes=0, max_inodes=0, cred=ROOT_CRED, **kw):
    return ops.set_quota(ctx, cred, meta_pb2.SetQuotaRequest(
        path=path, max_bytes=max_bytes, max_inodes=max_inodes, **kw)).quota


def set_user(ctx, uid, max_bytes=0, max_inodes=0):
    return ops.set_quota(ctx, ROOT_CRED, meta_pb2.SetQuotaRequest(
        user_quota=True, uid=uid, max_bytes=max_bytes, max_inodes=max_inodes)).quota


def quotas(ctx, path="", cred=ROOT_CRED):
    return list(ops.get_quota(ctx, cred, meta_pb2.GetQuotaRequest(path=path)).quotas)


def tree(ctx, path):
    return quotas(ctx, path)[0]


def write(ctx, path, length, cred=ALICE):
    """Open (creating), reserve ``length`` bytes as a writer would, and close having written them."""
    opened = ops.open_file(ctx, cred, meta_pb2.OpenRequest(path=path, write=True, create=True))
    raw = opened.write_capability
    if cap.fields(raw).limit < length:
        raw = ops.extend_write(ctx, cred, meta_pb2.ExtendWriteRequest(capability=raw, end=length)).capability
    assert cap.fields(raw).limit >= length
    ops.close_file(ctx, cred, meta_pb2.CloseRequest(inode=opened.inode.id, session=opened.session, wrote=True,
                                                    written_end=length))
    return opened


def test_a_tree_quota_counts_what_is_there_and_every_change(qctx):
    write(qctx, "/q/a", 3 * MIB)
    ops.mkdir(qctx, ALICE, meta_pb2.MkdirRequest(path="/q/sub"))
    q = set_tree(qctx, "/q", max_bytes=10 * MIB)
    assert (q.used_bytes, q.used_inodes) == (3 * MIB, 2)
    write(qctx, "/q/sub/b", MIB)
    ops.symlink(qctx, ALICE, meta_pb2.SymlinkRequest(path="/q/sub/l", target="b"))
    assert (tree(qctx, "/q").used_bytes, tree(qctx, "/q").used_inodes) == (4 * MIB, 4)
    ops.truncate(qctx, ALICE, meta_pb2.TruncateRequest(path="/q/a", length=MIB))
    ops.remove(qctx, ALICE, meta_pb2.RemoveRequest(path="/q/sub/l"))
    assert (tree(qctx, "/q").used_bytes, tree(qctx, "/q").used_inodes) == (2 * MIB, 3)
    write(qctx, "/other/x", 50 * MIB)  # outside the tree: not counted
    assert tree(qctx, "/q").used_bytes == 2 * MIB


def test_growth_past_a_tree_quota_is_edquot_and_changes_nothing(qctx):
    set_tree(qctx, "/q", max_bytes=10 * MIB, max_inodes=3)
    write(qctx, "/q/a", 8 * MIB)
    opened = ops.open_file(qctx, ALICE, meta_pb2.OpenRequest(path="/q/b", write=True, create=True))
    with pytest.raises(OSError) as exc:
        ops.extend_write(qctx, ALICE, meta_pb2.ExtendWriteRequest(capability=opened.write_capability, end=3 * MIB))
    assert exc.value.errno == errno.EDQUOT
    # What fits is reserved exactly (no room for a whole step).
    raw = ops.extend_write(qctx, ALICE, meta_pb2.ExtendWriteRequest(capability=opened.write_capability,
                                                                   end=2 * MIB)).capability
    assert cap.fields(raw).limit == 2 * MIB
    with pytest.raises(OSError) as exc:
        ops.truncate(qctx, ALICE, meta_pb2.TruncateRequest(path="/q/a", length=9 * MIB))
    assert exc.value.errno == errno.EDQUOT
    ops.mkdir(qctx, ALICE, meta_pb2.MkdirRequest(path="/q/d"))  # the third inode
    for attempt in (lambda: ops.mkdir(qctx, ALICE, meta_pb2.MkdirRequest(path="/q/e")),
                    lambda: ops.symlink(qctx, ALICE, meta_pb2.SymlinkRequest(path="/q/l", target="a")),
                    lambda: ops.open_file(qctx, ALICE, meta_pb2.OpenRequest(path="/q/c", write=True, create=True))):
        with pytest.raises(OSError) as exc:
            attempt()
        assert exc.value.errno == errno.EDQUOT
    assert (tree(qctx, "/q").used_bytes, tree(qctx, "/q").used_inodes) == (10 * MIB, 3)


def test_a_writers_reservation_is_given_back_at_close(qctx):
    set_tree(qctx, "/q", max_bytes=1 << 40)
    opened = ops.open_file(qctx, ALICE, meta_pb2.OpenRequest(path="/q/f", write=True, create=True))
    raw = ops.extend_write(qctx, ALICE, meta_pb2.ExtendWriteRequest(capability=opened.write_capability,
                                                                   end=MIB)).capability
    assert cap.fields(raw).limit == RESERVE_STEP  # a whole step, while there is room
    assert tree(qctx, "/q").used_bytes == RESERVE_STEP
    ops.close_file(qctx, ALICE, meta_pb2.CloseRequest(inode=opened.inode.id, session=opened.session, wrote=True,
                                                      written_end=MIB))
    assert tree(qctx, "/q").used_bytes == MIB


def test_a_crashed_writers_reservation_is_given_back_when_its_session_is_pruned(qctx):
    set_tree(qctx, "/q", max_bytes=1 << 40)
    opened = ops.open_file(qctx, ALICE, meta_pb2.OpenRequest(path="/q/f", write=True, create=True))
    ops.extend_write(qctx, ALICE, meta_pb2.ExtendWriteRequest(capability=opened.write_capability, end=MIB))
    qctx.clock = lambda: 2**62  # long after: the session expired
    ops.prune_sessions(qctx)
    assert tree(qctx, "/q").used_bytes == 0


def test_write_capabilities_reach_everywhere_without_a_quota_and_only_the_reservation_with_one(qctx):
    free = ops.open_file(qctx, ALICE, meta_pb2.OpenRequest(path="/other/f", write=True, create=True))
    assert cap.fields(free.write_capability).limit == cap.UNLIMITED
    assert cap.fields(free.write_capability).chunk_size == free.inode.layout.chunk_size
    set_tree(qctx, "/q", max_bytes=100 * MIB)
    held = ops.open_file(qctx, ALICE, meta_pb2.OpenRequest(path="/q/f", write=True, create=True))
    assert cap.fields(held.write_capability).limit == 0
    renewed = ops.renew_capabilities(qctx, ALICE, meta_pb2.RenewCapabilitiesRequest(
        capabilities=[held.write_capability])).capabilities[0]
    assert cap.fields(renewed).limit == 0  # a renewal does not reserve


def test_another_users_capability_cannot_reserve(qctx):
    set_tree(qctx, "/q", max_bytes=100 * MIB)
    opened = ops.open_file(qctx, ALICE, meta_pb2.OpenRequest(path="/q/f", write=True, create=True))
    mallory = Cred(1002, 1002, (), False, "mallory")
    with pytest.raises(PermissionError):
        ops.extend_write(qctx, mallory, meta_pb2.ExtendWriteRequest(capability=opened.write_capability, end=MIB))
    ops.close_file(qctx, ALICE, meta_pb2.CloseRequest(inode=opened.inode.id, session=opened.session))
    with pytest.raises(PermissionError):  # the session ended
        ops.extend_write(qctx, ALICE, meta_pb2.ExtendWriteRequest(capability=opened.write_capability, end=MIB))


def test_a_user_quota_counts_what_the_user_owns_wherever_it_is(qctx):
    write(qctx, "/q/a", MIB)
    write(qctx, "/other/b", MIB)
    write(qctx, "/other/root", 5 * MIB, cred=ROOT_CRED)
    q = set_user(qctx, ALICE.uid, max_bytes=3 * MIB)
    assert (q.used_bytes, q.used_inodes) == (2 * MIB, 2)
    opened = ops.open_file(qctx, ALICE, meta_pb2.OpenRequest(path="/other/c", write=True, create=True))
    with pytest.raises(OSError) as exc:
        ops.extend_write(qctx, ALICE, meta_pb2.ExtendWriteRequest(capability=opened.write_capability, end=2 * MIB))
    assert exc.value.errno == errno.EDQUOT
    # chown moves the usage to the new owner (root may exceed nothing here: root has no quota)
    ops.setattr_(qctx, ROOT_CRED, meta_pb2.SetAttrRequest(path="/q/a", set_uid=True, uid=0))
    mine = quotas(qctx, cred=ALICE)
    assert [(m.uid, m.used_bytes, m.used_inodes) for m in mine] == [(ALICE.uid, MIB, 2)]


def test_moving_across_trees_moves_usage_and_is_refused_when_it_does_not_fit(qctx):
    set_tree(qctx, "/q", max_bytes=4 * MIB)
    ops.mkdir(qctx, ALICE, meta_pb2.MkdirRequest(path="/other/t"))
    write(qctx, "/other/t/a", MIB)
    write(qctx, "/other/t/b", 2 * MIB)
    ops.rename(qctx, ALICE, meta_pb2.RenameRequest(src="/other/t", dst="/q/t"))
    assert (tree(qctx, "/q").used_bytes, tree(qctx, "/q").used_inodes) == (3 * MIB, 3)
    write(qctx, "/other/big", 2 * MIB)
    with pytest.raises(OSError) as exc:
        ops.rename(qctx, ALICE, meta_pb2.RenameRequest(src="/other/big", dst="/q/big"))
    assert exc.value.errno == errno.EDQUOT
    ops.rename(qctx, ALICE, meta_pb2.RenameRequest(src="/q/t/b", dst="/other/b"))
    assert (tree(qctx, "/q").used_bytes, tree(qctx, "/q").used_inodes) == (MIB, 2)
    # and the moved tree's inodes count against the new tree from now on
    ops.remove(qctx, ALICE, meta_pb2.RemoveRequest(path="/q/t/a"))
    assert tree(qctx, "/q").used_inodes == 1


def test_a_hard_link_cannot_carry_a_file_out_of_its_quota(qctx):
    set_tree(qctx, "/q", max_bytes=4 * MIB)
    write(qctx, "/q/a", MIB)
    with pytest.raises(OSError) as exc:
        ops.link(qctx, ALICE, meta_pb2.LinkRequest(src="/q/a", dst="/other/a"))
    assert exc.value.errno == errno.EXDEV
    ops.link(qctx, ALICE, meta_pb2.LinkRequest(src="/q/a", dst="/q/a2"))  # within the tree: fine
    ops.remove(qctx, ALICE, meta_pb2.RemoveRequest(path="/q/a"))
    assert tree(qctx, "/q").used_bytes == MIB  # still one name left
    ops.remove(qctx, ALICE, meta_pb2.RemoveRequest(path="/q/a2"))
    assert (tree(qctx, "/q").used_bytes, tree(qctx, "/q").used_inodes) == (0, 0)


def test_a_removed_tree_is_given_back_as_it_is_collected(qctx, ctx):
    set_tree(qctx, "/q")
    ops.mkdir(qctx, ALICE, meta_pb2.MkdirRequest(path="/q/t"))
    for i in range(5):
        write(qctx, f"/q/t/f{i}", MIB)
    ops.remove(qctx, ALICE, meta_pb2.RemoveRequest(path="/q/t", recursive=True))
    from fs3.meta._garbage import GarbageCollector
    gc = GarbageCollector(qctx, qctx.chunks, delay=0)
    while gc.pending():
        gc.run_once()
    assert (tree(qctx, "/q").used_bytes, tree(qctx, "/q").used_inodes) == (0, 0)


def test_only_root_sets_quotas_and_others_see_only_their_own(qctx):
    with pytest.raises(PermissionError):
        set_tree(qctx, "/q", max_bytes=1, cred=ALICE)
    set_tree(qctx, "/q", max_bytes=MIB)
    set_user(qctx, 1002, max_bytes=MIB)
    assert quotas(qctx, cred=ALICE) == []
    assert len(quotas(qctx)) == 2
    with pytest.raises(PermissionError):
        ops.get_quota(qctx, ALICE, meta_pb2.GetQuotaRequest(user_quota=True, uid=1002))
    with pytest.raises(NotADirectoryError):
        write(qctx, "/q/f", 0)
        set_tree(qctx, "/q/f")
    set_tree(qctx, "/q", clear=True)
    assert [q.uid for q in quotas(qctx)] == [1002]


def test_a_close_that_claims_more_than_was_reserved_gets_only_the_reservation(qctx):
    """A client that says it wrote past its reservation (a failed write, or a lie) cannot grow the
    file's length or usage past it: storage took nothing further."""
    set_tree(qctx, "/q", max_bytes=2 * MIB)
    opened = ops.open_file(qctx, ALICE, meta_pb2.OpenRequest(path="/q/f", write=True, create=True))
    ops.extend_write(qctx, ALICE, meta_pb2.ExtendWriteRequest(capability=opened.write_capability, end=MIB))
    closed = ops.close_file(qctx, ALICE, meta_pb2.CloseRequest(inode=opened.inode.id, session=opened.session,
                                                               wrote=True, written_end=50 * MIB))
    assert closed.inode.length == MIB  # what was reserved (exactly: the quota has no room for a step)
    assert tree(qctx, "/q").used_bytes == MIB
