"""`fs3 du`: space used by trees, as coreutils du counts it (each inode once, KiB by default)."""

from __future__ import annotations

import click

from ._common import HUMAN_H, NATURAL, client_for, emit_json, human_size, report
from ._find import spelled, walk
from ._glob import Operands


class _Usage:
    """What one subtree uses: bytes stored (a sparse file's holes not counted), apparent bytes (the
    files' lengths), and how many files and directories it holds."""

    __slots__ = ("stored", "apparent", "files", "dirs")

    def __init__(self) -> None:
        self.stored = self.apparent = self.files = self.dirs = 0

    def add(self, other: _Usage) -> None:
        self.stored += other.stored
        self.apparent += other.apparent
        self.files += other.files
        self.dirs += other.dirs


def _tree_usage(client, top, seen: set[int], on_line) -> tuple[_Usage | None, bool]:
    """Sum a tree bottom up; ``on_line(path, usage, is_dir)`` for each directory once its subtree is
    summed (deepest first, as du prints) and for each file. An inode seen before (a hard link, here or
    in an earlier operand) counts once and shows once; an operand seen before gives None."""
    failed = False
    open_dirs: list[tuple[int, object, _Usage]] = []  # the directories being summed, outermost first

    def close_to(depth: int) -> None:
        while open_dirs and open_dirs[-1][0] >= depth:
            _, st, usage = open_dirs.pop()
            on_line(st.path, usage, True)
            if open_dirs:
                open_dirs[-1][2].add(usage)

    for depth, st in walk(client, top):
        if isinstance(st, OSError):
            failed = True
            continue
        close_to(depth)
        if st.inode in seen:  # another name of an inode counted already: not shown, as du does
            if depth == 0:
                return None, failed
            continue
        seen.add(st.inode)
        mine = _Usage()
        mine.stored, mine.apparent = st.blocks * 512, 0 if st.is_dir else st.size
        if st.is_dir:
            mine.dirs = 1
            open_dirs.append((depth, st, mine))
            continue
        mine.files = 1
        on_line(st.path, mine, False)
        if open_dirs:
            open_dirs[-1][2].add(mine)
        else:
            return mine, failed  # a file operand
    total = open_dirs[0][2] if open_dirs else _Usage()
    close_to(0)
    return total, failed


@click.command(context_settings=HUMAN_H)
@click.argument("paths", nargs=-1)
@click.option("-s", "--summarize", is_flag=True, help="Only a total for each PATH.")
@click.option("-a", "--all", "every_file", is_flag=True, help="Files too, not only directories.")
@click.option("-c", "--total", "grand_total", is_flag=True, help="A grand total at the end.")
@click.option("-d", "--max-depth", "max_depth", type=NATURAL,
              help="Show directories (and files with -a) at most this deep below PATH; all are counted.")
@click.option("-h", "--human-readable", "human", is_flag=True, help="Sizes as 1.5M rather than KiB.")
@click.option("-b", "--bytes", "apparent", is_flag=True,
              help="Apparent size in bytes (the files' lengths) rather than KiB stored.")
@click.option("--json", "as_json", is_flag=True,
              help="Per line: path, stored_bytes, apparent_bytes, files, directories.")
def du(paths, summarize, every_file, grand_total, max_depth, human, apparent, as_json):
    """Space used under each PATH (default fs3:///): bytes stored, holes of sparse files not counted and
    replicas not multiplied, in KiB rounded up as coreutils du shows it; each inode counted once.
    PATHs may hold wildcards. Exits 1 when part of a tree could not be read (after the rest)."""
    rows: list[tuple[str, _Usage]] = []

    def amount(u: _Usage) -> str:
        n = u.apparent if apparent else u.stored
        return human_size(n) if human else str(n if apparent else -(-n // 1024))

    def emit(shown: str, usage: _Usage) -> None:
        if as_json:
            rows.append((shown, usage))
        else:
            click.echo(f"{amount(usage)}\t{shown}")

    seen: set[int] = set()
    total, failed = _Usage(), False
    operands = Operands(paths or ("fs3:///",), client_for, report)
    for text, client, top in operands:
        def on_line(p, usage, is_dir, text=text, top=top):
            deep = max_depth is not None and p[len(top.path):].strip("/").count("/") >= max_depth
            if p != top.path and not summarize and (is_dir or every_file) and not deep:
                emit(spelled(text, top.path, p), usage)

        usage, bad = _tree_usage(client, top, seen, on_line)
        failed |= bad
        if usage is not None:
            emit(text, usage)
            total.add(usage)
    if grand_total:
        emit("total", total)
    if as_json:
        emit_json([{"path": p, "stored_bytes": u.stored, "apparent_bytes": u.apparent, "files": u.files,
                    "directories": u.dirs} for p, u in rows])
    if failed or operands.failed:
        raise click.exceptions.Exit(1)
