"""`fs3 quota`: limits on bytes and inodes per directory tree and per user (see docs/quotas.md)."""

from __future__ import annotations

import click

from fs3._errors import InvalidArgument

from ._common import (
    HUMAN_H,
    INT63_MAX,
    UINT32_MAX,
    client_for,
    emit_json,
    human_size,
    parse_size,
    state,
    table,
)


def _limit(text: str | None, what: str) -> int:
    """A limit from the command line: a size (bytes) or a count; 0, "none" or "unlimited" lift it."""
    if text is None or str(text).strip().lower() in ("0", "none", "unlimited"):
        return 0
    if what == "inodes":
        try:
            value = int(text)
        except ValueError:
            raise InvalidArgument(f"Invalid inode limit {text!r}: expected a whole number") from None
        if not 0 <= value <= INT63_MAX:
            raise InvalidArgument(f"Invalid inode limit {text!r}: expected a whole number from 0 to {INT63_MAX}")
        return value
    return parse_size(text)


def _uid(client, user: str) -> int:
    """A user named by uid or by name (names are looked up among the cluster's users: admins only)."""
    if user.isdigit():
        if int(user) > UINT32_MAX - 1:
            raise InvalidArgument(f"Invalid user {user!r}: expected a uid from 0 to {UINT32_MAX - 1} or a name")
        return int(user)
    me = client.whoami()
    if me.name == user:
        return me.uid
    for info in client.list_users():
        if info.name == user:
            return info.uid
    raise InvalidArgument(f"No such fs3 user {user!r} (see `fs3 user list`)")


def _target(path: str | None, user: str | None):
    if (path is None) == (user is None):
        raise InvalidArgument("Name a directory (PATH) or a user (--user NAME), not both")
    if path is not None:
        client, path = client_for(path)
        return client, path, None
    client = state().client()
    return client, None, _uid(client, user)


def info(q) -> dict:
    return {"kind": "user" if not q.directory else "tree", "directory": q.path or None,
            "directory_inode": q.directory or None, "uid": q.uid if not q.directory else None,
            "max_bytes": q.max_bytes, "used_bytes": q.used_bytes,
            "max_inodes": q.max_inodes, "used_inodes": q.used_inodes}


def _rows(quotas, human: bool) -> str:
    size = human_size if human else str

    def cap(n, fmt=str):
        return fmt(n) if n else "-"

    rows = [[f"tree {q.path or q.directory}" if q.directory else f"uid {q.uid}",
             size(q.used_bytes), cap(q.max_bytes, size), f"{100 * q.used_bytes / q.max_bytes:.0f}%" if q.max_bytes
             else "-", q.used_inodes, cap(q.max_inodes)] for q in quotas]
    return table(rows, ["QUOTA", "USED", "LIMIT", "USE%", "INODES", "ILIMIT"])


@click.group()
def quota():
    """Limits on bytes and inodes per directory tree and per user."""


@quota.command("set")
@click.argument("path", required=False)
@click.option("--user", help="A user quota on this user (name or uid) instead of a tree quota on PATH.")
@click.option("--bytes", "max_bytes", metavar="SIZE", help="Byte limit (e.g. 10G; 0 or none: unlimited).")
@click.option("--inodes", "max_inodes", metavar="N", help="Limit on files, directories and links.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def set_(path, user, max_bytes, max_inodes, as_json):
    """Set the quota of directory tree PATH or of --user (root only). A new quota counts what is there."""
    client, path, uid = _target(path, user)
    if max_bytes is None and max_inodes is None:
        raise InvalidArgument("Give --bytes and/or --inodes (0 lifts a limit; `fs3 quota rm` removes the quota)")
    q = client.set_quota(path, uid=uid, max_bytes=_limit(max_bytes, "bytes"), max_inodes=_limit(max_inodes, "inodes"))
    if as_json:
        emit_json(info(q))
    else:
        click.echo(_rows([q], True))


@quota.command("rm")
@click.argument("path", required=False)
@click.option("--user", help="Remove this user's quota instead.")
def rm(path, user):
    """Remove the quota of directory tree PATH or of --user (root only)."""
    client, path, uid = _target(path, user)
    client.set_quota(path, uid=uid, clear=True)


@quota.command("ls", context_settings=HUMAN_H)
@click.argument("path", required=False)
@click.option("--user", help="This user's quota (root, or yourself).")
@click.option("-h", "-H", "--human-readable", "--human", "human", is_flag=True, help="Sizes as 1.5G rather than bytes.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def ls(path, user, human, as_json):
    """Quotas: those over PATH and yours; --user's; or every quota (root) or yours."""
    if path is not None:
        client, path = client_for(path)
        quotas = client.quotas(path)
    else:
        client = state().client()
        quotas = client.quotas(uid=_uid(client, user) if user else None)
    if as_json:
        emit_json([info(q) for q in quotas])
    elif quotas:
        click.echo(_rows(quotas, human))
    else:
        click.echo("no quota applies", err=True)
