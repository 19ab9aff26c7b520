"""The wheel installs exactly one top-level package, and the component folders land under it."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_wheel_has_one_top_level_package(tmp_path):
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path), str(ROOT)],
        check=True, capture_output=True,
    )
    wheel = next(tmp_path.glob("fs3-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    top = {n.split("/")[0] for n in names}
    assert {t for t in top if not t.endswith(".dist-info")} == {"fs3"}
    for component in ("meta", "storage", "client", "dataloader", "proto", "cli"):
        assert f"fs3/{component}/__init__.py" in names, component
    assert "fs3/meta/ops/rename.py" in names
    assert "fs3/proto/meta.proto" in names
    assert "fs3/meta/dashboard.html" in names  # served by the admin HTTP API
