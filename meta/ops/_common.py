"""What every namespace operation shares: the operation context, the caller's credentials and POSIX
permission checks, typed KV access, path resolution (with symlinks), and retry-safe mutations."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from fs3._errors import (
    Busy,
    InvalidArgument,
    NotADirectory,
    NotFound,
    NotPermitted,
    PermissionDenied,
    TooManyLinks,
    error_for,
)
from fs3._layout import DEFAULT_CHUNK_SIZE, DEFAULT_STRIPE
from fs3._paths import DOTS, split_path
from fs3.proto import meta_pb2

from .. import _keys as keys
from ..kv import KVStore, Transaction

_storage_calls = threading.local()


class MustLeaveGroup(BaseException):  # noqa: N818 - not an error: a request to run elsewhere
    """Raised by an operation that would call storage nodes while it runs inside a group of calls
    committed together (meta's call server): the server undoes the call and runs it on a thread
    of its own. A BaseException, so that no error handler on the way mistakes it for a failure."""


@contextmanager
def no_storage_calls() -> Iterator[None]:
    """Operations in this block that would call storage nodes raise ``MustLeaveGroup`` instead."""
    _storage_calls.refused = True
    try:
        yield
    finally:
        _storage_calls.refused = False


def storage_calls_refused() -> bool:
    return getattr(_storage_calls, "refused", False)

ROOT = 1
FILE = meta_pb2.FILE
DIRECTORY = meta_pb2.DIRECTORY
SYMLINK = meta_pb2.SYMLINK

R, W, X = 4, 2, 1
MAX_SYMLINKS = 40  # as Linux: more while resolving one path is a loop (ELOOP)
TRASH = ".trash"


@dataclass(frozen=True)
class Cred:
    """Who is asking: the user behind the token of the call."""

    uid: int
    gid: int
    groups: tuple[int, ...] = ()
    admin: bool = False
    name: str = ""

    @property
    def root(self) -> bool:
        return self.uid == 0

    def in_group(self, gid: int) -> bool:
        return gid == self.gid or gid in self.groups


ROOT_CRED = Cred(0, 0, (), True, "root")


@dataclass
class NamespaceConfig:
    chunk_size: int = DEFAULT_CHUNK_SIZE  # default layout of the root directory
    stripe: int = DEFAULT_STRIPE
    readdir_page: int = 1000              # entries per ReadDir page when the caller names no limit
    session_ttl: float = 60.0             # a write session not renewed for this long is pruned
    trash_expiry: float = 7 * 86400.0     # seconds an entry stays in /.trash before it is removed
    request_ttl: float = 600.0            # how long a mutation's reply is kept for retries


@dataclass
class OpContext:
    """What an operation needs: the store, inode ids, chunk reclamation and a clock."""

    kv: KVStore
    alloc_inode: Callable[[], int]
    chunks: ChunkReclaimer
    config: NamespaceConfig = field(default_factory=NamespaceConfig)
    clock: Callable[[], int] = time.time_ns


class ChunkReclaimer:
    """Removes or shortens a file's chunks on storage (implemented by the server over gRPC)."""

    def remove_chunks(self, inode: meta_pb2.Inode, from_index: int) -> None:
        raise NotImplementedError

    def truncate_chunk(self, inode: meta_pb2.Inode, index: int, length: int) -> None:
        raise NotImplementedError


# -- permissions -------------------------------------------------------------------------------------

def may(inode: meta_pb2.Inode, cred: Cred, want: int) -> bool:
    """POSIX permission check: the owner's bits, else the group's, else the others'; root may do
    anything (but execute a file nobody may execute)."""
    if cred.root:
        return not (want & X and inode.type == FILE and not inode.mode & 0o111)
    if cred.uid == inode.uid:
        bits = inode.mode >> 6
    elif cred.in_group(inode.gid):
        bits = inode.mode >> 3
    else:
        bits = inode.mode
    return bits & want == want


def check(inode: meta_pb2.Inode, cred: Cred, want: int, path: str) -> None:
    if not may(inode, cred, want):
        raise PermissionDenied("Permission denied", path=path)


def check_owner(inode: meta_pb2.Inode, cred: Cred, path: str) -> None:
    if not cred.root and cred.uid != inode.uid:
        raise NotPermitted("Operation not permitted (not the owner)", path=path)


def check_unlink(parent: meta_pb2.Inode, inode: meta_pb2.Inode | None, cred: Cred, path: str) -> None:
    """May ``cred`` take a name out of ``parent``: write and search permission on it, and in a sticky
    directory (like /tmp or /.trash) only the owner of the entry or of the directory may."""
    check(parent, cred, W | X, path)
    if parent.mode & 0o1000 and not cred.root and cred.uid != parent.uid and (
        inode is None or cred.uid != inode.uid
    ):
        raise NotPermitted("Operation not permitted (sticky directory: not the owner)", path=path)


# -- records -----------------------------------------------------------------------------------------

def get_inode(txn: Transaction, ino: int) -> meta_pb2.Inode | None:
    raw = txn.get(keys.inode(ino))
    if raw is None:
        return None
    return meta_pb2.Inode.FromString(raw)


def put_inode(txn: Transaction, inode: meta_pb2.Inode) -> None:
    txn.set(keys.inode(inode.id), inode.SerializeToString())


def get_dentry(txn: Transaction, parent: int, name: str) -> meta_pb2.Dentry | None:
    raw = txn.get(keys.dentry(parent, name))
    return None if raw is None else meta_pb2.Dentry.FromString(raw)


def put_dentry(txn: Transaction, parent: int, name: str, ino: int, kind: int) -> None:
    txn.set(keys.dentry(parent, name), meta_pb2.Dentry(inode=ino, type=kind).SerializeToString())


def has_entries(txn: Transaction, ino: int) -> bool:
    begin, end = keys.prefix_range(keys.dentry_prefix(ino))
    return bool(txn.get_range(begin, end, limit=1))


# -- path resolution ---------------------------------------------------------------------------------

def _root(txn: Transaction, path: str) -> meta_pb2.Inode:
    node = get_inode(txn, ROOT)
    if node is None:
        raise NotFound("No such file or directory (the namespace has no root)", path=path)
    return node


def walk(txn: Transaction, parts: list[str], path: str, cred: Cred, *, follow: bool = True,
         start: meta_pb2.Inode | None = None, hops: list[int] | None = None) -> meta_pb2.Inode:
    """The inode ``parts`` lead to from ``start`` (the root by default), following symlinks (the last
    component's only with ``follow``). Needs search permission on every directory passed: EACCES;
    ENOENT for a missing component, ENOTDIR for one that is not a directory, ELOOP for too many
    symlinks. Components may be ``.`` and ``..`` here (symlink targets carry them)."""
    node = start if start is not None else _root(txn, path)
    hops = hops if hops is not None else [0]
    todo = list(reversed(parts))
    while todo:
        name = todo.pop()
        if node.type != DIRECTORY:
            raise NotADirectory("Not a directory", path=path)
        check(node, cred, X, path)
        if name == ".":
            continue
        if name == "..":
            parent = get_inode(txn, node.parent) if node.id != ROOT else node
            node = parent if parent is not None else node
            continue
        entry = get_dentry(txn, node.id, name)
        if entry is None:
            raise NotFound("No such file or directory", path=path)
        child = get_inode(txn, entry.inode)
        if child is None:
            raise NotFound("No such file or directory (dangling entry)", path=path)
        if child.type == SYMLINK and (todo or follow):
            hops[0] += 1
            if hops[0] > MAX_SYMLINKS:
                raise TooManyLinks("Too many levels of symbolic links", path=path)
            target = child.symlink_target
            if target.startswith("/"):
                node = _root(txn, path)
            todo.extend(reversed([p for p in target.split("/") if p]))
            continue
        node = child
    return node


def resolve(txn: Transaction, path: str, cred: Cred, *, follow: bool = True) -> meta_pb2.Inode:
    return walk(txn, split_path(path), path, cred, follow=follow)


def dot_target(txn: Transaction, path: str, cred: Cred) -> meta_pb2.Inode | None:
    """When ``path`` ends in ``.`` or ``..``: the directory it names (reached as any path is: ENOENT,
    ENOTDIR, EACCES on the way), for the caller to refuse with its own errno (such a path is never a
    new entry). None for any other path."""
    parts = split_path(path)
    if not parts or parts[-1] not in DOTS:
        return None
    return walk(txn, parts, path, cred)


def resolve_parent(txn: Transaction, path: str, cred: Cred) -> tuple[meta_pb2.Inode, str]:
    """The directory that holds the last component of ``path`` (following symlinks on the way), and
    that component."""
    parts = split_path(path)
    if not parts:
        raise Busy("Device or resource busy (the root directory cannot be created, moved or removed)", path=path)
    if parts[-1] in DOTS:  # (operations refuse these first, each with its own errno: see dot_target)
        raise InvalidArgument(f"Invalid argument: {parts[-1]!r} names a directory, not an entry", path=path)
    parent = walk(txn, parts[:-1], path, cred)
    if parent.type != DIRECTORY:
        raise NotADirectory("Not a directory", path=path)
    check(parent, cred, X, path)
    return parent, parts[-1]


def resolve_target(txn: Transaction, path: str, cred: Cred) -> tuple[meta_pb2.Inode, str, meta_pb2.Dentry | None]:
    """Like ``resolve_parent``, but following a symlink in the last component to where it points, for
    opening and creating through symlinks: (the directory, the name in it, its entry or None). When
    the path ends at a directory itself (a link to "/" or to ".."), the entry is that directory's."""
    node = dot_target(txn, path, cred)
    if node is not None:  # ends in . or ..: the directory itself
        return node, "", meta_pb2.Dentry(inode=node.id, type=node.type)
    parent, name = resolve_parent(txn, path, cred)
    hops = [0]
    while True:
        entry = get_dentry(txn, parent.id, name)
        if entry is None or entry.type != SYMLINK:
            return parent, name, entry
        link = get_inode(txn, entry.inode)
        hops[0] += 1
        if link is None or hops[0] > MAX_SYMLINKS:
            raise TooManyLinks("Too many levels of symbolic links", path=path)
        parts = [p for p in link.symlink_target.split("/") if p]
        start = _root(txn, path) if link.symlink_target.startswith("/") else parent
        if not parts or parts[-1] in (".", ".."):
            node = walk(txn, parts, path, cred, start=start, hops=hops)
            return node, "", meta_pb2.Dentry(inode=node.id, type=node.type)
        parent = walk(txn, parts[:-1], path, cred, start=start, hops=hops)
        if parent.type != DIRECTORY:
            raise NotADirectory("Not a directory", path=path)
        check(parent, cred, X, path)
        name = parts[-1]


# -- changes -----------------------------------------------------------------------------------------

def touch(inode: meta_pb2.Inode, now: int, *, data: bool = True) -> None:
    """Record a change: ctime always, mtime when the content (or a directory's entries) changed."""
    inode.ctime_ns = now
    if data:
        inode.mtime_ns = now


def queue_garbage(txn: Transaction, inode: meta_pb2.Inode, now: int) -> None:
    """Hand an unreachable inode to the garbage collector, which reclaims its chunks (or subtree)."""
    txn.clear(keys.inode(inode.id))
    entry = meta_pb2.GarbageEntry(inode=inode, queued_ns=now)
    txn.set(keys.garbage(inode.id), entry.SerializeToString())


def drop_link(txn: Transaction, inode: meta_pb2.Inode, now: int) -> None:
    """One name of ``inode`` went away: free it when it was the last (files and symlinks)."""
    inode.nlink = max(0, inode.nlink - 1)
    touch(inode, now, data=False)
    if inode.nlink > 0:
        put_inode(txn, inode)
    elif inode.type == FILE:
        queue_garbage(txn, inode, now)
    else:
        txn.clear(keys.inode(inode.id))


def drop_directory(txn: Transaction, inode: meta_pb2.Inode, now: int) -> None:
    """A directory left the namespace: an empty one goes at once, a full one to the collector."""
    if has_entries(txn, inode.id):
        queue_garbage(txn, inode, now)
    else:
        txn.clear(keys.inode(inode.id))


# -- retry-safe mutations ----------------------------------------------------------------------------

def once(ctx: OpContext, request_id: str, reply_type, run: Callable[[Transaction], object]):
    """Run a mutation in one transaction, at most once per ``request_id``: a client that lost the
    reply (its meta server died) and sends the request again gets the first reply, not a second
    effect. ``run`` returns a message of ``reply_type`` (or None)."""
    if not request_id:
        return ctx.kv.transact(run)
    key = keys.request(request_id)

    def guarded(txn):
        raw = txn.get_expecting_absent(key)
        if raw is not None:
            applied = meta_pb2.AppliedRequest.FromString(raw)
            if applied.status:
                raise error_for(applied.status, applied.message)
            return reply_type.FromString(applied.reply) if reply_type is not None else None
        result = run(txn)
        record = meta_pb2.AppliedRequest(applied_ns=ctx.clock())
        if result is not None:
            record.reply = result.SerializeToString()
        txn.set(key, record.SerializeToString())
        return result

    return ctx.kv.transact(guarded)
