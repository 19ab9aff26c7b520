"""`fs3 mount` for tests: the CLI against a cluster, and a mount that is there for a ``with`` block
(``from _fuse import fs3, mounted``). A machine without FUSE skips the test, unless FS3_REQUIRE_FUSE
says it must not."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest


def fs3(cluster, *args, check=True, timeout=120):
    """``fs3 --cluster DATA ARGS...`` (its output captured); fails the test on a non-zero exit."""
    proc = subprocess.run([sys.executable, "-m", "fs3", "--cluster", str(cluster.data_dir), *args],
                          capture_output=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"fs3 {' '.join(args)} failed:\n{proc.stderr.decode()}")
    return proc


def need_fuse() -> None:
    if not os.path.exists("/dev/fuse") or not (shutil.which("fusermount3") or shutil.which("fusermount")):
        if os.environ.get("FS3_REQUIRE_FUSE"):
            pytest.fail("FUSE is not usable here (need /dev/fuse and Debian's fuse3)")
        pytest.skip("FUSE not available")


@contextlib.contextmanager
def mounted(cluster, where: Path, *options: str, log: Path | None = None):
    """``cluster`` mounted at ``where`` (with ``options``) for the block, unmounted after it."""
    need_fuse()
    log = log if log is not None else where.parent / f"{where.name}.log"
    out = fs3(cluster, "mount", str(where), *options, "--log", str(log))
    assert b"mounted fs3" in out.stdout
    assert os.path.ismount(where)
    try:
        yield where
    finally:
        fs3(cluster, "umount", str(where), check=False)
