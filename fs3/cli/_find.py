"""`fs3 find`: walk trees and print what matches (name, type, size, age), as GNU find's tests do.
The walk itself (``walk``) is shared with `fs3 du`."""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from fnmatch import fnmatchcase

import click

from fs3._errors import InvalidArgument

from ._common import NATURAL, client_for, emit_json, report, stat_dict
from ._glob import Operands


def walk(client, st, *, max_depth: int | None = None) -> Iterator[tuple[int, object]]:
    """(depth, FileStat) of ``st`` and everything below it, depth first, each directory before its
    entries and entries in name order (symlinks are not followed). A directory that cannot be listed is
    reported (`fs3: CMD: PATH: why`) and yielded as its error after its own entry, so a caller can count
    the failure and go on."""
    stack: list[tuple[int, object]] = [(0, st)]
    while stack:
        depth, cur = stack.pop()
        yield depth, cur
        if not cur.is_dir or max_depth is not None and depth >= max_depth:
            continue
        try:
            entries = list(client.iterdir(cur.path, detail=True))
        except BrokenPipeError:
            raise
        except OSError as exc:
            report(exc)
            yield depth + 1, exc
            continue
        stack.extend((depth + 1, e) for e in reversed(entries))


def spelled(text: str, root: str, path: str) -> str:
    """``path`` (under ``root``) as the operand ``text`` spells ``root``: fs3:///x + /a -> fs3:///x/a."""
    rel = path[len(root):].lstrip("/") if path != root else ""
    return text if not rel else text.rstrip("/") + "/" + rel


_SIZE_UNITS = {"c": 1, "": 1, "k": 1 << 10, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


def parse_comparison(text: str, units: dict[str, int], what: str) -> tuple[str, int, int]:
    """GNU find's numeric test: ``+N`` (more than), ``-N`` (less than) or ``N`` (exactly), with a unit
    suffix from ``units`` -> (sign, N, unit)."""
    t = text.strip()
    sign = t[:1] if t[:1] in "+-" else ""
    body = t[len(sign):]
    unit = body[-1:] if body[-1:] in units and not body[-1:].isdigit() else ""
    digits = body[: len(body) - len(unit)]
    if not digits.isdigit() or int(digits) > (1 << 62):
        raise InvalidArgument(f"Invalid {what} {text!r}: expected +N, -N or N"
                              + (" with an optional c, k, M, G or T" if len(units) > 1 else ""))
    return sign, int(digits), units[unit]


def _compare(value: int, sign: str, n: int) -> bool:
    return value > n if sign == "+" else value < n if sign == "-" else value == n


class Tests:
    """The tests of one `find` command line, applied to a FileStat (all must hold)."""

    def __init__(self, name: str | None, kind: str | None, size: str | None, mtime: str | None):
        self.name, self.kind = name, {"f": "file", "d": "directory", "l": "symlink"}.get(kind or "")
        self.size = parse_comparison(size, _SIZE_UNITS, "--size") if size else None
        self.mtime = parse_comparison(mtime, {"": 1}, "--mtime") if mtime else None
        self.now_ns = time.time_ns()

    def __call__(self, st) -> bool:
        if self.name is not None and not fnmatchcase(st.name, self.name):
            return False
        if self.kind is not None and st.type != self.kind:
            return False
        if self.size is not None:  # sizes round up to whole units, as GNU find counts them
            sign, n, unit = self.size
            if not _compare(math.ceil(st.size / unit), sign, n):
                return False
        if self.mtime is not None:  # whole days of age, fractions dropped (GNU find's -mtime)
            sign, n, _ = self.mtime
            if not _compare((self.now_ns - st.mtime_ns) // (86_400 * 10**9), sign, n):
                return False
        return True


@click.command()
@click.argument("paths", nargs=-1, required=True)
@click.option("--name", "-name", "name", metavar="GLOB", help="Base name matches GLOB (quote it; * matches dot names).")
@click.option("--type", "-type", "kind", type=click.Choice(["f", "d", "l"]), help="f: file, d: directory, l: symlink.")
@click.option("--size", "-size", "size", metavar="[+-]N[ckMGT]",
              help="Size more than (+), less than (-) or exactly N units, rounded up to whole units (c or none: "
                   "bytes; k, M, G, T: KiB, MiB...), as GNU find.")
@click.option("--mtime", "-mtime", "mtime", metavar="[+-]N",
              help="Modified more than (+), less than (-) or exactly N whole days ago.")
@click.option("--maxdepth", "-maxdepth", "max_depth", type=NATURAL, help="Descend at most this many levels.")
@click.option("--print0", "-print0", "print0", is_flag=True, help="End each path with a NUL (for xargs -0).")
@click.option("--json", "as_json", is_flag=True, help="Matches as a JSON list of stat objects.")
def find(paths, name, kind, size, mtime, max_depth, print0, as_json):
    """List what lies under each PATH (itself included) and passes every test given, one path a line,
    spelled as PATH is (fs3:///x/a for fs3:///x). PATHs may hold wildcards. Symlinks are not followed.
    Exits 1 when some part could not be walked (after walking the rest)."""
    tests = Tests(name, kind, size, mtime)
    found: list[dict] = []
    failed = False
    operands = Operands(paths, client_for, report)
    for text, client, top in operands:
        for _, st in walk(client, top, max_depth=max_depth):
            if isinstance(st, OSError):
                failed = True
            elif tests(st):
                shown = spelled(text, top.path, st.path)
                if as_json:
                    found.append(stat_dict(st) | {"path": shown})
                else:
                    click.echo(shown + ("\0" if print0 else ""), nl=not print0)
    if as_json:
        emit_json(found)
    if failed or operands.failed:
        raise click.exceptions.Exit(1)
