"""The import contracts of pyproject.toml hold, and fail when a floor is broken (scripts/check_imports.py)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import tomllib

ROOT = Path(__file__).resolve().parent.parent


def _checker():
    spec = importlib.util.spec_from_file_location("check_imports", ROOT / "scripts" / "check_imports.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_floor_contract_lists_every_module_of_the_floor():
    """A new module in fs3/ is part of the floor: the contract that keeps the floor from importing the
    components must name it, or it could import anything."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    floor = next(c for c in config["contracts"] if c["name"].startswith("The floor"))
    modules = {f"fs3.{p.stem}" for p in (ROOT / "fs3").glob("_*.py") if p.stem not in ("__init__", "__main__")}
    assert set(floor["source_modules"]) == modules | {"fs3.proto"}


# Each planted import breaks a contract: (the module that gains it, the line, the contract's name, the
# import as the report names it).
PLANTED = [
    ("fs3/cli/_cluster.py", "from fs3.storage import _chunk_meta", "A private module",
     "fs3.cli._cluster -> fs3.storage._chunk_meta"),
    ("fs3/storage/_slots.py", "import fs3.client", "Components stand on each other",
     "fs3.storage._slots -> fs3.client"),
    ("fs3/client/_types.py", "from fs3 import cli", "Components stand on each other",
     "fs3.client._types -> fs3.cli"),
    ("fs3/dataloader/_text.py", "import fs3.meta", "The data loader knows the servers",
     "fs3.dataloader._text -> fs3.meta"),
    ("fs3/_paths.py", "import fs3.storage", "The floor", "fs3._paths -> fs3.storage"),
]


@pytest.fixture(scope="module")
def checker():
    return _checker()


def test_the_contracts_hold(checker, tmp_path):
    result = checker.run_contracts(checker.stage(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "BROKEN" not in result.stdout


@pytest.mark.parametrize(("module", "line", "contract", "named"), PLANTED, ids=[p[0] for p in PLANTED])
def test_a_planted_violation_breaks_its_contract(checker, tmp_path, module, line, contract, named):
    tree = checker.stage(tmp_path)
    path = tree / module
    path.write_text(path.read_text() + f"\n{line}  # planted by the test\n")
    result = checker.run_contracts(tree)
    assert result.returncode != 0
    broken = [row for row in result.stdout.splitlines() if row.endswith(" BROKEN")]
    assert any(row.startswith(contract) for row in broken), result.stdout
    assert named in result.stdout
