"""Path and name rules of the fs3 namespace, shared by the client (to fail early) and meta (to enforce).

Paths are absolute, '/'-separated, UTF-8. Empty components (``a//b``, a trailing ``/``) are ignored;
``.`` and ``..`` components are resolved by meta as POSIX does (``..`` of the root is the root, and
``..`` after a symlink leaves the symlink's target, not its directory). A path whose last component is
``.`` or ``..`` names a directory, never a new entry: creating, linking, removing or renaming it gets
the errno Linux gives.
"""

from __future__ import annotations

from ._errors import InvalidArgument, NameTooLong

NAME_MAX = 255
DOTS = (".", "..")
PATH_MAX = 4096   # a symlink's target is shorter (Linux's PATH_MAX, its NUL included)
# A path is at most this long. A local file system limits each name and each path one call passes (the
# kernel refuses a longer one), not how deep a tree goes: a program reaches below 4 KiB with relative
# paths. fs3 mount turns those into paths from the root, which grow with the depth, so the namespace
# allows far longer ones (the mount's callers are held to PATH_MAX by their kernel).
TREE_PATH_MAX = 64 * 1024


def check_name(name: str, path: str | None = None) -> str:
    """Raise unless ``name`` may be a directory entry; return it unchanged."""
    where = path if path is not None else name
    if not name:
        raise InvalidArgument("Invalid name: empty", path=where)
    if name in (".", ".."):
        raise InvalidArgument(f"Invalid name {name!r}: '.' and '..' are not allowed", path=where)
    if "/" in name:
        raise InvalidArgument("Invalid name: contains '/'", path=where)
    if "\0" in name:
        raise InvalidArgument("Invalid name: contains NUL", path=where)
    try:
        size = len(name.encode("utf-8"))
    except UnicodeEncodeError:
        raise InvalidArgument("Invalid name: not valid UTF-8", path=where) from None
    if size > NAME_MAX:
        raise NameTooLong(f"File name too long ({size} bytes, limit {NAME_MAX})", path=where)
    return name


def split_path(path: str) -> list[str]:
    """Components of an absolute path, each checked; ``[]`` is the root."""
    if not isinstance(path, str):
        raise InvalidArgument(f"Invalid path: expected str, got {type(path).__name__}")
    if not path:
        raise InvalidArgument("Invalid path: empty", path=path)
    if "\0" in path:
        raise InvalidArgument("Invalid path: contains NUL", path=path)
    try:
        size = len(path.encode("utf-8"))
    except UnicodeEncodeError:
        raise InvalidArgument("Invalid path: not valid UTF-8", path=path) from None
    if size > TREE_PATH_MAX:
        raise NameTooLong(f"File name too long (path of {size} bytes, limit {TREE_PATH_MAX})", path=path[:PATH_MAX])
    return [part if part in DOTS else check_name(part, path) for part in path.split("/") if part]


def normalize(path: str) -> str:
    """The canonical form of a path: ``/a/b``, or ``/`` for the root."""
    return "/" + "/".join(split_path(path))
