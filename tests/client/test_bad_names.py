"""Bad names and paths get their POSIX errno from the client and from meta itself (a raw gRPC call
that skips the client's checks), and change nothing."""

from __future__ import annotations

import errno

import grpc
import pytest

from fs3._rpc import CHANNEL_OPTIONS, call
from fs3.proto import meta_pb2, meta_pb2_grpc

BAD = [
    ("nul\0byte", errno.EINVAL),
    ("x" * 256, errno.ENAMETOOLONG),
    ("é" * 128, errno.ENAMETOOLONG),  # 256 bytes of UTF-8
]


@pytest.mark.parametrize(("name", "code"), BAD)
def test_bad_names_are_refused_by_client_and_meta(cluster, client, workdir, name, code):
    path = f"{workdir}/{name}"
    for op in (lambda: client.mkdir(path), lambda: client.write(path, b"x"),
               lambda: client.symlink("t", path), lambda: client.rename(workdir, path)):
        with pytest.raises(OSError) as info:
            op()
        assert info.value.errno == code
    token = (cluster.data_dir / "admin.token").read_text().strip()
    with grpc.insecure_channel(cluster.meta[0], options=CHANNEL_OPTIONS) as channel:
        stub = meta_pb2_grpc.MetaStub(channel)
        with pytest.raises(OSError) as info:
            call(stub.Mkdir, meta_pb2.MkdirRequest(path=path), metadata=(("authorization", f"Bearer {token}"),))
        assert info.value.errno == code
    assert client.ls(workdir) == []


def test_overlong_paths_and_symlink_targets(client, workdir):
    deep = workdir + ("/" + "d" * 200) * 330  # over 64 KiB (a path may be longer than PATH_MAX: fs3/_paths.py)
    with pytest.raises(OSError) as info:
        client.mkdir(deep, parents=True)
    assert info.value.errno == errno.ENAMETOOLONG
    with pytest.raises(OSError) as info:
        client.symlink("t" * 4096, f"{workdir}/s")
    assert info.value.errno == errno.ENAMETOOLONG
    assert client.ls(workdir) == []


def test_symlink_loops_are_eloop_everywhere(client, workdir):
    client.symlink("l2", f"{workdir}/l1")
    client.symlink("l1", f"{workdir}/l2")
    for op in (lambda: client.stat(f"{workdir}/l1"), lambda: client.read(f"{workdir}/l1"),
               lambda: client.write(f"{workdir}/l1", b"x"), lambda: client.mkdir(f"{workdir}/l1/x"),
               lambda: client.ls(f"{workdir}/l1")):
        with pytest.raises(OSError) as info:
            op()
        assert info.value.errno == errno.ELOOP
    assert sorted(client.ls(workdir)) == ["l1", "l2"]


def test_dot_and_dotdot_resolve_and_refuse_as_on_linux(client, workdir, tmp_path):
    """'.' and '..' are resolved inside paths; as the last component they name a directory, and every
    operation that would make or remove an entry there gets the errno Linux gives, changing nothing."""
    import os

    local = tmp_path / "root"
    local.mkdir()
    for base, mk, write in ((str(local), os.mkdir, None), (workdir, client.mkdir, client.write)):
        mk(f"{base}/d")
        mk(f"{base}/d/e")
        if write is None:
            with open(f"{base}/d/f", "wb") as fh:
                fh.write(b"data")
        else:
            write(f"{base}/d/f", b"data")

    def outcome(fn, base):
        try:
            fn(base)
        except OSError as exc:
            return exc.errno
        return 0

    def local_open(path, mode):
        with open(path, mode):
            pass

    cases = {
        "mkdir .": (lambda b: os.mkdir(f"{b}/d/."), lambda b: client.mkdir(f"{b}/d/.")),
        "mkdir ..": (lambda b: os.mkdir(f"{b}/d/e/.."), lambda b: client.mkdir(f"{b}/d/e/..")),
        "create .": (lambda b: local_open(f"{b}/d/.", "wb"), lambda b: client.open(f"{b}/d/.", "wb").close()),
        "create excl ..": (lambda b: local_open(f"{b}/d/..", "xb"), lambda b: client.open(f"{b}/d/..", "xb").close()),
        "symlink at .": (lambda b: os.symlink("t", f"{b}/d/."), lambda b: client.symlink("t", f"{b}/d/.")),
        "link to ..": (lambda b: os.link(f"{b}/d/f", f"{b}/d/.."), lambda b: client.link(f"{b}/d/f", f"{b}/d/..")),
        "unlink .": (lambda b: os.unlink(f"{b}/d/."), lambda b: client.unlink(f"{b}/d/.")),
        "rmdir .": (lambda b: os.rmdir(f"{b}/d/."), lambda b: client.rmdir(f"{b}/d/.")),
        "rmdir ..": (lambda b: os.rmdir(f"{b}/d/e/.."), lambda b: client.rmdir(f"{b}/d/e/..")),
        "rename from .": (lambda b: os.rename(f"{b}/d/e/.", f"{b}/x"), lambda b: client.rename(f"{b}/d/e/.", f"{b}/x")),
        "rename onto ..": (lambda b: os.rename(f"{b}/d/f", f"{b}/d/e/.."),
                           lambda b: client.rename(f"{b}/d/f", f"{b}/d/e/..")),
        "missing/.": (lambda b: os.mkdir(f"{b}/nope/."), lambda b: client.mkdir(f"{b}/nope/.")),
        "file/..": (lambda b: os.stat(f"{b}/d/f/.."), lambda b: client.stat(f"{b}/d/f/..")),
    }
    for what, (on_linux, on_fs3) in cases.items():
        expected = outcome(on_linux, str(local))
        assert expected, what
        assert outcome(on_fs3, workdir) == expected, what
    assert client.ls(f"{workdir}/d") == ["e", "f"] and client.ls(f"{workdir}/d/e") == []

    assert client.read(f"{workdir}/d/e/../f") == b"data"
    assert client.read(f"{workdir}/./d/./f") == b"data"
    assert client.stat(f"{workdir}/d/e/..").inode == client.stat(f"{workdir}/d").inode
    assert client.stat("/..").inode == client.stat("/").inode
    client.mkdir(f"{workdir}/d/./g/../h", parents=True)
    assert client.ls(f"{workdir}/d") == ["e", "f", "g", "h"]
    client.symlink("e", f"{workdir}/d/l")
    assert client.stat(f"{workdir}/d/l/..").inode == client.stat(f"{workdir}/d").inode  # '..' of the target


def test_paths_longer_than_path_max_work_and_fail_cleanly(cluster, client, workdir):
    """A mount's paths grow with the tree's depth (its callers use relative paths): 6 KiB works, and an
    error about such a path arrives whole over gRPC too (whose metadata carries the path cut short)."""
    deep = workdir + ("/" + "d" * 200) * 30
    client.mkdir(deep, parents=True)
    client.write(deep + "/f", b"deep")
    assert client.read(deep + "/f") == b"deep"
    token = (cluster.data_dir / "admin.token").read_text().strip()
    with grpc.insecure_channel(cluster.meta[0], options=CHANNEL_OPTIONS) as channel:
        stub = meta_pb2_grpc.MetaStub(channel)
        for path in (deep + "/missing", workdir + ("/" + "d" * 200) * 320):  # missing; just under 64 KiB
            with pytest.raises(FileNotFoundError) as info:
                call(stub.Stat, meta_pb2.StatRequest(path=path), metadata=(("authorization", f"Bearer {token}"),))
            assert info.value.filename and path.startswith(info.value.filename)
    client.remove(workdir + "/" + "d" * 200, recursive=True)
