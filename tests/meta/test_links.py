"""Hard links, symlinks (resolution, readlink, loops), batch stat, statfs."""

from __future__ import annotations

import errno

import pytest

from fs3.meta import ops
from fs3.meta.ops import ROOT_CRED as ROOT
from fs3.proto import cluster_pb2, meta_pb2


def create(ctx, path, cred=ROOT, mode=0o644):
    inode, session = ops.open_file(ctx, meta_pb2.OpenRequest(path=path, write=True, create=True, mode=mode), cred)
    ops.close_file(ctx, meta_pb2.CloseRequest(inode=inode.id, session=session, wrote=True, written_end=5))
    return inode


def errno_of(fn) -> int:
    with pytest.raises(OSError) as info:
        fn()
    return info.value.errno


def symlink(ctx, target, path, cred=ROOT):
    return ops.symlink(ctx, meta_pb2.SymlinkRequest(target=target, path=path), cred)


def test_hard_link_counts_and_survives_unlink(ctx):
    f = create(ctx, "/f")
    linked = ops.link(ctx, meta_pb2.LinkRequest(src="/f", dst="/g"), ROOT)
    assert linked.id == f.id and linked.nlink == 2
    ops.remove(ctx, meta_pb2.RemoveRequest(path="/f"), ROOT)
    g = ops.stat(ctx, "/g", ROOT)
    assert g.id == f.id and g.nlink == 1 and g.length == 5
    assert ctx.chunks.removed == []  # a name remains: nothing reclaimed
    ops.mkdir(ctx, "/d", ROOT)
    assert errno_of(lambda: ops.link(ctx, meta_pb2.LinkRequest(src="/d", dst="/d2"), ROOT)) == errno.EPERM
    assert errno_of(lambda: ops.link(ctx, meta_pb2.LinkRequest(src="/g", dst="/d"), ROOT)) == errno.EEXIST
    assert errno_of(lambda: ops.link(ctx, meta_pb2.LinkRequest(src="/nope", dst="/x"), ROOT)) == errno.ENOENT


def test_symlinks_resolve_relative_absolute_and_dotdot(ctx):
    ops.mkdir(ctx, "/a/b", ROOT, parents=True)
    f = create(ctx, "/a/b/f")
    symlink(ctx, "b/f", "/a/rel")
    symlink(ctx, "/a/b", "/abs")
    symlink(ctx, "../b/./f", "/a/b/up")
    assert ops.stat(ctx, "/a/rel", ROOT).id == f.id
    assert ops.stat(ctx, "/abs/f", ROOT).id == f.id       # a symlink in the middle of a path
    assert ops.stat(ctx, "/a/b/up", ROOT).id == f.id
    link = ops.stat(ctx, "/a/rel", ROOT, follow=False)
    assert link.type == meta_pb2.SYMLINK and link.length == len("b/f")
    assert ops.readlink(ctx, "/a/rel", ROOT) == "b/f"
    assert errno_of(lambda: ops.readlink(ctx, "/a/b/f", ROOT)) == errno.EINVAL


def test_open_creates_through_a_dangling_symlink_and_writes_through_it(ctx):
    ops.mkdir(ctx, "/d", ROOT)
    symlink(ctx, "/d/target", "/link")
    inode, _ = ops.open_file(ctx, meta_pb2.OpenRequest(path="/link", write=True, create=True), ROOT)
    assert ops.stat(ctx, "/d/target", ROOT).id == inode.id
    assert ops.stat(ctx, "/link", ROOT, follow=False).type == meta_pb2.SYMLINK
    assert errno_of(lambda: ops.open_file(
        ctx, meta_pb2.OpenRequest(path="/link", write=True, create=True, exclusive=True), ROOT)) == errno.EEXIST


def test_symlink_loops_are_eloop_and_change_nothing(ctx):
    symlink(ctx, "/loop2", "/loop1")
    symlink(ctx, "/loop1", "/loop2")
    symlink(ctx, "self", "/self")
    for path in ("/loop1", "/self", "/self/x"):
        assert errno_of(lambda path=path: ops.stat(ctx, path, ROOT)) == errno.ELOOP
    assert errno_of(lambda: ops.open_file(
        ctx, meta_pb2.OpenRequest(path="/loop1", write=True, create=True), ROOT)) == errno.ELOOP
    assert errno_of(lambda: ops.mkdir(ctx, "/self/x", ROOT)) == errno.ELOOP
    names = [e.name for e in ops.readdir(ctx, meta_pb2.ReadDirRequest(path="/"), ROOT).entries]
    assert names == ["loop1", "loop2", "self"]


def test_symlink_errors(ctx):
    symlink(ctx, "x", "/s")
    assert errno_of(lambda: symlink(ctx, "y", "/s")) == errno.EEXIST
    assert errno_of(lambda: symlink(ctx, "", "/t")) == errno.ENOENT
    assert errno_of(lambda: symlink(ctx, "a" * 4096, "/t")) == errno.ENAMETOOLONG
    assert errno_of(lambda: ops.stat(ctx, "/s", ROOT)) == errno.ENOENT  # dangling
    # unlink removes the link, not its target
    create(ctx, "/x")
    ops.remove(ctx, meta_pb2.RemoveRequest(path="/s"), ROOT)
    assert ops.stat(ctx, "/x", ROOT).type == meta_pb2.FILE


def test_batch_stat_reports_each_path(ctx):
    create(ctx, "/f")
    ops.mkdir(ctx, "/d", ROOT)
    results = ops.batch_stat(ctx, ["/f", "/d", "/nope", "/f/x"], ROOT)
    assert [r.status for r in results[:2]] == [0, 0]
    assert results[0].inode.type == meta_pb2.FILE and results[1].inode.type == meta_pb2.DIRECTORY
    assert results[2].status and "No such file" in results[2].message
    assert results[3].status and "Not a directory" in results[3].message


def test_statfs_sums_targets_over_replicas(ctx):
    targets = [cluster_pb2.TargetInfo(id=i, used_bytes=300, free_bytes=3000) for i in range(3)]
    fs = ops.statfs(ctx, targets)
    assert fs.replicas == 1 and fs.used_bytes == 900 and fs.free_bytes == 9000
    assert fs.total_bytes == 9900 and fs.chunk_size == 1 << 20 and fs.inodes >= 1
