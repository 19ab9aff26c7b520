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
    (".", errno.EINVAL),            # fs3 has no working directory: '.' and '..' are refused, not resolved
    ("..", errno.EINVAL),
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
    deep = workdir + ("/" + "d" * 200) * 21  # over 4096 bytes
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
