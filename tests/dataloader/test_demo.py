"""`fs3 demo`, the README's first command, end to end in both configurations a user meets: with PyTorch
(batches through a DataLoader) and without it (`pip install .` has no torch: batches from the dataset
itself). The torch-free run is made so by tests/_no_torch, which makes `import torch` fail in the demo
and in every process it starts."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

NO_TORCH = Path(__file__).resolve().parents[1] / "_no_torch"


def _env(tmp_path, torch: bool) -> dict:
    env = dict(os.environ, FS3_STATE_DIR=str(tmp_path / "state"))
    if not torch:
        env["PYTHONPATH"] = os.pathsep.join([str(NO_TORCH), *filter(None, [env.get("PYTHONPATH")])])
    return env


@pytest.mark.parametrize("torch", [pytest.param(True, marks=pytest.mark.needs_torch), False],
                         ids=["with-torch", "without-torch"])
def test_demo_runs_end_to_end(tmp_path, torch):
    env = _env(tmp_path, torch)
    if not torch:  # the blocker works, or this run would prove nothing
        probe = subprocess.run([sys.executable, "-c", "import torch"], capture_output=True, env=env, timeout=60)
        assert probe.returncode != 0 and b"ModuleNotFoundError" in probe.stderr
    proc = subprocess.run([sys.executable, "-m", "fs3", "demo", "--batches", "40", "--no-progress",
                           "--data-dir", str(tmp_path / "demo")], capture_output=True, timeout=300, env=env)
    out = proc.stdout.decode()
    assert proc.returncode == 0, proc.stderr.decode()[-3000:]
    assert "near duplicates of encodings/" in out
    assert "streamed 40 shuffled batches" in out and "tokens/s" in out
    if torch:
        assert "through a DataLoader with 2 workers" in out
    else:
        assert "through the dataset itself (PyTorch is not installed" in out
    assert "a sample begins: " in out
    assert "cluster stopped" in out
