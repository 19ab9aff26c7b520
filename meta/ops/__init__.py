"""Namespace operations, one per module, each ``op(ctx, cred, request) -> reply`` over the Meta
service's own messages (fs3/proto/meta.proto), and ``OPERATIONS``, the table that both of meta's
boundaries (gRPC and the framed call listener) serve them from.

Private modules by concern: ``_context`` (OpContext, NamespaceConfig, ChunkReclaimer), ``_permissions``
(Cred, POSIX checks), ``_records`` (typed KV access), ``_walk`` (path resolution), ``_changes`` (times,
links, garbage), ``_idempotence`` (request ids), ``_group`` (group commits and storage calls),
``_table`` (the dispatch table). Besides the calls, meta's own work (routing calls, the garbage
collector, the inode allocator) uses ``names_something``, ``prune_sessions``, ``set_length`` and the
record helpers below, which keep plain signatures and are not calls."""

from __future__ import annotations

from ._changes import drop_directory, drop_link, queue_garbage
from ._context import ChunkReclaimer, NamespaceConfig, OpContext
from ._group import MustLeaveGroup, no_storage_calls
from ._permissions import ROOT_CRED, Cred
from ._records import DIRECTORY, FILE, ROOT, SYMLINK, TRASH, get_dentry, get_inode, put_inode
from ._table import OPERATIONS, Operation
from .capabilities import renew_capabilities
from .close import close_file, prune_sessions, renew_sessions
from .link import link, symlink
from .mkdir import mkdir
from .open import open_file
from .quota import extend_write, get_quota, set_quota
from .readdir import readdir
from .remove import remove
from .rename import rename
from .setattr import setattr_
from .stat import batch_stat, names_something, readlink, stat
from .statfs import statfs
from .truncate import set_length, truncate

__all__ = [
    "OPERATIONS", "ROOT", "ROOT_CRED", "ChunkReclaimer", "Cred", "MustLeaveGroup", "NamespaceConfig",
    "OpContext", "Operation", "no_storage_calls",
    "batch_stat", "close_file", "extend_write", "get_quota", "link", "mkdir", "open_file", "readdir", "readlink", "remove", "rename",
    "renew_capabilities", "renew_sessions", "set_quota", "setattr_", "stat", "statfs", "symlink", "truncate",
    "names_something", "prune_sessions", "set_length",
    "DIRECTORY", "FILE", "SYMLINK", "TRASH", "drop_directory", "drop_link", "get_dentry", "get_inode",
    "put_inode", "queue_garbage",
]
