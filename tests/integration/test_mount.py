"""`fs3 mount` (FUSE) on a real cluster: shell tools and Python file I/O on the mount, and files
written through the mount read back identically through the client and the CLI, and vice versa."""

from __future__ import annotations

import filecmp
import mmap
import os
import subprocess
from pathlib import Path

import pytest
from _fuse import fs3, mounted


def sh(cmd: str, cwd) -> str:
    proc = subprocess.run(["bash", "-euo", "pipefail", "-c", cmd], cwd=cwd, capture_output=True, timeout=120)
    assert proc.returncode == 0, f"{cmd}: {proc.stderr.decode()}"
    return proc.stdout.decode()


@pytest.fixture(scope="module")
def mnt(cluster, tmp_path_factory):
    where = tmp_path_factory.mktemp("mnt")
    with mounted(cluster, where, log=where.parent / "mount.log"):
        yield where


def test_shell_tools_on_the_mount(mnt, client):
    root = Path(mnt) / "shell"
    sh("mkdir -p shell/a/b && echo hello > shell/a/b/x.txt && cp shell/a/b/x.txt shell/a/y.txt && "
       "mv shell/a/y.txt shell/z.txt && ln shell/z.txt shell/hard.txt && ln -s a/b/x.txt shell/sym && "
       "chmod 640 shell/z.txt && truncate -s 3 shell/hard.txt && seq 1 100000 > shell/seq.txt", mnt)
    assert sh("cat shell/sym", mnt) == "hello\n"
    assert sh("cat shell/z.txt", mnt) == "hel"  # truncated through its other name
    assert sh("stat -c '%a %h %s' shell/z.txt", mnt).split() == ["640", "2", "3"]
    assert sh("readlink shell/sym", mnt).strip() == "a/b/x.txt"
    assert sh("wc -l < shell/seq.txt", mnt).strip() == "100000"
    assert sh("ls shell | sort", mnt).split() == ["a", "hard.txt", "seq.txt", "sym", "z.txt"]
    assert int(sh("df -B1 --output=size . | tail -1", mnt).strip()) > 0
    # what the tools did is what fs3 holds
    assert client.read("/shell/a/b/x.txt") == b"hello\n"
    assert client.stat("/shell/z.txt").mode & 0o777 == 0o640
    assert client.stat("/shell/z.txt").inode == client.stat("/shell/hard.txt").inode
    assert client.readlink("/shell/sym") == "a/b/x.txt"
    sh("rm shell/hard.txt shell/sym && rm -r shell/a && rmdir shell/nonexistent 2>/dev/null || true", mnt)
    assert sorted(client.ls("/shell")) == ["seq.txt", "z.txt"]
    with pytest.raises(OSError) as err:
        os.rmdir(root)
    assert err.value.errno == 39  # ENOTEMPTY, from fs3 through the kernel


def test_python_file_io_and_errors(mnt, client):
    base = Path(mnt) / "py"
    base.mkdir()
    data = os.urandom(3 << 20) + b"tail"
    (base / "blob.bin").write_bytes(data)
    assert (base / "blob.bin").read_bytes() == data
    with open(base / "blob.bin", "r+b") as f:  # random writes and reads on one handle
        f.seek(1 << 20)
        f.write(b"X" * 10)
        f.seek((1 << 20) - 2)
        assert f.read(14) == data[(1 << 20) - 2:(1 << 20)] + b"X" * 10 + data[(1 << 20) + 10:(1 << 20) + 12]
    expected = data[:1 << 20] + b"X" * 10 + data[(1 << 20) + 10:]
    assert client.read("/py/blob.bin") == expected
    with open(base / "log.txt", "a") as f:
        f.write("one\n")
    with open(base / "log.txt", "a") as f:
        f.write("two\n")
    assert (base / "log.txt").read_text() == "one\ntwo\n"
    with pytest.raises(FileExistsError):
        open(base / "log.txt", "x")
    with pytest.raises(FileNotFoundError):
        open(base / "missing")
    os.rename(base / "log.txt", base / "blob.bin")  # replaces
    assert client.read("/py/blob.bin") == b"one\ntwo\n"
    os.utime(base / "blob.bin", ns=(1_000_000_000, 2_000_000_000))
    assert client.stat("/py/blob.bin").mtime_ns == 2_000_000_000


def test_direct_io_on_the_mount(mnt, client):
    path = Path(mnt) / "direct.bin"
    buf = mmap.mmap(-1, 1 << 20)
    buf.write(os.urandom(1 << 20))
    fd = os.open(path, os.O_CREAT | os.O_RDWR | os.O_DIRECT, 0o644)
    try:
        assert os.pwrite(fd, buf, 0) == 1 << 20
    finally:
        os.close(fd)
    client.write("/direct.bin", b"changed by another client", offset=0)  # no page cache to hide it
    back = mmap.mmap(-1, 1 << 20)
    fd = os.open(path, os.O_RDONLY | os.O_DIRECT)
    try:
        assert os.preadv(fd, [back], 0) == 1 << 20
    finally:
        os.close(fd)
    assert back[:25] == b"changed by another client" and back[25:] == buf[25:]


def test_mount_and_cli_and_client_agree_both_ways(mnt, cluster, client, tmp_path):
    src = Path(os.path.dirname(os.__file__)) / "json"
    sh(f"cp -r {src} {mnt}/viamount", mnt)
    out = tmp_path / "cli"
    fs3(cluster, "cp", "-r", "fs3:///viamount", str(out))
    cmp = filecmp.dircmp(src, out, ignore=["__pycache__"])
    assert not cmp.diff_files and not cmp.left_only and not cmp.right_only
    fs3(cluster, "cp", "-r", str(src), "fs3:///viacli")
    for f in sorted(p for p in src.rglob("*.py")):
        rel = f.relative_to(src)
        assert (Path(mnt) / "viacli" / rel).read_bytes() == f.read_bytes()
        assert client.read(f"/viamount/{rel}") == f.read_bytes()


def test_mount_refuses_bad_input(cluster, tmp_path, mnt):
    proc = fs3(cluster, "mount", str(tmp_path / "missing"), check=False)
    assert proc.returncode == 1 and b"not a directory" in proc.stderr and b"Traceback" not in proc.stderr
    proc = fs3(cluster, "mount", str(mnt), check=False)
    assert proc.returncode == 1 and b"already mounted" in proc.stderr
    proc = fs3(cluster, "umount", str(tmp_path), check=False)
    assert proc.returncode == 1 and b"nothing is mounted" in proc.stderr
