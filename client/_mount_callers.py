"""Who a FUSE request comes from, for ``fs3 mount``: the calling process's uid, gid and supplementary
groups, so that what a local user makes through the mount is theirs (``Caller`` in meta's requests).

Meta honours a caller only from an admin's token (root's, or a mount's admin): a mount with a plain
user's token creates as that user and sends no caller (``acts_for_callers``)."""

from __future__ import annotations

import logging

import mfusepy

from ._client import Client

log = logging.getLogger("fs3.mount")


def acts_for_callers(client: Client) -> bool:
    """Whether the mount's token may create on behalf of its callers (an admin's, or root's)."""
    try:
        me = client.whoami()
    except OSError as exc:  # an older meta: create as the token's user, as before
        log.warning("cannot tell whether this mount's token is an admin's (%s): files made through it "
                    "belong to the token's user", exc)
        return False
    return bool(me.admin or me.uid == 0)


def groups_of(pid: int) -> tuple[int, ...]:
    """A process's supplementary groups (/proc/PID/status), () when it is gone or unreadable."""
    if pid <= 0:
        return ()
    try:
        with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("Groups:"):
                    return tuple(int(g) for g in line.split()[1:])
    except (OSError, ValueError):
        pass
    return ()


def current_caller() -> tuple[int, int, tuple[int, ...]]:
    """(uid, gid, groups) of the process whose FUSE request is being answered on this thread."""
    uid, gid, pid = mfusepy.fuse_get_context()
    return uid, gid, groups_of(pid)
