"""Namespace operations, one per module; each runs in its own KV transaction(s) and takes the
caller's credentials (``Cred``) for POSIX permission checks."""

from __future__ import annotations

from ._common import (
    ROOT,
    ROOT_CRED,
    ChunkReclaimer,
    Cred,
    MustLeaveGroup,
    NamespaceConfig,
    OpContext,
    no_storage_calls,
)
from .close import close_file, prune_sessions, renew_sessions
from .link import link, symlink
from .mkdir import mkdir
from .open import open_file
from .readdir import readdir
from .remove import remove
from .rename import rename
from .setattr import setattr_
from .stat import batch_stat, names_something, readlink, stat
from .statfs import statfs
from .truncate import truncate

__all__ = [
    "ROOT", "ROOT_CRED", "ChunkReclaimer", "Cred", "MustLeaveGroup", "NamespaceConfig", "OpContext",
    "no_storage_calls",
    "batch_stat", "close_file", "link", "mkdir", "names_something", "open_file", "prune_sessions", "readdir",
    "readlink",
    "remove", "rename", "renew_sessions", "setattr_", "stat", "statfs", "symlink", "truncate",
]
