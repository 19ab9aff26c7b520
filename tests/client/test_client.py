"""The client library against a real cluster (meta + 3 storage processes, 64 KiB chunks, stripe 3)."""

from __future__ import annotations

import errno
import io
import os
import random

import pytest

import fs3

CHUNK = 64 << 10


def test_write_and_read_back(client, workdir):
    data = os.urandom(10 * CHUNK + 123)
    assert client.write(f"{workdir}/f", data) == len(data)
    assert client.read(f"{workdir}/f") == data
    st = client.stat(f"{workdir}/f")
    assert st.size == len(data) and st.is_file and st.chunk_size == CHUNK and len(st.chains) == 3


def test_ranges_crossing_chunk_boundaries(client, workdir):
    data = os.urandom(7 * CHUNK)
    client.write(f"{workdir}/f", data)
    rng = random.Random(1)
    cases = [(CHUNK - 1, 2), (CHUNK - 100, 3 * CHUNK), (0, 7 * CHUNK), (6 * CHUNK + 5, 10_000)]
    cases += [(rng.randrange(7 * CHUNK), rng.randrange(1, 3 * CHUNK)) for _ in range(20)]
    for off, n in cases:
        assert client.read(f"{workdir}/f", off, n) == data[off : off + n], (off, n)


def test_file_object_is_a_python_binary_file(client, workdir):
    path = f"{workdir}/obj"
    with client.open(path, "wb") as f:
        assert f.write(b"hello ") == 6
        f.write(b"world" * 30_000)
    with client.open(path, "rb") as f:
        assert isinstance(f, io.BufferedReader)
        assert f.read(5) == b"hello"
        assert f.tell() == 5
        f.seek(-5, io.SEEK_END)
        assert f.read() == b"world"
        f.seek(6)
        buf = bytearray(10)
        assert f.readinto(buf) == 10 and bytes(buf) == b"worldworld"
    with client.open(path, "rb", buffering=0) as raw:
        assert isinstance(raw, fs3.File)
        raw.seek(CHUNK - 3)
        assert len(raw.read(7)) == 7
    with client.open(f"{workdir}/text", "w") as f:
        f.write("línea 1\nline 2\n")
    with client.open(f"{workdir}/text", "r") as f:
        assert f.readlines() == ["línea 1\n", "line 2\n"]


def test_overwrite_inside_a_file(client, workdir):
    path = f"{workdir}/f"
    data = bytearray(os.urandom(5 * CHUNK))
    client.write(path, bytes(data))
    patch = os.urandom(CHUNK + 500)
    client.write(path, patch, offset=2 * CHUNK - 250)
    data[2 * CHUNK - 250 : 3 * CHUNK + 250] = patch
    assert client.read(path) == bytes(data)
    assert client.stat(path).size == len(data)
    with client.open(path, "r+b") as f:
        f.seek(10)
        f.write(b"XY")
    data[10:12] = b"XY"
    assert client.read(path) == bytes(data)


def test_append_and_truncate(client, workdir):
    path = f"{workdir}/f"
    client.write(path, b"a" * 100_000)
    with client.open(path, "ab") as f:
        f.write(b"b" * 50_000)
    assert client.read(path) == b"a" * 100_000 + b"b" * 50_000
    client.truncate(path, 70_000)
    assert client.read(path) == b"a" * 70_000
    client.truncate(path, 3 * CHUNK)  # grows with zeros, never with the bytes cut off before
    assert client.read(path) == b"a" * 70_000 + bytes(3 * CHUNK - 70_000)
    with client.open(path, "wb") as f:  # truncating open
        f.write(b"new")
    assert client.read(path) == b"new"
    with client.open(path, "r+b") as f:
        f.seek(2 * CHUNK)
        f.write(b"!")
    assert client.read(path) == b"new" + bytes(2 * CHUNK - 3) + b"!"


def test_empty_file_and_sparse_write(client, workdir):
    client.write(f"{workdir}/empty", b"")
    assert client.read(f"{workdir}/empty") == b"" and client.stat(f"{workdir}/empty").size == 0
    with client.open(f"{workdir}/sparse", "wb") as f:
        f.seek(5 * CHUNK)
        f.write(b"end")
    assert client.read(f"{workdir}/sparse") == bytes(5 * CHUNK) + b"end"


def test_namespace_calls(client, workdir):
    client.mkdir(f"{workdir}/a/b/c", parents=True)
    client.write(f"{workdir}/a/f1", b"1")
    client.write(f"{workdir}/a/f2", b"22")
    assert client.ls(f"{workdir}/a") == ["b", "f1", "f2"]
    detail = {s.name: s for s in client.ls(f"{workdir}/a", detail=True)}
    assert detail["f2"].size == 2 and detail["b"].is_dir
    client.rename(f"{workdir}/a/f1", f"{workdir}/a/b/moved")
    assert client.read(f"{workdir}/a/b/moved") == b"1"
    assert list(client.walk(f"{workdir}/a")) == [
        (f"{workdir}/a", ["b"], ["f2"]), (f"{workdir}/a/b", ["c"], ["moved"]), (f"{workdir}/a/b/c", [], []),
    ]
    client.remove(f"{workdir}/a", recursive=True)
    assert not client.exists(f"{workdir}/a")


def test_rename_over_an_existing_file(client, workdir):
    client.write(f"{workdir}/src", b"new content")
    client.write(f"{workdir}/dst", b"old content that is longer")
    client.rename(f"{workdir}/src", f"{workdir}/dst")
    assert client.read(f"{workdir}/dst") == b"new content"
    assert client.ls(workdir) == ["dst"]
    client.write(f"{workdir}/other", b"x")
    with pytest.raises(FileExistsError):
        client.rename(f"{workdir}/other", f"{workdir}/dst", replace=False)


def test_large_directory_pages(client, workdir):
    names = [f"n{i:04d}" for i in range(2500)]
    for n in names:
        client.write(f"{workdir}/{n}", b"")
    assert client.ls(workdir) == names


def errno_of(fn):
    with pytest.raises(OSError) as info:
        fn()
    return info.value


def test_errors_carry_the_right_errno(client, workdir):
    e = errno_of(lambda: client.read(f"{workdir}/missing"))
    assert isinstance(e, FileNotFoundError) and isinstance(e, fs3.NotFound) and e.errno == errno.ENOENT
    assert e.filename == f"{workdir}/missing"
    client.mkdir(f"{workdir}/d")
    client.write(f"{workdir}/d/f", b"x")
    assert errno_of(lambda: client.rmdir(f"{workdir}/d")).errno == errno.ENOTEMPTY
    assert errno_of(lambda: client.mkdir(f"{workdir}/d")).errno == errno.EEXIST
    assert errno_of(lambda: client.open(f"{workdir}/d/f", "xb")).errno == errno.EEXIST
    assert errno_of(lambda: client.ls(f"{workdir}/d/f/x")).errno == errno.ENOTDIR
    assert errno_of(lambda: client.mkdir(f"{workdir}/d/f/x")).errno == errno.ENOTDIR
    assert errno_of(lambda: client.read(f"{workdir}/d")).errno == errno.EISDIR
    assert errno_of(lambda: client.unlink(f"{workdir}/d")).errno == errno.EISDIR


@pytest.mark.parametrize("bad, code", [
    ("", errno.EINVAL), ("/x/..", errno.ENOENT), ("/x/./y", errno.ENOENT), ("/a\0b", errno.EINVAL),
    ("/" + "n" * 256, errno.ENAMETOOLONG),
])
def test_invalid_names(client, bad, code):
    assert errno_of(lambda: client.mkdir(bad)).errno == code
    assert errno_of(lambda: client.write(bad, b"x")).errno == code


def test_invalid_names_are_refused_by_the_server_too(client):
    """The server checks names itself, whatever a client sends."""
    from fs3.proto import meta_pb2

    for bad in ("/a\0b", "/" + "n" * 300, ""):
        with pytest.raises(OSError) as info:
            client._run(client._async._meta("Mkdir", meta_pb2.MkdirRequest(path=bad)))
        assert info.value.errno in (errno.EINVAL, errno.ENAMETOOLONG)
    assert client.stat("/").is_dir  # and keeps serving


def test_bad_open_modes(client, workdir):
    for mode in ("rw", "z", "rbt", "wbb"):
        assert errno_of(lambda mode=mode: client.open(f"{workdir}/f", mode)).errno == errno.EINVAL


def test_concurrent_writers_of_different_files(client, workdir):
    from concurrent.futures import ThreadPoolExecutor

    blobs = {f"{workdir}/c{i}": os.urandom(random.randrange(1, 4 * CHUNK)) for i in range(24)}
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda kv: client.write(*kv), blobs.items()))
    for path, data in blobs.items():
        assert client.read(path) == data


def test_rename_onto_an_ancestor_is_enotempty_like_linux(client, workdir):
    """Found by the model test: rename a/f -> a (a directory holding the source) is ENOTEMPTY on Linux,
    not EISDIR."""
    import errno
    client.mkdir(f"{workdir}/a")
    client.write(f"{workdir}/a/f", b"x")
    with pytest.raises(OSError) as err:
        client.rename(f"{workdir}/a/f", f"{workdir}/a")
    assert err.value.errno == errno.ENOTEMPTY
    assert client.read(f"{workdir}/a/f") == b"x"
