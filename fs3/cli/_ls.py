"""`fs3 ls`: list directories as coreutils `ls` does (-l, -a, -R, -d, -h), plus --json for scripts."""

from __future__ import annotations

import click

from ._common import HUMAN_H, client_for, emit_json, format_time, human_size, mode_string, report, stat_dict
from ._glob import expand_one
from ._users import owner_names


def _visible(name: str, show_all: bool) -> bool:
    return show_all or not name.startswith(".")


class _Lister:
    """One `ls` invocation's output: how entries look, and the owner names looked up once per cluster."""

    def __init__(self, long: bool, human: bool):
        self.long, self.human = long, human
        self.echoed = False  # whether anything was printed yet (a heading after it takes a blank line)
        self._names: dict[int, tuple[dict, dict]] = {}

    def echo(self, line: str) -> None:
        click.echo(line)
        self.echoed = True

    def line(self, client, st, name: str) -> str:
        shown = name + ("/" if st.is_dir and not name.endswith("/") else "")
        if not self.long:
            return shown
        if id(client) not in self._names:
            self._names[id(client)] = owner_names(client)
        users, groups = self._names[id(client)]
        size = human_size(st.size) if self.human else str(st.size)
        target = f" -> {st.symlink_target}" if st.type == "symlink" else ""
        return (f"{mode_string(st.type, st.mode)} {st.nlink:>3} {users.get(st.uid, str(st.uid)):<8} "
                f"{groups.get(st.gid, str(st.gid)):<8} {size:>10} {format_time(st.mtime_ns)} {shown}{target}")


@click.command(context_settings=HUMAN_H)
@click.argument("paths", nargs=-1)
@click.option("-l", "long", is_flag=True, help="Long listing: mode, links, owner, group, size, time, link target.")
@click.option("-h", "-H", "--human-readable", "--human", "human", is_flag=True, help="Sizes as 1.5M rather than bytes.")
@click.option("-a", "-A", "--all", "show_all", is_flag=True, help="Show entries whose names start with '.'.")
@click.option("-R", "--recursive", is_flag=True, help="List subdirectories too, all the way down.")
@click.option("-d", "--directory", is_flag=True, help="List directories themselves, not their contents.")
@click.option("--json", "as_json", is_flag=True,
              help="Machine-readable output (every entry, hidden ones too; with -R an object per directory).")
def ls(paths, long, human, show_all, recursive, directory, as_json):
    """List directories (default fs3:///). PATHs may hold wildcards (quote them): fs3:///x/*.bin.
    Exits 1 when some PATH could not be listed (after listing the others)."""
    lister = _Lister(long, human)
    operands, failed = [], False
    for text in paths or ("fs3:///",):
        try:
            operands.extend(expand_one(text, client_for))
        except OSError as exc:
            report(exc)
            failed = True
    out: dict[str, list] = {}
    dirs = []
    for text in operands:  # files first, then directories, as `ls` shows its operands
        try:
            client, path = client_for(text)
            st = client.lstat(path)
            if st.type == "symlink" and not (long or directory):
                st = client.stat(path)  # a link to a directory lists the directory, as `ls` does
        except BrokenPipeError:
            raise
        except OSError as exc:
            report(exc)
            failed = True
            continue
        if directory or not st.is_dir:
            out[text] = [stat_dict(st)]
            if not as_json:
                lister.echo(lister.line(client, st, text))
        else:
            dirs.append((client, text, path))
    headings = recursive or len(operands) > 1
    for client, text, path in dirs:
        failed |= _list_dir(client, text, path, lister, show_all, recursive, as_json, headings, out)
    if as_json:
        emit_json(out if len(out) != 1 or recursive or len(operands) > 1 else next(iter(out.values()), []))
    if failed:
        raise click.exceptions.Exit(1)


def _list_dir(client, text, path, lister, show_all, recursive, as_json, headings, out) -> bool:
    """List one directory as soon as it is read (and, with recursive, those below it, depth first in
    name order)."""
    failed = False
    pending = [(text, path)]
    while pending:
        shown, where = pending.pop()
        try:
            entries = list(client.iterdir(where, detail=True))
        except BrokenPipeError:
            raise
        except OSError as exc:
            report(exc)
            failed = True
            continue
        visible = [e for e in entries if _visible(e.name, show_all)]
        if as_json:
            out[shown] = [stat_dict(e) for e in entries]
        else:
            if headings:
                lister.echo(("\n" if lister.echoed else "") + f"{shown}:")
            for e in visible:
                lister.echo(lister.line(client, e, e.name))
        if recursive:
            subdirs = [e for e in visible if e.is_dir]
            pending.extend((shown.rstrip("/") + "/" + e.name, e.path) for e in reversed(subdirs))
    return failed
