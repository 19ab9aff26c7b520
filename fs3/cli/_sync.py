"""sync: make a destination tree match a source tree, copying only what differs (rsync, `aws s3 sync`).

A file is copied when the destination has none, or one of another size or modification time (or, with
``--checksum``, other bytes); copies keep the source's mode and times, so a second sync copies nothing.
Filters follow `aws s3 sync`: every path is included unless a pattern says otherwise; ``--exclude`` and
``--include`` patterns apply in the order given and the last one that matches decides; a pattern is a
shell glob (``*``, ``?``, ``[...]``; ``*`` also matches ``/``) over the path relative to SRC. Excluded
paths are neither copied nor deleted.
"""

from __future__ import annotations

import fnmatch
import json
import threading

import click

from fs3._errors import InvalidArgument, NotADirectory, NotFound

from ._common import exit_soon_after_interrupt
from ._copy import current_umask, inside, location
from ._copy_files import COPY_BLOCK, CopyOptions, Entry, Location, Meta, copy_file, copy_link, scan
from ._copy_run import Tally, report, run_jobs

PARALLEL_FILES = 8
_FILTERS = ("--exclude", "--include")


class _FilteredCommand(click.Command):
    """Keeps the order in which --exclude and --include were given (click groups each option's values)."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        order: list[tuple[str, str]] = []
        i = 0
        while i < len(args) and args[i] != "--":
            arg = args[i]
            name, eq, value = arg.partition("=")
            if name in _FILTERS and eq:
                order.append((name[2:], value))
            elif arg in _FILTERS and i + 1 < len(args):
                order.append((arg[2:], args[i + 1]))
                i += 1
            i += 1
        ctx.meta["fs3.sync.filters"] = order
        return super().parse_args(ctx, args)


def included(rel: str, filters: list[tuple[str, str]]) -> bool:
    """Whether ``rel`` passes the filters: the last pattern that matches decides (`aws s3 sync`)."""
    verdict = True
    for kind, pattern in filters:
        if fnmatch.fnmatchcase(rel, pattern):
            verdict = kind == "include"
    return verdict


def _same_bytes(a: Location, b: Location) -> bool:
    from fs3._checksum import crc32c

    def crc(loc: Location) -> int:
        value, buf = 0, bytearray(COPY_BLOCK)
        with loc.open_read() as f:
            while n := f.readinto(buf):
                value = crc32c(memoryview(buf)[:n], value)
        return value

    return crc(a) == crc(b)


class SyncPlan:
    """What a sync will do, decided before anything is done (``--dry-run`` prints it)."""

    def __init__(self) -> None:
        self.mkdirs: list[str] = []
        self.copies: list[Entry] = []  # files and symlinks
        self.touches: list[Entry] = []  # same bytes, other times (--checksum)
        self.deletes: list[tuple[str, Meta]] = []
        self.unchanged = 0

    def actions(self) -> list[dict]:
        out = [{"action": "mkdir", "path": rel} for rel in self.mkdirs]
        out += [{"action": "delete", "path": rel, "type": m.kind} for rel, m in self.deletes]
        for e in self.copies:
            item = {"action": "copy", "path": e.rel, "type": e.meta.kind, "bytes": e.meta.size}
            if e.meta.kind == "link":
                item = {"action": "link", "path": e.rel, "target": e.meta.target}
            out.append(item)
        out += [{"action": "touch", "path": e.rel} for e in self.touches]
        return out


def plan_sync(src: Location, dst: Location, src_entries: list[Entry], dst_entries: list[Entry],
              filters: list[tuple[str, str]], delete: bool, checksum: bool) -> SyncPlan:
    plan = SyncPlan()
    there = {e.rel: e.meta for e in dst_entries}
    wanted = [e for e in src_entries if e.meta.kind != "other" and included(e.rel, filters)]
    # A directory is made when something copied lies in it, or when it is empty in the source.
    parents = {e.rel.rpartition("/")[0] for e in src_entries}
    dirs: set[str] = set()
    for e in wanted:
        chain = e.rel if e.meta.kind == "dir" and e.rel not in parents else e.rel.rpartition("/")[0]
        while chain and chain not in dirs:
            dirs.add(chain)
            chain = chain.rpartition("/")[0]
    keep = dirs | {e.rel for e in wanted}
    for e in wanted:
        if e.meta.kind == "dir" or e.rel not in keep:
            continue
        d = there.get(e.rel)
        if d is not None and d.kind == "dir":
            if delete:
                plan.deletes.append((e.rel, d))
        elif d is not None and e.meta.kind == "link" and d.kind == "link" and d.target == e.meta.target:
            plan.unchanged += 1
            continue
        elif d is not None and e.meta.kind == "file" and d.kind == "file" and d.size == e.meta.size:
            if not checksum and d.mtime_ns == e.meta.mtime_ns:
                plan.unchanged += 1
                continue
            if checksum and _same_bytes(src.join(e.rel), dst.join(e.rel)):
                plan.unchanged += 1
                if d.mtime_ns != e.meta.mtime_ns:
                    plan.touches.append(e)
                continue
        plan.copies.append(e)
    for rel in sorted(dirs):
        d = there.get(rel)
        if d is None or d.kind != "dir":
            if d is not None and delete:
                plan.deletes.append((rel, d))
            plan.mkdirs.append(rel)
    if delete:
        protected = {e.rel for e in dst_entries if not included(e.rel, filters)}
        blocked = {a for rel in protected | keep for a in _ancestors(rel)}  # directories that must stay
        gone = {rel for rel, m in plan.deletes}
        for e in dst_entries:
            if e.rel in keep or e.rel in protected or any(a in gone for a in _ancestors(e.rel)):
                continue
            if e.meta.kind == "dir" and e.rel in blocked:
                continue
            plan.deletes.append((e.rel, e.meta))
            gone.add(e.rel)
    return plan


def _ancestors(rel: str):
    while "/" in rel:
        rel = rel.rpartition("/")[0]
        yield rel


def _print_plan(plan: SyncPlan, src: Location, dst: Location) -> None:
    for a in plan.actions():
        if a["action"] == "link":
            click.echo(f"link   {dst.join(a['path'])} -> {a['target']}")
        elif a["action"] == "copy":
            click.echo(f"copy   {src.join(a['path'])} -> {dst.join(a['path'])} ({a['bytes']} bytes)")
        else:
            click.echo(f"{a['action']:<6} {dst.join(a['path'])}")


@click.command(cls=_FilteredCommand)
@click.argument("src")
@click.argument("dst")
@click.option("--delete", is_flag=True, help="Remove destination paths that the source lacks (not excluded ones).")
@click.option("--checksum", is_flag=True, help="Compare files of equal size by CRC32C instead of by mtime.")
@click.option("--exclude", multiple=True, metavar="GLOB", help="Leave out paths matching GLOB (relative to SRC).")
@click.option("--include", multiple=True, metavar="GLOB", help="Take paths matching GLOB back in (last match wins).")
@click.option("-n", "--dry-run", is_flag=True, help="List what would be done; change nothing.")
@click.option("-L", "--dereference", is_flag=True, help="Follow symlinks in SRC (default: copy them as symlinks).")
@click.option("-j", "--jobs", default=PARALLEL_FILES, show_default=True, help="Files copied in parallel.")
@click.option("--progress/--no-progress", default=None, help="Show a progress bar (default: on a terminal).")
@click.option("-q", "--quiet", is_flag=True, help="No summary line.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary (with --dry-run: the plan) as JSON.")
def sync(src, dst, delete, checksum, exclude, include, dry_run, dereference, jobs, progress, quiet, as_json):
    """Make directory DST match directory SRC (local paths or fs3 URLs), copying only files whose size
    or modification time differ. Filters: `aws s3 sync`'s (see docs/copies.md).

    \b
      fs3 sync ./corpus fs3:///datasets/corpus
      fs3 sync --delete --exclude '*.tmp' fs3:///datasets/corpus ./mirror
      fs3 sync --dry-run --exclude '*' --include '*.json' ./corpus fs3:///meta-only
    """
    exit_soon_after_interrupt()
    if jobs < 1:
        raise InvalidArgument("Invalid argument: --jobs must be at least 1")
    tally = Tally()  # its clock starts here: the summary's time includes comparing the trees
    ctx = click.get_current_context()
    filters = ctx.meta.get("fs3.sync.filters", [])
    if sorted(p for k, p in filters if k == "exclude") != sorted(exclude) or \
            sorted(p for k, p in filters if k == "include") != sorted(include):
        filters = [("exclude", p) for p in exclude] + [("include", p) for p in include]
    source, target = location(src), location(dst)
    m = source.meta(follow=True)
    if m is None:
        raise NotFound("No such file or directory", path=str(source))
    if m.kind != "dir":
        raise NotADirectory(f"Not a directory: {source} (sync copies directories; use `fs3 cp` for a file)")
    tm = target.meta(follow=True)
    if tm is not None and tm.kind != "dir":
        raise NotADirectory(f"Not a directory: {target}")
    if inside(source, target) or inside(target, source):
        raise InvalidArgument(f"Invalid argument: {source} and {target} overlap (one holds the other)")
    if tm is None:
        parent = target.parent.meta()
        if parent is None or parent.kind != "dir":
            raise NotFound(f"No such file or directory: {target.parent} (make it with `fs3 mkdir -p` first)")
    warnings: list[str] = []
    src_entries = scan(source, dereference, warnings.append)
    dst_entries = scan(target, False, warnings.append) if tm is not None else []
    for e in src_entries:
        if e.meta.kind == "other":
            warnings.append(f"skipping {source.join(e.rel)}: not a regular file, directory or symlink")
    plan = plan_sync(source, target, src_entries, dst_entries, filters, delete, checksum)
    if dry_run:
        if as_json:
            click.echo(json.dumps({"dry_run": True, "actions": plan.actions(), "unchanged": plan.unchanged},
                                  sort_keys=True))
        else:
            _print_plan(plan, source, target)
        return
    for w in warnings:
        click.echo(f"fs3: sync: {w}", err=True)
    tally.unchanged, tally.errors = plan.unchanged, list(warnings)
    _apply(plan, source, target, tm is None, tally, jobs, progress)
    report(tally, "sync", "copied", as_json, quiet)


def _apply(plan: SyncPlan, source: Location, target: Location, create_root: bool, tally: Tally, jobs: int,
           progress) -> None:
    stop = threading.Event()
    opts = CopyOptions(mode=True, times=True, owner=False, checksum=False, umask=current_umask(), stop=stop)
    if create_root:
        target.mkdir()
        tally.dirs += 1
    for rel, m in sorted(plan.deletes, key=lambda d: d[0], reverse=True):  # contents before their directory
        target.join(rel).remove(recursive=m.kind == "dir")
        tally.deleted += 1
    for rel in plan.mkdirs:
        target.join(rel).mkdir()
        tally.dirs += 1
    for e in plan.touches:
        target.join(e.rel).set_attrs(e.meta, mode=True, times=True, owner=False)
    job_list = []
    for e in plan.copies:
        s, d, m = source.join(e.rel), target.join(e.rel), e.meta
        if m.kind == "link":
            job_list.append(("link", 0, lambda advance, d=d, m=m: copy_link(m.target, d, m, opts)))
        else:
            job_list.append(("file", m.size, lambda advance, s=s, d=d, m=m: copy_file(s, m, d, opts, advance)))
    run_jobs(job_list, jobs, progress, "sync", tally, stop)
