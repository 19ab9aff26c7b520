"""A failed write never shows as data (issue 16, item 7): a write past a tree quota fails with EDQUOT at
``write``, ``flush``/``fsync`` or ``close`` (through the client and through the mount: dd, Python, a
shell redirect), and the file keeps only what was acknowledged, a prefix of what was written, never a
longer file of zeros."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from .conftest import fs3, sh

KIB = 1024
LIMIT = 256 * KIB


def _fails_with_edquot(steps) -> list[str]:
    """Run ``steps`` (name, callable) in order until one raises; the names that raised EDQUOT."""
    failed = []
    for name, step in steps:
        try:
            step()
        except OSError as exc:
            assert exc.errno == errno.EDQUOT, (name, exc)
            failed.append(name)
    return failed


def _a_prefix(got: bytes, data: bytes) -> None:
    assert len(got) <= LIMIT, len(got)
    assert got == data[:len(got)], "the file holds bytes nobody wrote"


@pytest.fixture
def limited(cluster, mnt):
    """``mnt`` under a tree quota of LIMIT bytes."""
    fs3(cluster, "quota", "set", f"fs3:///{mnt.name}", "--bytes", str(LIMIT))
    yield mnt
    fs3(cluster, "quota", "rm", f"fs3:///{mnt.name}", check=False)


def test_through_the_client_the_error_reaches_write_or_close(client, limited):
    base = "/" + limited.name
    data = os.urandom(4 * LIMIT)
    f = client.open(f"{base}/big", "wb")
    failed = _fails_with_edquot([("write", lambda: f.write(data)), ("close", f.close)])
    assert failed and f.closed
    _a_prefix(client.read(f"{base}/big"), data)
    assert client.stat(f"{base}/big").size == len(client.read(f"{base}/big"))
    client.remove(f"{base}/big")
    client.write(f"{base}/filler", b"f" * (LIMIT - 2 * KIB))
    small = data[: 8 * KIB]  # fits in the buffer: the failure can only show at close
    f = client.open(f"{base}/late", "wb")
    assert _fails_with_edquot([("write", lambda: f.write(small)), ("close", f.close)]) == ["close"]
    _a_prefix(client.read(f"{base}/late"), small)
    assert client.stat(f"{base}/late").size <= 2 * KIB


def test_through_the_mount_python_sees_edquot_and_no_zeros(limited):
    data = os.urandom(4 * LIMIT)
    fd = os.open(limited / "py", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    steps = [(f"write{i}", lambda i=i: os.write(fd, data[i * 64 * KIB:(i + 1) * 64 * KIB])) for i in range(16)]
    failed = _fails_with_edquot([*steps, ("fsync", lambda: os.fsync(fd)), ("close", lambda: os.close(fd))])
    assert "fsync" in failed, failed  # the last writes' failure reaches fsync
    _a_prefix((limited / "py").read_bytes(), data)
    with pytest.raises(OSError) as exc:  # closed either way
        os.fstat(fd)
    assert exc.value.errno == errno.EBADF
    # the quota all but full, whatever of py storage took (its writes may have failed whole)
    (limited / "py").unlink()
    (limited / "filler").write_bytes(b"f" * (LIMIT - 2 * KIB))
    # a write small enough to wait in the mount's buffer fails at close(2)
    fd = os.open(limited / "late", os.O_WRONLY | os.O_CREAT, 0o644)
    assert _fails_with_edquot([("write", lambda: os.write(fd, data[:4 * KIB])),
                               ("close", lambda: os.close(fd))]) == ["close"]
    assert (limited / "late").stat().st_size == 0
    # ...and so does one whose buffer a utime sent on (cp -p sets times before it closes)
    fd = os.open(limited / "timed", os.O_WRONLY | os.O_CREAT, 0o644)
    os.write(fd, data[:4 * KIB])
    os.utime(limited / "timed", ns=(10**18, 10**18))
    assert _fails_with_edquot([("close", lambda: os.close(fd))]) == ["close"]
    assert (limited / "timed").stat().st_size == 0 and (limited / "timed").stat().st_mtime_ns == 10**18


def test_through_the_mount_dd_and_a_shell_fail_and_keep_a_prefix(limited, tmp_path):
    src = tmp_path / "src"
    data = os.urandom(3 * LIMIT)
    src.write_bytes(data)
    out = sh(f"dd if={src} of=dd.out bs=64K conv=fsync", limited, check=False)
    assert out.returncode != 0 and b"quota" in out.stderr.lower(), out.stderr
    _a_prefix((limited / "dd.out").read_bytes(), data)
    (limited / "dd.out").unlink()
    out = sh(f"cat {src} > cat.out", limited, check=False)
    assert out.returncode != 0 and b"quota" in out.stderr.lower(), out.stderr
    _a_prefix((limited / "cat.out").read_bytes(), data)
    sizes = [p.stat().st_size for p in Path(limited).iterdir()]
    assert sum(sizes) <= LIMIT
