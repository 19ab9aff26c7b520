"""Run Python as where PyTorch is not installed (what `pip install .` gives, without the torch extra):
with this directory on PYTHONPATH, `import torch` raises ModuleNotFoundError in this interpreter and in
every process it starts that inherits the environment.

    PYTHONPATH=tests/_no_torch python -m pytest    # the suite as a user without torch runs it

(It shadows any other sitecustomize module on the path; none is installed here.)
"""

from __future__ import annotations

import sys


class _NoTorch:
    """A meta path finder in front of all others that refuses torch and its submodules."""

    def find_spec(self, name, path=None, target=None):
        if name == "torch" or name.startswith("torch."):
            raise ModuleNotFoundError(f"No module named {name!r} (blocked by tests/_no_torch)", name=name)
        return None


sys.meta_path.insert(0, _NoTorch())
