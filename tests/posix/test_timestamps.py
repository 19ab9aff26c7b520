"""Timestamps on `fs3 mount` against a local directory: touch (UTIME_NOW), touch -a / -m (UTIME_OMIT),
touch -d, utimensat with UTIME_OMIT, times set while a file is open surviving its close (cp -p, tar xpf,
futimens before close), through the mount and through the client."""

from __future__ import annotations

import ctypes
import os
import time
from pathlib import Path

import pytest

from .conftest import sh

UTIME_NOW, UTIME_OMIT = (1 << 30) - 1, (1 << 30) - 2
T1 = 1_000_000_000_123_456_789  # 2001-09-09, with nanoseconds
T2 = 1_200_000_000_987_654_321


class _Timespec(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]


def utimensat(path: Path, atime: tuple[int, int], mtime: tuple[int, int]) -> None:
    """utimensat(2) itself, so UTIME_NOW / UTIME_OMIT can be sent (os.utime cannot)."""
    libc = ctypes.CDLL(None, use_errno=True)
    times = (_Timespec * 2)(_Timespec(*atime), _Timespec(*mtime))
    if libc.utimensat(-100, os.fsencode(path), times, 0) != 0:  # AT_FDCWD
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err), str(path))


def times(p: Path) -> tuple[int, int]:
    st = os.stat(p)
    return st.st_atime_ns, st.st_mtime_ns


def recent(ns: int) -> bool:
    return abs(ns - time.time_ns()) < 60 * 10**9


def test_touch_sets_now_not_1970(mnt, local):
    for d in (mnt, local):
        (d / "f").write_bytes(b"x")
        os.utime(d / "f", ns=(T1, T1))
        sh("touch f", d)
        a, m = times(d / "f")
        assert recent(a) and recent(m), (d, a, m)


@pytest.mark.parametrize("flag,changed", [("-a", 0), ("-m", 1)])
def test_touch_a_and_m_leave_the_other_time(mnt, local, flag, changed):
    seen = []
    for d in (mnt, local):
        (d / "f").write_bytes(b"x")
        os.utime(d / "f", ns=(T1, T2))
        sh(f"touch {flag} f", d)
        now = times(d / "f")
        assert recent(now[changed]), (d, now)
        assert now[1 - changed] == (T1, T2)[1 - changed], (d, now)  # untouched to the nanosecond
        seen.append(now[1 - changed])
    assert seen[0] == seen[1]


def test_touch_d_and_utimensat_omit_match_local(mnt, local):
    seen = []
    for d in (mnt, local):
        (d / "f").write_bytes(b"x")
        sh("touch -d '2003-04-05 06:07:08.123456789' f", d)
        first = times(d / "f")
        utimensat(d / "f", (0, UTIME_OMIT), (T1 // 10**9, T1 % 10**9))  # mtime only
        second = times(d / "f")
        utimensat(d / "f", (T2 // 10**9, T2 % 10**9), (0, UTIME_OMIT))  # atime only
        third = times(d / "f")
        utimensat(d / "f", (0, UTIME_OMIT), (0, UTIME_OMIT))  # nothing
        utimensat(d / "f", (0, UTIME_OMIT), (0, UTIME_NOW))
        fourth = times(d / "f")
        assert recent(fourth[1]) and fourth[0] == T2
        seen.append((first, second, third))
    assert seen[0] == seen[1]
    assert seen[0][1] == (seen[0][0][0], T1) and seen[0][2] == (T2, T1)


def test_times_set_on_an_open_file_survive_close(mnt, local):
    seen = []
    for d in (mnt, local):
        with open(d / "by-path", "wb") as f:  # set by path while a writer holds the file
            f.write(b"a" * 100_000)
            os.utime(d / "by-path", ns=(T1, T2))
        with open(d / "by-fd", "wb") as f:  # futimens before close, as cp -p and tar do
            f.write(b"b" * 5000)
            f.flush()
            os.utime(f.fileno(), ns=(T2, T1))
        with open(d / "then-written", "wb") as f:  # a write after the set moves mtime again
            f.write(b"c")
            f.flush()
            os.utime(d / "then-written", ns=(T1, T1))
            f.write(b"d")
        assert recent(times(d / "then-written")[1]), d
        seen.append((times(d / "by-path"), times(d / "by-fd")))  # (before reads: a local disk's relatime)
        assert (d / "by-path").read_bytes() == b"a" * 100_000 and (d / "then-written").read_bytes() == b"cd"
    assert seen[0] == seen[1] == ((T1, T2), (T2, T1))


def test_cp_p_and_tar_xpf_keep_mtimes(mnt, local, tmp_path):
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    for i, name in enumerate(["a.txt", "sub/b.bin", "sub/c"]):
        (src / name).write_bytes(os.urandom(1000 * (i + 1) ** 3))
        os.utime(src / name, ns=(T1 + i * 10**9, T2 + i * 10**9))
    os.utime(src / "sub", ns=(T1, T1))
    sh(f"tar --format=posix -cf {tmp_path}/t.tar -C {src} .", tmp_path)
    for d in (mnt, local):
        sh(f"cp -p {src}/a.txt {src}/sub/b.bin .", d)
        sh(f"mkdir x && tar xpf {tmp_path}/t.tar -C x", d)
        sh("tar --format=posix -cf again.tar -C x . && mkdir y && tar xpf again.tar -C y", d)  # tar cf on it
    for name in ["a.txt", "b.bin", "x/a.txt", "x/sub/b.bin", "x/sub/c", "x/sub", "y/sub/c", "y/a.txt"]:
        m, lo = os.stat(mnt / name), os.stat(local / name)
        assert m.st_mtime_ns == lo.st_mtime_ns, name
        assert (mnt / name).is_dir() or (mnt / name).read_bytes() == (local / name).read_bytes()
    assert os.stat(mnt / "x/sub/c").st_mtime_ns == T2 + 2 * 10**9


def test_reads_leave_atime(mnt):
    """The atime policy (docs/consistency.md, Timestamps): only creation and explicit setting move it."""
    (mnt / "f").write_bytes(b"data")
    os.utime(mnt / "f", ns=(T1, T2))
    assert (mnt / "f").read_bytes() == b"data"
    assert times(mnt / "f") == (T1, T2)


def test_client_utime_omit_and_set_during_a_write(client, workdir):
    path = f"{workdir}/t"
    client.write(path, b"x")
    client.utime(path, (T1, T2))
    assert (client.stat(path).atime_ns, client.stat(path).mtime_ns) == (T1, T2)
    client.utime(path, (None, T1))
    assert (client.stat(path).atime_ns, client.stat(path).mtime_ns) == (T1, T1)
    client.utime(path, (T2, None))
    assert (client.stat(path).atime_ns, client.stat(path).mtime_ns) == (T2, T1)
    with client.open(path, "r+b") as f:  # set while open for writing: the close keeps it
        f.write(b"y" * 3000)
        client.utime(path, (T1, T2))
    st = client.stat(path)
    assert (st.atime_ns, st.mtime_ns, st.size) == (T1, T2, 3000)
    with client.open(path, "r+b") as f:  # a later writer stamps its own time again
        f.write(b"z")
    assert recent(client.stat(path).mtime_ns)
