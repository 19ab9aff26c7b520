"""Path resolution: from the root (or a directory) to the inode a path names, following symlinks, with
search permission checked on every directory passed."""

from __future__ import annotations

from fs3._errors import Busy, InvalidArgument, NotADirectory, NotFound, TooManyLinks
from fs3._paths import DOTS, split_path
from fs3.proto import meta_pb2

from ..kv import Transaction
from ._permissions import Cred, X, check
from ._records import DIRECTORY, ROOT, SYMLINK, get_dentry, get_inode

MAX_SYMLINKS = 40  # as Linux: more while resolving one path is a loop (ELOOP)


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
    """The inode ``path`` names (see ``walk``)."""
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
