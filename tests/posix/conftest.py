"""POSIX conformance: real programs run on `fs3 mount` and on a local directory, and the two compared.

``mnt`` is a fresh directory on the module's mount of the session cluster, ``local`` one on the local disk;
a test runs the same thing in both and compares what it sees."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest


def fs3(cluster, *args, check=True, timeout=120):
    proc = subprocess.run([sys.executable, "-m", "fs3", "--cluster", str(cluster.data_dir), *args],
                          capture_output=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"fs3 {' '.join(args)} failed:\n{proc.stderr.decode()}")
    return proc


def sh(cmd: str, cwd, *, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run(["bash", "-euo", "pipefail", "-c", cmd], cwd=cwd, capture_output=True, timeout=120)
    if check:
        assert proc.returncode == 0, f"{cmd}: {proc.stderr.decode()}"
    return proc


@pytest.fixture(scope="module")
def mount_root(cluster, tmp_path_factory):
    if not os.path.exists("/dev/fuse") or not (shutil.which("fusermount3") or shutil.which("fusermount")):
        if os.environ.get("FS3_REQUIRE_FUSE"):
            pytest.fail("FUSE is not usable here (need /dev/fuse and Debian's fuse3)")
        pytest.skip("FUSE not available")
    where = tmp_path_factory.mktemp("posixmnt")
    out = fs3(cluster, "mount", str(where), "--log", str(where.parent / "mount.log"))
    assert b"mounted fs3" in out.stdout
    assert os.path.ismount(where)
    yield where
    fs3(cluster, "umount", str(where), check=False)


@pytest.fixture
def mnt(mount_root) -> Path:
    """A fresh directory on the mount (its fs3 path is ``"/" + mnt.name``)."""
    d = Path(mount_root) / f"posix-{uuid.uuid4().hex[:10]}"
    d.mkdir()
    return d


@pytest.fixture
def local(tmp_path) -> Path:
    d = tmp_path / "local"
    d.mkdir()
    return d
