"""POSIX conformance: real programs run on `fs3 mount` and on a local directory, and the two compared.

``mnt`` is a fresh directory on the module's mount of the session cluster, ``local`` one on the local disk;
a test runs the same thing in both and compares what it sees."""

from __future__ import annotations

import subprocess
import uuid
from pathlib import Path

import pytest
from _fuse import fs3, mounted  # noqa: F401 - fs3 is for the tests here


def sh(cmd: str, cwd, *, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run(["bash", "-euo", "pipefail", "-c", cmd], cwd=cwd, capture_output=True, timeout=120)
    if check:
        assert proc.returncode == 0, f"{cmd}: {proc.stderr.decode()}"
    return proc


@pytest.fixture(scope="module")
def mount_root(cluster, tmp_path_factory):
    where = tmp_path_factory.mktemp("posixmnt")
    with mounted(cluster, where, log=where.parent / "mount.log"):
        yield where


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
