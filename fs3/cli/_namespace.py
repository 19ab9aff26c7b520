"""Namespace commands: cat, mkdir, rm, mv, stat, ln, chmod, chown, df (ls: _ls.py)."""

from __future__ import annotations

import sys

import click

from fs3._errors import InvalidArgument, IsADirectory

from ._common import (
    HUMAN_H,
    UINT32_MAX,
    client_for,
    emit_json,
    format_time,
    fs3_path,
    human_size,
    mode_string,
    report,
    stat_dict,
)
from ._glob import expand_one
from ._users import owner_names


@click.command()
@click.argument("paths", nargs=-1, required=True)
def cat(paths):
    """Write files to standard output (PATHs may hold wildcards). Goes on past a file it cannot read,
    and exits 1 at the end, as coreutils cat does."""
    out = sys.stdout.buffer
    failed = False
    for text in _each(paths):
        if isinstance(text, OSError):
            failed = True
            continue
        try:
            client, path = client_for(text)
            with client.open(path, "rb", buffering=0) as f:
                buf = bytearray(max(1 << 20, f.inode.layout.chunk_size))
                while n := f.readinto(buf):
                    out.write(memoryview(buf)[:n])
        except BrokenPipeError:
            raise
        except OSError as exc:
            out.flush()
            report(exc)
            failed = True
    out.flush()
    if failed:
        raise click.exceptions.Exit(1)


def _each(texts, *, quiet_missing: bool = False):
    """The operands with their wildcards expanded; a pattern that matches nothing is reported (unless
    ``quiet_missing``) and yielded as its error, so that the command goes on and exits 1."""
    for text in texts:
        try:
            yield from expand_one(text, client_for)
        except FileNotFoundError as exc:
            if not quiet_missing:
                report(exc)
                yield exc


def _octal(mode: str) -> int:
    try:
        bits = int(mode, 8)
    except ValueError:
        bits = -1
    if not 0 <= bits <= 0o7777 or mode.strip().startswith(("-", "+")):
        raise InvalidArgument(f"Invalid mode {mode!r}: expected octal from 0 to 7777, like 644")
    return bits


@click.command()
@click.argument("paths", nargs=-1, required=True)
@click.option("-p", "--parents", is_flag=True, help="Create missing parents; no error if it exists.")
@click.option("-m", "--mode", default="755", help="Permission bits, octal (default 755).")
def mkdir(paths, parents, mode):
    """Create directories."""
    bits = _octal(mode)
    for text in paths:
        client, path = client_for(text)
        client.mkdir(path, bits, parents=parents)


@click.command()
@click.argument("paths", nargs=-1, required=True)
@click.option("-r", "-R", "--recursive", is_flag=True, help="Remove directories and their contents.")
@click.option("-f", "--force", is_flag=True, help="Ignore missing paths (and patterns that match nothing).")
@click.option("--trash", is_flag=True,
              help="Move to /.trash/<user>/ instead (restore with `fs3 mv`; removed after the trash expiry).")
def rm(paths, recursive, force, trash):
    """Remove files (and, with -r, directories). PATHs may hold wildcards (quote them). Goes on past a
    path it cannot remove, says why for each, and exits 1 at the end, as coreutils rm does."""
    failed = False
    for text in _each(paths, quiet_missing=force):
        if isinstance(text, OSError):
            failed = True
            continue
        try:
            _remove(text, recursive, trash)
        except FileNotFoundError as exc:
            if not force:
                report(exc)
                failed = True
        except OSError as exc:
            report(exc)
            failed = True
    if failed:
        raise click.exceptions.Exit(1)


def _remove(text: str, recursive: bool, trash: bool) -> None:
    client, path = client_for(text)
    if recursive or trash:
        if not recursive and client.lstat(path).is_dir:
            raise IsADirectory("Is a directory (use -r to remove it)", path=path)
        client.remove(path, recursive=True, trash=trash)
    else:
        if client.lstat(path).is_dir:
            raise IsADirectory("Is a directory (use -r to remove it)", path=path)
        client.unlink(path)


@click.command()
@click.argument("src")
@click.argument("dst")
@click.option("-n", "--no-clobber", is_flag=True, help="Do not replace an existing destination.")
def mv(src, dst, no_clobber):
    """Rename or move SRC to DST (into DST if it is a directory)."""
    client, src_path = client_for(src)
    dst_address, dst_path = fs3_path(dst)
    if dst_address != fs3_path(src)[0]:
        raise InvalidArgument("Invalid argument: mv cannot move between clusters (use cp, then rm)")
    try:
        if client.stat(dst_path).is_dir:
            dst_path = dst_path.rstrip("/") + "/" + src_path.rstrip("/").rsplit("/", 1)[-1]
    except FileNotFoundError:
        pass
    client.rename(src_path, dst_path, replace=not no_clobber)


@click.command()
@click.argument("paths", nargs=-1, required=True)
@click.option("-L", "--dereference", is_flag=True, help="Follow a symbolic link (default: show the link itself).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def stat(paths, dereference, as_json):
    """Show the status of files, directories and links (PATHs may hold wildcards). Goes on past a path
    it cannot stat and exits 1 at the end; --json gives an object for one PATH, else a list."""
    results, operands, failed = [], 0, False
    for text in _each(paths):
        operands += 1
        if isinstance(text, OSError):
            failed = True
            continue
        try:
            results.append(_stat_one(text, dereference))
        except BrokenPipeError:
            raise
        except OSError as exc:
            report(exc)
            failed = True
    if as_json and results:
        dicts = [stat_dict(st) | {"xattrs": xattrs} for st, xattrs in results]
        emit_json(dicts if operands > 1 else dicts[0])
    elif not as_json:
        _print_stats(results)
    if failed:
        raise click.exceptions.Exit(1)


def _stat_one(text: str, dereference: bool):
    client, path = client_for(text)
    st = client.stat(path, follow_symlinks=dereference)
    follow = dereference or st.type != "symlink"  # a link's own attributes: none to read through it
    names = client.listxattr(path, follow_symlinks=follow) if follow else []
    return st, {name: _xattr_text(client.getxattr(path, name)) for name in names}


def _print_stats(results) -> None:
    for st, xattrs in results:
        target = f" -> {st.symlink_target}" if st.type == "symlink" else ""
        click.echo(f"  Path: {st.path}{target}\n  Type: {st.type}\n  Size: {st.size}\n Inode: {st.inode}"
                   f"\n  Mode: {mode_string(st.type, st.mode)} ({oct(st.mode)})\n Links: {st.nlink}"
                   f"\n   Uid: {st.uid}  Gid: {st.gid}\nModify: {format_time(st.mtime_ns)}"
                   f"\nChange: {format_time(st.ctime_ns)}")
        if st.is_file:
            click.echo(f"Layout: chunk {human_size(st.chunk_size)}, stripe {st.stripe}, "
                       f"chains {','.join(map(str, st.chains))}")
        for name, value in sorted(xattrs.items()):
            click.echo(f" Xattr: {name}={value}")


def _xattr_text(value: bytes) -> str:
    """An attribute's value for a person: its text when it is printable UTF-8, else 0x and hex."""
    try:
        text = value.decode("utf-8")
    except UnicodeDecodeError:
        return "0x" + value.hex()
    return text if text.isprintable() else "0x" + value.hex()


@click.command()
@click.argument("target")
@click.argument("link_name")
@click.option("-s", "--symbolic", is_flag=True, help="Make a symbolic link (TARGET is stored as given).")
def ln(target, link_name, symbolic):
    """Make LINK_NAME another name of TARGET (a hard link), or with -s a symbolic link to it."""
    client, path = client_for(link_name)
    if symbolic:
        client.symlink(fs3_path(target)[1] if target.startswith("fs3://") else target, path)
    else:
        client.link(fs3_path(target)[1], path)


@click.command()
@click.argument("mode")
@click.argument("paths", nargs=-1, required=True)
def chmod(mode, paths):
    """Change permission bits (octal MODE, like 644)."""
    bits = _octal(mode)
    for text in paths:
        client, path = client_for(text)
        client.chmod(path, bits)


@click.command()
@click.argument("owner")
@click.argument("paths", nargs=-1, required=True)
def chown(owner, paths):
    """Change owner and/or group: USER, USER:GROUP or :GROUP, each a number or a name from fs3's user
    registry (a group is named after the user whose private group it is)."""
    uid_text, _, gid_text = owner.partition(":")
    if not uid_text and not gid_text:
        raise InvalidArgument(f"Invalid owner {owner!r}: expected USER, USER:GROUP or :GROUP")
    resolved: dict[int, tuple[int, int]] = {}
    for text in paths:
        client, path = client_for(text)
        if id(client) not in resolved:
            resolved[id(client)] = (_owner_id(client, uid_text, "user", 0), _owner_id(client, gid_text, "group", 1))
        uid, gid = resolved[id(client)]
        client.chown(path, uid, gid)


def _owner_id(client, text: str, what: str, which: int) -> int:
    """-1 (unchanged) for "", the number for digits (checked to fit a uid), else a registry name."""
    if not text:
        return -1
    if text.isdigit():
        if int(text) > UINT32_MAX - 1:  # (uint32)-1 means "unchanged"; beyond, the wire cannot carry it
            raise InvalidArgument(f"Invalid {what} {text!r}: expected a number from 0 to {UINT32_MAX - 1} or a name")
        return int(text)
    names = owner_names(client)[which]
    for number, name in names.items():
        if name == text:
            return number
    raise InvalidArgument(f"Invalid {what} {text!r}: no such fs3 {what} (`fs3 user list`; or give its number)")


@click.command(context_settings=HUMAN_H)
@click.argument("path", required=False)
@click.option("-h", "-H", "--human-readable", "--human", "human", is_flag=True, help="Sizes as 1.5G rather than bytes.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def df(path, human, as_json):
    """Capacity and use of the file system (after replication); with PATH, within the nearest tree
    quota over it, as `df` shows a quota'd directory."""
    from ._common import client_for, state

    client, path = client_for(path) if path else (state().client(), None)
    fs = client.statfs()
    total, used, free, inodes = fs.total_bytes, fs.used_bytes, fs.free_bytes, fs.inodes
    tree = next((q for q in client.quotas(path) if q.directory), None) if path else None
    info = {"total_bytes": total, "used_bytes": used, "free_bytes": free, "inodes": inodes,
            "replicas": fs.replicas, "chunk_size": fs.chunk_size}
    if tree is not None:
        used, inodes = tree.used_bytes, tree.used_inodes
        if tree.max_bytes:
            total, free = tree.max_bytes, max(0, min(free, tree.max_bytes - tree.used_bytes))
        info.update(total_bytes=total, used_bytes=used, free_bytes=free, inodes=inodes,
                    quota={"directory": tree.path, "max_bytes": tree.max_bytes, "max_inodes": tree.max_inodes})
    if as_json:
        emit_json(info)
        return
    size = human_size if human else str
    use = f"{100 * used / total:.0f}%" if total else "-"
    click.echo(f"{'Size':>12} {'Used':>12} {'Avail':>12} {'Use%':>5} {'Inodes':>10} Replicas")
    click.echo(f"{size(total):>12} {size(used):>12} {size(free):>12} {use:>5} {inodes:>10} {fs.replicas}")
    if tree is not None:
        click.echo(f"(within the quota of {tree.path}; `fs3 quota ls {tree.path}` for its limits)", err=True)
