"""cp: copy files and trees between the local file system and fs3 (and within fs3)."""

from __future__ import annotations

import os
import stat as _stat
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import click

from fs3._errors import InvalidArgument, IsADirectory, NotADirectory
from fs3._url import is_fs3_url, parse_url

from ._common import progress_enabled, state

COPY_BLOCK = 4 << 20
PARALLEL_FILES = 8


@dataclass(frozen=True)
class Location:
    """One side of a copy: a local path, or a path in an fs3 cluster (``client`` set)."""

    path: str
    client: object | None = None
    url_prefix: str = ""

    @property
    def is_fs3(self) -> bool:
        return self.client is not None

    def __str__(self) -> str:
        return f"{self.url_prefix}{self.path}" if self.is_fs3 else self.path

    def join(self, name: str) -> Location:
        sep = "" if self.path.endswith("/") else "/"
        return Location(self.path + sep + name, self.client, self.url_prefix)

    @property
    def basename(self) -> str:
        return self.path.rstrip("/").rsplit("/", 1)[-1]

    def kind(self) -> str | None:
        """"dir", "file", "other", or None when nothing is there."""
        if self.is_fs3:
            try:
                return "dir" if self.client.stat(self.path).is_dir else "file"
            except FileNotFoundError:
                return None
        try:
            mode = os.stat(self.path).st_mode
        except FileNotFoundError:
            return None
        return "dir" if _stat.S_ISDIR(mode) else "file" if _stat.S_ISREG(mode) else "other"

    def size(self) -> int:
        return self.client.stat(self.path).size if self.is_fs3 else os.stat(self.path).st_size

    def mkdir(self) -> None:
        if self.is_fs3:
            self.client.mkdir(self.path, parents=True)
        else:
            os.makedirs(self.path, exist_ok=True)

    def open(self, mode: str):
        if self.is_fs3:
            return self.client.open(self.path, mode, buffering=0)
        return open(self.path, mode, buffering=0)


def _location(text: str) -> Location:
    if is_fs3_url(text):
        url = parse_url(text)
        return Location(url.path, state().client(url.address), f"fs3://{url.address or ''}")
    if not text:
        raise InvalidArgument("Invalid path: empty")
    return Location(text)


def _walk(src: Location, dst: Location, dirs: list, files: list, warn) -> None:
    """Plan a tree copy: directories to create and (source, destination) file pairs."""
    dirs.append(dst)
    if src.is_fs3:
        for entry in src.client.iterdir(src.path, detail=True):
            child = src.join(entry.name)
            if entry.is_dir:
                _walk(child, dst.join(entry.name), dirs, files, warn)
            elif entry.is_file:
                files.append((child, dst.join(entry.name), entry.size))
            else:
                warn(f"skipping {child}: not a regular file")
        return
    with os.scandir(src.path) as it:
        entries = sorted(it, key=lambda e: e.name)
    for entry in entries:
        child = src.join(entry.name)
        if entry.is_dir(follow_symlinks=False):
            _walk(child, dst.join(entry.name), dirs, files, warn)
        elif entry.is_file(follow_symlinks=True):
            files.append((child, dst.join(entry.name), entry.stat(follow_symlinks=True).st_size))
        else:
            warn(f"skipping {child}: not a regular file or directory")


def _inside(a: Location, b: Location) -> bool:
    """Whether ``b`` is ``a`` or lies below it (same side)."""
    if a.is_fs3 != b.is_fs3 or a.client is not b.client:
        return False
    pa = os.path.realpath(a.path) if not a.is_fs3 else a.path.rstrip("/")
    pb = os.path.realpath(b.path) if not b.is_fs3 else b.path.rstrip("/")
    return pb == pa or pb.startswith(pa + "/")


def copy_file(src: Location, dst: Location, advance) -> None:
    with src.open("rb") as fin, dst.open("wb") as fout:
        buf = bytearray(COPY_BLOCK)
        view = memoryview(buf)
        while n := fin.readinto(buf):
            fout.write(view[:n])
            advance(n)


@click.command()
@click.argument("sources", nargs=-1, required=True)
@click.argument("dest")
@click.option("-r", "-R", "--recursive", is_flag=True, help="Copy directories recursively.")
@click.option("--progress/--no-progress", default=None, help="Show a progress bar (default: on a terminal).")
@click.option("-j", "--jobs", default=PARALLEL_FILES, show_default=True, help="Files copied in parallel.")
def cp(sources, dest, recursive, progress, jobs):
    """Copy between local paths and fs3 URLs (fs3:///path or fs3://HOST:PORT/path).

    \b
      fs3 cp data.bin fs3:///datasets/
      fs3 cp -r ./corpus fs3:///datasets/corpus
      fs3 cp -r fs3:///datasets/corpus ./restored
    """
    if jobs < 1:
        raise InvalidArgument("Invalid argument: --jobs must be at least 1")
    srcs = [_location(s) for s in sources]
    dst = _location(dest)
    dst_kind = dst.kind()
    if len(srcs) > 1 and dst_kind != "dir":
        raise NotADirectory(f"Not a directory: target {dst} must be an existing directory for several sources")
    warnings: list[str] = []
    dirs: list[Location] = []
    files: list[tuple[Location, Location, int]] = []
    for src in srcs:
        kind = src.kind()
        if kind is None:
            raise FileNotFoundError(2, "No such file or directory", str(src))
        target = dst.join(src.basename) if dst_kind == "dir" else dst
        if kind == "dir":
            if not recursive:
                raise IsADirectory(f"Is a directory (use -r to copy it): {src}")
            if _inside(src, target):
                raise InvalidArgument(f"Invalid argument: cannot copy {src} into itself ({target})")
            if target.kind() == "file":
                raise NotADirectory(f"Not a directory: cannot overwrite {target} with directory {src}")
            _walk(src, target, dirs, files, warnings.append)
        elif kind == "file":
            if target.kind() == "dir":
                raise IsADirectory(f"Is a directory: {target}")
            files.append((src, target, src.size()))
        else:
            raise InvalidArgument(f"Invalid argument: {src} is not a regular file or directory")
    for w in warnings:
        click.echo(f"fs3: cp: {w}", err=True)
    for d in dirs:
        d.mkdir()

    from tqdm import tqdm

    total = sum(size for _, _, size in files)
    lock = threading.Lock()
    with tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, disable=not progress_enabled(progress),
              desc="cp", dynamic_ncols=True, leave=False) as bar:
        def advance(n: int) -> None:
            with lock:
                bar.update(n)

        if len(files) <= 1 or jobs == 1:
            for src, target, _ in files:
                copy_file(src, target, advance)
        else:
            with ThreadPoolExecutor(jobs) as pool:
                for f in [pool.submit(copy_file, s, t, advance) for s, t, _ in files]:
                    f.result()
