"""Type-check fs3's floor (fs3/*.py) and the client with mypy (`[tool.mypy]` in pyproject.toml).

As for the import contracts (scripts/check_imports.py), the installed layout is staged first: the client
lives in client/ but is the module fs3.client, which mypy cannot see through the editable install.
Reported paths are mapped back to the working tree.

    python scripts/check_types.py            # exit status 0 when mypy finds nothing
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from check_imports import ROOT, _layout, stage  # noqa: E402 - a sibling script, not a package

CHECKED_PACKAGES = ["fs3.client"]  # beside every module of the floor (fs3/*.py)


def main() -> int:
    floor = sorted(p.stem for p in (ROOT / "fs3").glob("*.py") if p.stem != "__main__")
    modules = [f"fs3.{m}" if m != "__init__" else "fs3" for m in floor]
    with tempfile.TemporaryDirectory(prefix="fs3-types-") as tmp:
        tree = stage(Path(tmp))
        args = [sys.executable, "-m", "mypy", "--config-file", str(ROOT / "pyproject.toml")]
        for m in modules:
            args += ["-m", m]
        for p in CHECKED_PACKAGES:
            args += ["-p", p]
        result = subprocess.run(args, cwd=tree, capture_output=True, text=True)
    out = result.stdout
    # staged paths (fs3/client/_x.py) back to the source tree (client/_x.py)
    for package, folder in sorted(_layout().items(), key=lambda kv: -len(kv[0])):
        staged = package.replace(".", "/") + "/"
        out = out.replace(staged, folder.relative_to(ROOT).as_posix() + "/")
    sys.stdout.write(out)
    sys.stderr.write(result.stderr)
    return result.returncode


if __name__ == "__main__":
    sys.exit(main())
