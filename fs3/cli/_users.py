"""User administration: `fs3 user add|list|remove|token|whoami`."""

from __future__ import annotations

import click

from fs3._errors import FS3Error

from ._common import UINT32_MAX, USER_ID, Number, emit_json, format_time, state, table


def _info(u) -> dict:
    return {"name": u.name, "uid": u.uid, "gid": u.gid, "groups": list(u.groups), "admin": u.admin,
            "monitor": u.monitor, "tokens": u.tokens}


def _roles(u) -> str:
    return (", admin" if u.admin else "") + (", monitor" if u.monitor else "")


@click.group()
def user():
    """Users and their tokens (admins only, but `whoami` and a new token for yourself)."""


@user.command("add")
@click.argument("name")
# 0 on the wire means "choose for me", so an explicit 0 (root's ids) is refused rather than quietly replaced
@click.option("--uid", type=Number(int, 1, UINT32_MAX - 1), help="User id (default: the next free one from 1000).")
@click.option("--gid", type=Number(int, 1, UINT32_MAX - 1), help="Primary group id (default: the uid).")
@click.option("--group", "groups", multiple=True, type=USER_ID, help="A supplementary group id (repeatable).")
@click.option("--admin", is_flag=True, help="May administer users and the cluster.")
@click.option("--monitor", is_flag=True,
              help="May read the cluster's state: the admin HTTP API, /metrics and the dashboard (no other rights).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def add(name, uid, gid, groups, admin, monitor, as_json):
    """Create a user and print its token (shown only now: only its hash is stored)."""
    info, token = state().client().add_user(name, uid=uid or 0, gid=gid or 0, groups=groups, admin=admin,
                                            monitor=monitor)
    if as_json:
        emit_json({**_info(info), "token": token})
        return
    click.echo(f"user {info.name} (uid {info.uid}, gid {info.gid}{_roles(info)}) created", err=True)
    click.echo("token (store it now; it cannot be shown again):", err=True)
    click.echo(token)


@user.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def list_(as_json):
    """List users."""
    users = state().client().list_users()
    if as_json:
        emit_json([_info(u) for u in users])
        return
    rows = [[u.name, u.uid, u.gid, ",".join(map(str, u.groups)) or "-", "yes" if u.admin else "",
             "yes" if u.monitor else "", u.tokens, format_time(u.created_ns)] for u in users]
    click.echo(table(rows, ["NAME", "UID", "GID", "GROUPS", "ADMIN", "MONITOR", "TOKENS", "CREATED"]))


@user.command("remove")
@click.argument("names", nargs=-1, required=True)
def remove(names):
    """Remove users (their tokens stop working within seconds)."""
    for name in names:
        state().client().remove_user(name)


@user.command("token")
@click.argument("name")
@click.option("--revoke-others", is_flag=True, help="Invalidate every earlier token of the user.")
def token(name, revoke_others):
    """Issue a new token for NAME (yours, or anyone's for an admin)."""
    click.echo(state().client().issue_token(name, revoke_others=revoke_others))


@user.command("whoami")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def whoami(as_json):
    """Which user your token belongs to, and where the token came from."""
    from fs3._auth import ARGUMENT, locate_token
    from fs3._discovery import cluster_dir

    st = state()
    found = locate_token(st.token, cluster_dir(st.cluster))  # as the client finds it (raises as it would)
    source, where = found.source, found.describe()
    if source == ARGUMENT:  # the --token option, given or read from FS3_TOKEN by click
        given = click.get_current_context().find_root().get_parameter_source("token")
        source = where = "FS3_TOKEN" if given == click.core.ParameterSource.ENVIRONMENT else "--token"
    try:
        u = st.client().whoami()
    except FS3Error as exc:
        if not isinstance(exc, PermissionError):
            raise
        # a refused token: say which one it was
        raise type(exc)(f"{exc.strerror} (the token came from {where})", status=exc.status) from None
    if as_json:
        emit_json({**_info(u), "token_source": source, "token_file": str(found.path) if found.path else None})
    else:
        click.echo(f"{u.name} (uid {u.uid}, gid {u.gid}{_roles(u)}), token from {where}")


def owner_names(client) -> tuple[dict[int, str], dict[int, str]]:
    """Names for uids and gids, as `ls -l` shows owners: from fs3's user registry (all of it for an
    admin; only yourself otherwise). fs3 has no group registry: a gid is named after the user whose uid
    and primary gid both equal it (the user-private-group convention); the rest stay numeric."""
    try:
        users = list(client.list_users())
    except PermissionError:
        try:
            users = [client.whoami()]
        except FS3Error:
            users = []
    uids = {u.uid: u.name for u in users}
    gids = {u.gid: u.name for u in users if u.gid == u.uid}
    return uids, gids
