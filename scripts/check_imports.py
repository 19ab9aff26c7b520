"""Check fs3's import contracts (the floors of the house, `[tool.importlinter]` in pyproject.toml).

The component folders install under one namespace by a package-directory mapping (meta/ -> fs3.meta, ...),
which import-linter cannot follow in an editable install. So the installed layout is staged first: every
package's modules are copied into a temporary tree as a wheel would lay them out, and import-linter runs
over that tree in an interpreter that sees neither the editable install nor the working directory.

    python scripts/check_imports.py          # exit status 0 when every contract is kept
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parent.parent


def _layout() -> dict[str, Path]:
    """Each package of the wheel and the folder it comes from, as pyproject.toml maps them."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    dirs = config.get("package-dir", {})
    out = {}
    for package in config["packages"]:
        if package in dirs:
            out[package] = ROOT / dirs[package]
            continue
        parent, _, leaf = package.rpartition(".")  # a subpackage of a mapped package
        while parent and parent not in dirs:
            parent, _, more = parent.rpartition(".")
            leaf = f"{more}.{leaf}"
        base = ROOT / dirs[parent] if parent else ROOT
        out[package] = base.joinpath(*leaf.split("."))
    return out


def stage(dest: Path) -> Path:
    """Copy the packages' modules into ``dest`` as installed; returns ``dest``."""
    for package, folder in _layout().items():
        target = dest.joinpath(*package.split("."))
        target.mkdir(parents=True, exist_ok=True)
        for module in [*folder.glob("*.py"), *folder.glob("*.pyi")]:  # (type stubs: the protobuf schemas)
            shutil.copy2(module, target / module.name)
    return dest


def run_contracts(tree: Path) -> subprocess.CompletedProcess:
    """Run import-linter over a staged tree. ``-S``: no site hooks, so the editable install's import
    finder cannot redirect ``fs3`` to the working copy; the tree comes first on the path."""
    site = sysconfig.get_paths()["purelib"]
    code = ("import sys; from importlinter.cli import lint_imports_command; "
            f"sys.argv = ['lint-imports', '--no-cache', {str(ROOT / 'pyproject.toml')!r}]; lint_imports_command()")
    return subprocess.run(
        [sys.executable, "-S", "-c", code], cwd=tree, capture_output=True, text=True,
        env={"PYTHONPATH": f"{tree}:{site}", "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"},
    )


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="fs3-imports-") as tmp:
        result = run_contracts(stage(Path(tmp)))
    sys.stdout.write(result.stdout)
    sys.stderr.write(result.stderr)
    return result.returncode


if __name__ == "__main__":
    sys.exit(main())
