"""Namespace commands: ls, cat, mkdir, rm, mv, stat, ln, chmod, chown, df."""

from __future__ import annotations

import sys

import click

from fs3._errors import InvalidArgument, IsADirectory

from ._common import client_for, emit_json, format_time, fs3_path, human_size, mode_string, stat_dict


@click.command()
@click.argument("paths", nargs=-1)
@click.option("-l", "long", is_flag=True, help="Long listing: type, mode, links, size, time.")
@click.option("-H", "--human", is_flag=True, help="Sizes as 1.5M rather than bytes.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def ls(paths, long, human, as_json):
    """List directories (default fs3:///)."""
    paths = paths or ("fs3:///",)
    out = {}
    for i, text in enumerate(paths):
        client, path = client_for(text)
        entries = client.ls(path, detail=True)
        if as_json:
            out[text] = [stat_dict(e) for e in entries]
            continue
        if len(paths) > 1:
            click.echo(("\n" if i else "") + f"{text}:")
        for e in entries:
            if long:
                size = human_size(e.size) if human else str(e.size)
                click.echo(f"{mode_string(e.type, e.mode)} {e.nlink:>3} {e.uid:>5} {e.gid:>5} {size:>10} "
                           f"{format_time(e.mtime_ns)} {e.name}{'/' if e.is_dir else ''}")
            else:
                click.echo(e.name + ("/" if e.is_dir else ""))
    if as_json:
        emit_json(out if len(paths) > 1 else out[paths[0]])


@click.command()
@click.argument("paths", nargs=-1, required=True)
def cat(paths):
    """Write files to standard output."""
    out = sys.stdout.buffer
    for text in paths:
        client, path = client_for(text)
        with client.open(path, "rb", buffering=0) as f:
            buf = bytearray(max(1 << 20, f.inode.layout.chunk_size))
            while n := f.readinto(buf):
                out.write(memoryview(buf)[:n])
    out.flush()


@click.command()
@click.argument("paths", nargs=-1, required=True)
@click.option("-p", "--parents", is_flag=True, help="Create missing parents; no error if it exists.")
@click.option("-m", "--mode", default="755", help="Permission bits, octal (default 755).")
def mkdir(paths, parents, mode):
    """Create directories."""
    try:
        bits = int(mode, 8)
    except ValueError:
        raise InvalidArgument(f"Invalid mode {mode!r}: expected octal like 755") from None
    for text in paths:
        client, path = client_for(text)
        client.mkdir(path, bits, parents=parents)


@click.command()
@click.argument("paths", nargs=-1, required=True)
@click.option("-r", "-R", "--recursive", is_flag=True, help="Remove directories and their contents.")
@click.option("-f", "--force", is_flag=True, help="Ignore missing paths.")
@click.option("--trash", is_flag=True,
              help="Move to /.trash/<user>/ instead (restore with `fs3 mv`; removed after the trash expiry).")
def rm(paths, recursive, force, trash):
    """Remove files (and, with -r, directories)."""
    for text in paths:
        client, path = client_for(text)
        try:
            if recursive or trash:
                if not recursive and client.lstat(path).is_dir:
                    raise IsADirectory("Is a directory (use -r to remove it)", path=path)
                client.remove(path, recursive=True, trash=trash)
            else:
                if client.lstat(path).is_dir:
                    raise IsADirectory("Is a directory (use -r to remove it)", path=path)
                client.unlink(path)
        except FileNotFoundError:
            if not force:
                raise


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
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def stat(paths, as_json):
    """Show the status of files and directories."""
    results = []
    for text in paths:
        client, path = client_for(text)
        st = client.stat(path)
        results.append((st, {name: _xattr_text(client.getxattr(path, name)) for name in client.listxattr(path)}))
    if as_json:
        dicts = [stat_dict(st) | {"xattrs": xattrs} for st, xattrs in results]
        emit_json(dicts if len(dicts) > 1 else dicts[0])
        return
    for st, xattrs in results:
        click.echo(f"  Path: {st.path}\n  Type: {st.type}\n  Size: {st.size}\n Inode: {st.inode}"
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


def _octal(mode: str) -> int:
    try:
        bits = int(mode, 8)
    except ValueError:
        bits = -1
    if not 0 <= bits <= 0o7777:
        raise InvalidArgument(f"Invalid mode {mode!r}: expected octal like 644")
    return bits


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
    """Change owner and/or group: UID, UID:GID or :GID (numeric)."""
    uid_text, _, gid_text = owner.partition(":")
    try:
        uid = int(uid_text) if uid_text else -1
        gid = int(gid_text) if gid_text else -1
    except ValueError:
        raise InvalidArgument(f"Invalid owner {owner!r}: expected numeric UID, UID:GID or :GID") from None
    for text in paths:
        client, path = client_for(text)
        client.chown(path, uid, gid)


@click.command()
@click.argument("path", required=False)
@click.option("-H", "--human", is_flag=True, help="Sizes as 1.5G rather than bytes.")
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
