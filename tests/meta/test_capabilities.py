"""Meta issues data-plane capabilities only after its permission checks, and renews them only for their
holder while the file (and, for writes, the write session) lives."""

from __future__ import annotations

import pytest

from fs3 import _capability as cap
from fs3._errors import Status
from fs3.meta import ops
from fs3.meta.ops import ROOT_CRED, Cred
from fs3.proto import meta_pb2

ALICE = Cred(1001, 1001, (), False, "alice")
BOB = Cred(1002, 1002, (), False, "bob")


@pytest.fixture
def cctx(ctx):
    ctx.capabilities = cap.CapabilityKeys(lambda: b"k" * 32)
    ops.mkdir(ctx, ROOT_CRED, meta_pb2.MkdirRequest(path="/d", mode=0o1777))
    return ctx


def open_(ctx, path, cred=ROOT_CRED, **kw):
    return ops.open_file(ctx, cred, meta_pb2.OpenRequest(path=path, **kw))


def renew(ctx, cred, *raws):
    return ops.renew_capabilities(ctx, cred, meta_pb2.RenewCapabilitiesRequest(capabilities=list(raws)))


def test_open_issues_what_the_caller_may_do(cctx):
    w = open_(cctx, "/d/f", ALICE, write=True, create=True, mode=0o600)
    rc, wc = cap.verify(cctx.capabilities, w.read_capability), cap.verify(cctx.capabilities, w.write_capability)
    assert (rc.access, rc.inode, rc.uid) == (cap.READ, w.inode.id, ALICE.uid)
    assert (wc.access, wc.inode, wc.session, wc.uid) == (cap.WRITE, w.inode.id, w.session, ALICE.uid)
    assert not open_(cctx, "/d/f", ALICE).write_capability  # opened to read: no write capability
    with pytest.raises(PermissionError):
        open_(cctx, "/d/f", BOB)  # 0600: bob gets neither the file nor a capability


def test_a_write_only_file_gives_its_writer_no_read_capability(cctx):
    w = open_(cctx, "/d/wo", ALICE, write=True, create=True, mode=0o200)
    assert w.write_capability and not w.read_capability


def test_stat_issues_a_read_capability_only_when_asked_and_allowed(cctx):
    open_(cctx, "/d/secret", ALICE, write=True, create=True, mode=0o600)
    open_(cctx, "/d/public", ALICE, write=True, create=True, mode=0o644)
    assert not ops.stat(cctx, BOB, meta_pb2.StatRequest(path="/d/public")).read_capability
    assert ops.stat(cctx, BOB, meta_pb2.StatRequest(path="/d/public", capability=True)).read_capability
    assert not ops.stat(cctx, BOB, meta_pb2.StatRequest(path="/d/secret", capability=True)).read_capability
    assert not ops.stat(cctx, ALICE, meta_pb2.StatRequest(path="/d", capability=True)).read_capability
    results = ops.batch_stat(cctx, BOB, meta_pb2.BatchStatRequest(paths=["/d/secret", "/d/public"],
                                                                 capabilities=True)).results
    assert [bool(r.read_capability) for r in results] == [False, True]


def test_renewal_is_for_the_holder_while_the_file_and_session_live(cctx):
    w = open_(cctx, "/d/f", ALICE, write=True, create=True)
    got = renew(cctx, ALICE, w.read_capability, w.write_capability)
    assert list(got.status) == [0, 0]
    assert [cap.verify(cctx.capabilities, c).access for c in got.capabilities] == [cap.READ, cap.WRITE]
    # Another user cannot renew what they picked up, and a forged one is refused.
    stolen = renew(cctx, BOB, w.read_capability)
    assert list(stolen.status) == [Status.PERMISSION_DENIED] and stolen.capabilities == [b""]
    forged = bytearray(w.read_capability)
    forged[22] ^= 1  # the uid
    assert list(renew(cctx, ALICE, bytes(forged)).status) == [Status.PERMISSION_DENIED]
    # The session ends: no more writing; the file goes: no more reading.
    ops.close_file(cctx, ALICE, meta_pb2.CloseRequest(inode=w.inode.id, session=w.session))
    after_close = renew(cctx, ALICE, w.read_capability, w.write_capability)
    assert list(after_close.status) == [0, Status.PERMISSION_DENIED]
    assert "session" in after_close.message[1]
    ops.remove(cctx, ALICE, meta_pb2.RemoveRequest(path="/d/f"))
    assert list(renew(cctx, ALICE, w.read_capability).status) == [Status.NOT_FOUND]


def test_a_namespace_without_storage_issues_none(ctx):
    w = open_(ctx, "/f", write=True, create=True)
    assert not w.read_capability and not w.write_capability


@pytest.mark.parametrize(("table", "layout", "bound"), [
    ([11, 12, 13, 14, 15], [14, 15, 11], (3, 3, 5)),   # wraps at the table's end
    ([11, 12, 13, 14, 15], [12, 13, 14], (1, 3, 5)),
    ([11, 12, 13], [11, 12, 13], (0, 3, 3)),
    ([11, 12, 13], [12, 11], (1, 2, 2)),             # made when the table had two chains
    ([11, 12, 13], [11, 13], (0, 0, 0)),             # not consecutive (no layout is made so): unbound
])
def test_a_write_capability_binds_the_files_chains(cctx, table, layout, bound):
    from fs3.meta import _keys as keys
    from fs3.meta.ops.capabilities import write_reach
    from fs3.proto import cluster_pb2, common_pb2

    cctx.kv.transact(lambda t: t.set(keys.chain_table(1), cluster_pb2.ChainTable(
        id=1, version=1, chains=table).SerializeToString()))
    inode = meta_pb2.Inode(id=99, type=ops.FILE, layout=common_pb2.Layout(chunk_size=1 << 20, stripe=len(layout),
                                                                          chains=layout, table_id=1))
    reach = cctx.kv.transact(lambda t: write_reach(t, inode), readonly=True)
    assert (reach.chain_start, reach.stripe, reach.table_len) == bound
    if bound[1]:  # the chain a storage node computes for each index is the layout's
        for i in range(7):
            assert table[(reach.chain_start + i % reach.stripe) % reach.table_len] == layout[i % len(layout)]
