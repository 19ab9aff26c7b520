"""cp: copy files and trees between the local file system and fs3 (and within fs3).

The rules are coreutils' where a user would expect them: a destination that names an existing directory
receives the sources inside it; a trailing ``/`` says the destination must be a directory; the parent of
what is created must exist (for a file and a tree alike); a file copied onto itself is an error. Every
file is written under a partial name and renamed on success (see ``_copy_files``)."""

from __future__ import annotations

import os
import sys
import threading

import click

from fs3._errors import InvalidArgument, IsADirectory, NotADirectory, NotFound, describe
from fs3._url import is_fs3_url, parse_url

from ._common import client_for, exit_soon_after_interrupt, state
from ._copy_files import CopyOptions, Location, Meta, copy_file, copy_link, scan
from ._copy_run import Tally, report, run_jobs
from ._glob import expand_one

PARALLEL_FILES = 8
STDIO = "-"


def location(text: str) -> Location:
    """A command-line path: an fs3 URL or a local path (trailing slashes dropped, ``/`` kept)."""
    if is_fs3_url(text):
        url = parse_url(text)
        path = url.path.rstrip("/") or "/"
        return Location(path, state().client(url.address), f"fs3://{url.address or ''}")
    if not text:
        raise InvalidArgument("Invalid path: empty")
    return Location(text.rstrip("/") or "/")


def inside(a: Location, b: Location) -> bool:
    """Whether ``b`` is ``a`` or lies below it (same side)."""
    if not a.same_side(b):
        return False
    pa = a.path if a.is_fs3 else os.path.realpath(a.path)
    pb = b.path if b.is_fs3 else os.path.realpath(b.path)
    return pb == pa or pb.startswith(pa.rstrip("/") + "/")


def current_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


class Plan:
    """What a copy will do: directories to create, then file and symlink jobs, then (with ``-p``) the
    directories' own attributes, deepest first (their mtimes change while they fill)."""

    def __init__(self, opts: CopyOptions, warn):
        self.opts = opts
        self.warn = warn
        self.dirs: list[tuple[Location, Meta]] = []
        self.jobs: list = []

    def add_file(self, src: Location, m: Meta, dst: Location) -> None:
        self.jobs.append(("file", m.size, lambda advance: copy_file(src, m, dst, self.opts, advance)))

    def add_link(self, m: Meta, dst: Location) -> None:
        self.jobs.append(("link", 0, lambda advance: copy_link(m.target, dst, m, self.opts)))

    def add_tree(self, src: Location, m: Meta, dst: Location, follow: bool) -> None:
        self.dirs.append((dst, m))
        for entry in scan(src, follow, self.warn):
            self.add(src.join(entry.rel), entry.meta, dst.join(entry.rel), follow)

    def add(self, src: Location, m: Meta, dst: Location, follow: bool) -> None:
        if m.kind == "dir":
            self.dirs.append((dst, m))
        elif m.kind == "file":
            self.add_file(src, m, dst)
        elif m.kind == "link":
            self.add_link(m, dst)
        else:
            self.warn(f"skipping {src}: not a regular file, directory or symlink")


def _stdout_copy(src: Location | None, tally: Tally) -> None:
    out = sys.stdout.buffer
    out.flush()
    buf = bytearray(4 << 20)
    view = memoryview(buf)
    with (src.open_read() if src is not None else sys.stdin.buffer) as fin:
        while n := fin.readinto(buf):
            out.write(view[:n])
            tally.bytes += n
    out.flush()
    tally.files += 1


@click.command()
@click.argument("sources", nargs=-1, required=True)
@click.argument("dest")
@click.option("-r", "-R", "--recursive", is_flag=True, help="Copy directories recursively.")
@click.option("-L", "--dereference", is_flag=True, help="Follow symlinks (default with -r: copy them as symlinks).")
@click.option("-p", "--preserve", is_flag=True, help="Keep mode and modification/access times (and owner as root).")
@click.option("--continue", "resume", is_flag=True,
              help="Resume an interrupted copy: keep its partial file if its bytes match the source's (CRC32C).")
@click.option("--checksum", is_flag=True, help="Read each copy back and compare its CRC32C with the source's.")
@click.option("--progress/--no-progress", default=None, help="Show a progress bar (default: on a terminal).")
@click.option("-j", "--jobs", default=PARALLEL_FILES, show_default=True, help="Files copied in parallel.")
@click.option("-q", "--quiet", is_flag=True, help="No summary line.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON on stdout.")
def cp(sources, dest, recursive, dereference, preserve, resume, checksum, progress, jobs, quiet, as_json):
    """Copy between local paths and fs3 URLs (fs3:///path or fs3://HOST:PORT/path); `-` is standard
    input as a source and standard output as the destination.

    \b
      fs3 cp data.bin fs3:///datasets/
      fs3 cp -r ./corpus fs3:///datasets/corpus
      fs3 cp -r fs3:///datasets/corpus ./restored
      fs3 cp 'fs3:///datasets/*.json' ./meta/
      fs3 cp --continue --checksum big.tar fs3:///backups/
      fs3 cp fs3:///datasets/manifest.json - | jq .
    """
    exit_soon_after_interrupt()
    if jobs < 1:
        raise InvalidArgument("Invalid argument: --jobs must be at least 1")
    tally = Tally()
    sources = [s for text in sources for s in (expand_one(text, client_for) if is_fs3_url(text) else [text])]
    if dest == STDIO:
        if as_json:
            raise InvalidArgument("Invalid argument: --json prints on standard output, where `-` sends the data")
        if len(sources) != 1:
            raise InvalidArgument("Invalid argument: `-` as the destination takes exactly one source")
        src = None if sources[0] == STDIO else location(sources[0])
        if src is not None:
            m = src.meta()
            if m is None:
                raise NotFound("No such file or directory", path=str(src))
            if m.kind == "dir":
                raise IsADirectory(f"Is a directory: {src} (standard output takes one file)")
        _stdout_copy(src, tally)
        report(tally, "cp", "copied", False, quiet)
        return

    opts = CopyOptions(mode=preserve, times=preserve, owner=preserve and os.geteuid() == 0, resume=resume,
                       checksum=checksum, umask=current_umask(), stop=threading.Event())
    warnings: list[str] = []
    plan = _plan(sources, dest, opts, recursive, dereference, warnings.append)
    for w in warnings:
        click.echo(f"fs3: cp: {w}", err=True)
    tally.errors.extend(warnings)
    _run(plan, tally, jobs, progress, preserve)
    report(tally, "cp", "copied", as_json, quiet)


def _plan(sources: list[str], dest: str, opts: CopyOptions, recursive: bool, dereference: bool, warn) -> Plan:
    """Check every source against the destination (all before anything is copied) and plan the copy."""
    plan = Plan(opts, warn)
    dst = location(dest)
    must_be_dir = dest.endswith("/")
    dst_meta = dst.meta()
    dst_is_dir = dst_meta is not None and dst_meta.kind == "dir"
    if len(sources) > 1 and not dst_is_dir:
        raise NotADirectory(f"Not a directory: target {dst} must be an existing directory for several sources")
    if dst_meta is not None and not dst_is_dir and must_be_dir:
        raise NotADirectory(f"Not a directory: {dest}")
    follow_top = dereference or not recursive  # coreutils: -r copies a symlink named on the command line as one
    stdin_used = False
    for text in sources:
        if text == STDIO:
            if dst_is_dir or stdin_used:
                raise InvalidArgument("Invalid argument: standard input (`-`) needs a destination file name")
            stdin_used = True
            target = _checked_target(dst, dst_meta, None, must_be_dir)
            plan.jobs.append(("file", 0, lambda advance, t=target: copy_file(None, None, t, opts, advance,
                                                                               stdin=sys.stdin.buffer)))
            continue
        src = location(text)
        m = src.meta(follow=follow_top)
        if m is None:
            raise NotFound("No such file or directory", path=str(src))
        target = dst.join(src.basename) if dst_is_dir else dst
        if m.kind == "dir":
            if not recursive:
                raise IsADirectory(f"Is a directory (use -r to copy it): {src}")
            if inside(src, target):
                raise InvalidArgument(f"Invalid argument: cannot copy {src} into itself ({target})")
            there = target.meta() if dst_is_dir else dst_meta
            if there is not None and there.kind != "dir":
                raise NotADirectory(f"Not a directory: cannot overwrite {target} with directory {src}")
            if there is None:
                _parent_exists(target)
            plan.add_tree(src, m, target, dereference)
        else:
            target = _checked_target(dst, dst_meta, src, must_be_dir)
            if m.kind not in ("file", "link"):
                raise InvalidArgument(f"Invalid argument: {src} is not a regular file, directory or symlink")
            plan.add(src, m, target, dereference)
    return plan


def _checked_target(dst: Location, dst_meta: Meta | None, src: Location | None, must_be_dir: bool) -> Location:
    """Where one file goes: into ``dst`` when it is a directory, else ``dst`` itself, whose parent must
    exist; a ``dst`` written with a trailing slash must be an existing directory."""
    if dst_meta is not None and dst_meta.kind == "dir":
        if src is None:
            raise InvalidArgument("Invalid argument: standard input (`-`) needs a destination file name")
        return dst.join(src.basename)
    if must_be_dir:
        raise NotADirectory(f"Not a directory: {dst}/ is no directory (make it with `fs3 mkdir` first)")
    if dst_meta is None:
        _parent_exists(dst)
    return dst


def _parent_exists(target: Location) -> None:
    parent = target.parent
    m = parent.meta()
    if m is None:
        raise NotFound(f"No such file or directory: {parent} (make it with `fs3 mkdir -p` first)")
    if m.kind != "dir":
        raise NotADirectory(f"Not a directory: {parent}")


def _run(plan: Plan, tally: Tally, jobs: int, progress, preserve: bool) -> None:
    for d, _ in plan.dirs:
        if d.mkdir():
            tally.dirs += 1
    run_jobs(plan.jobs, jobs, progress, "cp", tally, plan.opts.stop or threading.Event())
    if preserve:
        for d, m in reversed(plan.dirs):
            try:
                d.set_attrs(m, mode=True, times=True, owner=plan.opts.owner)
            except OSError as exc:
                tally.errors.append(describe(exc))
                click.echo(f"fs3: cp: {describe(exc)}", err=True)
