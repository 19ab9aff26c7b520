"""A file removed while open keeps its data for those that hold it open, on the mount as on a local
disk: Python's TemporaryFile, the shell's `exec 3<>f; rm f`, a writer that goes on after another
process removed its file; and once the last holder closes, the space is reclaimed."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile

from _chunks import chunks_of
from _timing import wait_for

from .conftest import sh


def temporary_file(where) -> bytes:
    with tempfile.TemporaryFile(dir=where) as f:
        f.write(b"scratch " * 1000)
        f.seek(0)
        first = f.read(16)
        f.seek(4000)
        f.write(b"!")
        f.flush()
        os.fsync(f.fileno())
        f.seek(0)
        return first + f.read() + str(os.listdir(where)).encode()


def test_temporary_file_works_as_on_a_local_disk(mnt, local):
    assert temporary_file(mnt) == temporary_file(local)


SHELL = ("echo hello > f; exec 3<>f; rm f; echo more >&3; test -e f || echo gone; cat <&3; "
         "stat -L -c '%s %h' /dev/fd/3; exec 3>&-; echo *")


def test_the_shell_reads_and_writes_a_removed_file_through_its_descriptor(mnt, local):
    assert sh(SHELL, mnt).stdout == sh(SHELL, local).stdout


def removed_while_open(where) -> tuple:
    path = os.path.join(where, "f")
    with open(path, "w+b") as f:
        f.write(b"a" * 100_000)
        f.flush()
        os.unlink(path)
        gone = not os.path.exists(path)
        f.write(b"b" * 10)
        f.flush()
        os.fsync(f.fileno())
        st = os.fstat(f.fileno())
        f.seek(0)
        data = f.read()
        return gone, st.st_size, st.st_nlink, os.pread(f.fileno(), 5, 99_998), len(data), data[-10:]


def test_write_unlink_read_through_the_descriptor(mnt, local):
    assert removed_while_open(mnt) == removed_while_open(local)


WRITER = """
import sys, time
with open(sys.argv[1], "wb", buffering=0) as f:
    f.write(b"x" * (4 << 20))
    print("written", flush=True)
    sys.stdin.readline()          # the file is removed meanwhile
    f.write(b"y" * (4 << 20))
    print("still writing", flush=True)
    sys.stdin.readline()
"""


def test_another_process_keeps_writing_a_removed_file_and_its_space_returns_at_close(mnt, client, cluster):
    path = mnt / "big"
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(path)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline() == "written\n"
        ino = client.stat(f"/{mnt.name}/big").inode
        os.unlink(path)
        assert not path.exists() and "big" not in os.listdir(mnt)
        proc.stdin.write("go\n")
        proc.stdin.flush()
        assert proc.stdout.readline() == "still writing\n"
        wait_for(lambda: chunks_of(cluster.data_dir, ino) > 0, what="the removed file's chunks on storage")
        proc.stdin.write("close\n")
        proc.stdin.flush()
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    # the last close hands the orphan to the garbage collector: its chunks leave storage
    wait_for(lambda: chunks_of(cluster.data_dir, ino) == 0, what="the removed file's chunks reclaimed")


def test_a_file_another_client_removes_stays_whole_for_the_mount_that_holds_it(mnt, client, cluster):
    """Removed through another client (another host) while open for writing here: the descriptor goes on
    writing, fsyncing and reading it, and its space returns at the last close (before: the first fsync
    ended the mount's session, the next write reopened the file by name and got ENOENT)."""
    path = mnt / "shared-scratch"
    with open(path, "w+b", buffering=0) as f:
        f.write(b"a" * 100_000)
        os.fsync(f.fileno())
        ino = client.stat(f"/{mnt.name}/shared-scratch").inode
        client.unlink(f"/{mnt.name}/shared-scratch")  # another client: this mount's kernel does not know
        f.write(b"b" * 10)
        os.fsync(f.fileno())
        f.write(b"c" * 10)
        os.fsync(f.fileno())
        assert os.pread(f.fileno(), 30, 99_990) == b"a" * 10 + b"b" * 10 + b"c" * 10
        assert chunks_of(cluster.data_dir, ino) > 0
    wait_for(lambda: chunks_of(cluster.data_dir, ino) == 0, what="the removed file's chunks reclaimed")
