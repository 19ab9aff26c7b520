"""Namespace operations, one per module; each runs in its own KV transaction(s)."""

from __future__ import annotations

from ._common import ROOT, ChunkReclaimer, NamespaceConfig, OpContext
from .close import close_file
from .mkdir import mkdir
from .open import open_file
from .readdir import readdir
from .remove import remove
from .rename import rename
from .stat import stat
from .truncate import truncate

__all__ = [
    "ROOT", "ChunkReclaimer", "NamespaceConfig", "OpContext",
    "close_file", "mkdir", "open_file", "readdir", "remove", "rename", "stat", "truncate",
]
