"""The committed generated code matches what scripts/gen_proto.py makes from the .proto files."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_generated_code_is_fresh(tmp_path):
    subprocess.run([sys.executable, str(ROOT / "scripts" / "gen_proto.py"), "--out", str(tmp_path)], check=True)
    generated = sorted((tmp_path / "fs3" / "proto").glob("*_pb2*.py*"))
    committed = sorted((ROOT / "fs3" / "proto").glob("*_pb2*.py*"))
    assert [p.name for p in generated] == [p.name for p in committed]
    stale = [p.name for p in generated if p.read_bytes() != (ROOT / "fs3" / "proto" / p.name).read_bytes()]
    assert not stale, f"generated code is stale, run scripts/gen_proto.py: {stale}"
