"""Files that must stay their owner's: data directories 0700, databases and key files 0600.

Meta's SQLite database holds the cluster secret (which signs node tokens) and the user records; a
storage target holds everybody's chunks and its own database. A local account that can read either
undoes every permission fs3 checks, so the servers create them private and refuse to start, with a
one-line fix, when they find one that is not (an older fs3 made them 0644 in 0755 directories).

Only what a server creates is made private here; a directory it is given is checked, never changed
(``chmod`` on a directory someone else chose, ``/tmp`` or a home, would be a surprise).
"""

from __future__ import annotations

import os
import shlex
import stat
from pathlib import Path

from ._errors import PermissionDenied

__all__ = ["SQLITE_SIDECARS", "check_private", "create_private_file", "make_private_dir",
           "private_database", "tighten_sidecars"]

DIR_MODE = 0o700
FILE_MODE = 0o600
SQLITE_SIDECARS = ("-wal", "-shm", "-journal")  # the files SQLite keeps beside a database


def _refuse(path: Path, what: str, fix: str) -> PermissionDenied:
    return PermissionDenied(f"{path} {what}; refusing to start: {fix}")


def check_private(path: str | os.PathLike, *, directory: bool = False) -> None:
    """Raise ``PermissionDenied`` (one line, with the command that fixes it) unless ``path`` is a
    directory (``directory=True``) or regular file owned by this process's user or root, that group
    and other may neither read, write nor (a directory) enter."""
    path = Path(path)
    st = os.stat(path)
    mode = stat.S_IMODE(st.st_mode)
    if directory and not stat.S_ISDIR(st.st_mode):
        raise _refuse(path, "is not a directory", "move it away")
    if not directory and not stat.S_ISREG(st.st_mode):
        raise _refuse(path, "is not a regular file", "move it away")
    me = os.geteuid()
    if st.st_uid not in (me, 0):
        raise _refuse(path, f"is owned by uid {st.st_uid}, not by this server's user (uid {me})",
                      f"run `chown {me} {shlex.quote(str(path))}` if it is yours, else use another path")
    if not mode & 0o077:
        return
    if directory and mode & stat.S_ISVTX and mode & 0o002:
        raise _refuse(path, f"is a shared directory (mode {mode:04o})",
                      "keep the data in a directory of its own, mode 0700")
    verbs = ((0o044, "read"), (0o022, "write"), (0o011, "enter" if directory else "run"))
    can = [verb for bits, verb in verbs if mode & bits]
    want = DIR_MODE if directory else FILE_MODE
    raise _refuse(path, f"is mode {mode:04o}: group/other may {' and '.join(can)} it",
                  f"run `chmod {want:o} {shlex.quote(str(path))}`")


def make_private_dir(path: str | os.PathLike) -> Path:
    """Create the directory ``path`` and its missing parents, each mode 0700; then check it
    (``check_private``): one that already exists is checked, not changed."""
    path = Path(os.path.abspath(path))
    missing = []
    at = path
    while not at.exists() and at != at.parent:
        missing.append(at)
        at = at.parent
    for d in reversed(missing):
        try:
            d.mkdir(mode=DIR_MODE)
        except FileExistsError:
            continue  # made meanwhile (another server on the same disk): checked below
        os.chmod(d, DIR_MODE)  # whatever the umask took away
    check_private(path, directory=True)
    return path


def create_private_file(path: str | os.PathLike) -> bool:
    """Create ``path`` empty, mode 0600, unless it exists; True when it was created."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, FILE_MODE)
    except FileExistsError:
        return False
    os.close(fd)
    return True


def private_database(path: str | os.PathLike) -> Path:
    """Ready an SQLite database at ``path`` to be opened: its directory made (0700) or checked, the
    database created empty with mode 0600 (SQLite gives its -wal and -shm files the database's
    mode) or checked, and the -wal, -shm and -journal files already there checked."""
    path = Path(path)
    make_private_dir(path.parent)
    create_private_file(path)
    check_private(path)
    for suffix in SQLITE_SIDECARS:
        side = path.with_name(path.name + suffix)
        if side.exists():
            check_private(side)
    return path


def tighten_sidecars(path: str | os.PathLike) -> None:
    """After SQLite opened ``path``: take group/other bits off its -wal, -shm and -journal files, in
    case an SQLite build made them with a mode of its own."""
    path = Path(path)
    for suffix in SQLITE_SIDECARS:
        side = path.with_name(path.name + suffix)
        try:
            mode = stat.S_IMODE(os.stat(side).st_mode)
            if mode & 0o077:
                os.chmod(side, mode & ~0o077)
        except FileNotFoundError:
            continue
