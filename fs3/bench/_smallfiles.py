"""`fs3 bench smallfiles`: many small files created, written and closed, then read back, through fs3's
client (the way `fs3 cp -r` does it: each file opened unbuffered under a partial name, written, and
renamed to its name as it closes, ``jobs`` files at a time), through the `fs3 cp -r` command itself, and through a mount, each beside the local disk's rate of
creating, writing and fsyncing the same files with the same parallelism, measured in the same run.

Every side writes files of the same content under names of the same shape; the local read back uses
O_DIRECT, so it reads the disk and not the page cache the writes just filled, as fs3's reads do."""

from __future__ import annotations

import mmap
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from fs3._errors import InternalError

from ._baseline import ALIGN
from ._mountbench import ratio_text

WRITE_TARGETS = {"client": 0.25, "cp": 0.25, "mount": 0.1}  # files/s against the local disk


@dataclass
class SideResult:
    name: str                       # "local", "client", "cp", "mount"
    write_files_per_s: float = 0.0  # create + write + close (local and mount: + fsync)
    read_files_per_s: float = 0.0
    write_ratio: float | None = None
    read_ratio: float | None = None
    target: float | None = None     # the write ratio it should reach
    meets_target: bool | None = None
    note: str = ""


@dataclass
class SmallFilesResult:
    files: int
    file_size: int
    jobs: int
    local: SideResult
    sides: list[SideResult] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, side: SideResult) -> SideResult:
        if self.local.write_files_per_s:
            side.write_ratio = side.write_files_per_s / self.local.write_files_per_s
        if self.local.read_files_per_s and side.read_files_per_s:
            side.read_ratio = side.read_files_per_s / self.local.read_files_per_s
        side.target = WRITE_TARGETS.get(side.name)
        if side.target is not None and side.write_ratio is not None:
            side.meets_target = side.write_ratio >= side.target
        self.sides.append(side)
        return side


def names(count: int) -> list[str]:
    """Relative paths of the files: 100 per directory, as a source tree has them."""
    return [f"d{i // 100:03d}/f{i:06d}.dat" for i in range(count)]


_END = object()


def _parallel(jobs: int, items: Iterable, fn: Callable, *, grace: float = 30.0) -> float:
    """Seconds to run ``fn`` on every item, ``jobs`` at a time (the first error raised).

    Daemon threads, not a ThreadPoolExecutor: interrupted, what has not started does not start, and
    a thread stuck in a call that cannot finish (the cluster went away) is waited for ``grace`` seconds,
    not for ever at the interpreter's exit."""
    todo = iter(list(items))
    lock = threading.Lock()
    stop = threading.Event()
    errors: list[BaseException] = []

    def worker() -> None:
        while not stop.is_set():
            with lock:
                item = next(todo, _END)
            if item is _END:
                return
            try:
                fn(item)
            except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread below
                errors.append(exc)
                stop.set()

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(jobs)]
    start = time.perf_counter()
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        stop.set()
        deadline = time.monotonic() + grace
        for t in threads:
            if t.ident is not None:  # started
                t.join(max(0.0, deadline - time.monotonic()))
    if errors:
        raise errors[0]
    return time.perf_counter() - start


def _mkdirs(root: Path, rel: list[str]) -> None:
    for d in sorted({r.rsplit("/", 1)[0] for r in rel}):
        (root / d).mkdir(parents=True, exist_ok=True)


# -- local disk and mount (a POSIX directory) ----------------------------------------------------------

def posix_write(root: Path, rel: list[str], data: bytes, jobs: int) -> float:
    """Files/s creating, writing, fsyncing and closing each file under ``root``."""
    _mkdirs(root, rel)

    def one(name: str) -> None:
        fd = os.open(root / name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)

    return len(rel) / _parallel(jobs, rel, one)


def posix_read(root: Path, rel: list[str], size: int, jobs: int) -> float:
    """Files/s opening (O_DIRECT where it is allowed), reading whole and closing each file."""
    bufs = threading.local()
    span = (size + ALIGN - 1) // ALIGN * ALIGN

    def one(name: str) -> None:
        buf = getattr(bufs, "buf", None)
        if buf is None:
            buf = bufs.buf = mmap.mmap(-1, span)
        try:
            fd = os.open(root / name, os.O_RDONLY | os.O_DIRECT)
        except OSError:
            fd = os.open(root / name, os.O_RDONLY)
        try:
            if os.preadv(fd, [buf], 0) != size:
                raise InternalError(f"short read of {root / name}")
        finally:
            os.close(fd)

    return len(rel) / _parallel(jobs, rel, one)


# -- fs3's client (sync, as `fs3 cp` uses it) --------------------------------------------------------

def client_write(client, root: str, rel: list[str], data: bytes, jobs: int) -> float:
    for d in sorted({r.rsplit("/", 1)[0] for r in rel}):
        client.mkdir(f"{root}/{d}", parents=True)

    def one(name: str) -> None:
        # as `fs3 cp` writes a file: under a hidden partial name, renamed in its close (one meta call)
        final = f"{root}/{name}"
        head, _, base = final.rpartition("/")
        f = client.open(f"{head}/.{base}.fs3-part", "wb", buffering=0)
        try:
            f.write(data)
            f.close_as(final)
        finally:
            f.close()

    return len(rel) / _parallel(jobs, rel, one)


def client_read(client, root: str, rel: list[str], size: int, jobs: int) -> float:
    bufs = threading.local()

    def one(name: str) -> None:
        buf = getattr(bufs, "buf", None)
        if buf is None:
            buf = bufs.buf = bytearray(size)
        with client.open(f"{root}/{name}", "rb", buffering=0) as f:
            if f.readinto(buf) != size:
                raise InternalError(f"short read of {root}/{name}")

    return len(rel) / _parallel(jobs, rel, one)


# -- the `fs3 cp -r` command -------------------------------------------------------------------------

def cp_tree(src: str, dst: str, *, cluster: str | None, token: str | None, jobs: int, count: int,
            env: dict | None = None) -> float:
    """Files/s of ``fs3 cp -r SRC DST`` in a child process, its interpreter start included."""
    args = [sys.executable, "-m", "fs3", *(["--cluster", cluster] if cluster else []),
            "cp", "-r", "--no-progress", "-j", str(jobs), src, dst]
    environ = dict(os.environ if env is None else env)
    if token:
        environ["FS3_TOKEN"] = token
    start = time.perf_counter()
    proc = subprocess.run(args, capture_output=True, text=True, env=environ, timeout=3600)
    took = time.perf_counter() - start
    if proc.returncode != 0:
        raise InternalError(f"fs3 cp -r {src} {dst} failed: {proc.stderr.strip()[-500:]}")
    return count / took


def run(client, *, fs3_dir: str, local_dir: Path, files: int, size: int, jobs: int, cp: dict | None,
        mount=None, say: Callable[[str], None] = lambda _m: None,
        on_side: Callable[[SideResult], None] = lambda _s: None) -> SmallFilesResult:
    """Every side in turn, the local disk first; each side's figures go to ``on_side`` as they come.
    ``client``: a sync client; ``cp``: the cluster and token for `fs3 cp -r` (None: skip it); ``mount``:
    a callable giving a ``Mount`` of the cluster (None: skip).
    Everything written is removed at the end, however the run ends."""
    rel = names(files)
    data = os.urandom(size)
    root = f"{fs3_dir.rstrip('/')}/smallfiles-{os.getpid()}"
    local_dir.mkdir(parents=True, exist_ok=True)
    result = SmallFilesResult(files, size, jobs, SideResult("local"))
    client.mkdir(root, parents=True)
    try:
        say(f"local disk: creating, writing and fsyncing {files} files of {size} bytes, {jobs} at a time")
        result.local.write_files_per_s = posix_write(local_dir / "local", rel, data, jobs)
        result.local.read_files_per_s = posix_read(local_dir / "local", rel, size, jobs)
        result.local.note = "create+write+fsync+close; read back with O_DIRECT"
        on_side(result.local)

        say("fs3 client: the same files, created, written and closed the way `fs3 cp` does")
        side = SideResult("client", note="open(partial name)+write+close_as(name), as cp; read back whole")
        side.write_files_per_s = client_write(client, f"{root}/client", rel, data, jobs)
        side.read_files_per_s = client_read(client, f"{root}/client", rel, size, jobs)
        on_side(result.add(side))

        if cp is not None:
            say("fs3 cp -r: the local tree in, then out again (a fresh process each way)")
            side = SideResult("cp", note="fs3 cp -r in and out, interpreter start included")
            side.write_files_per_s = cp_tree(str(local_dir / "local"), f"fs3://{root}/cp", jobs=jobs, count=files,
                                             **cp)
            side.read_files_per_s = cp_tree(f"fs3://{root}/cp", str(local_dir / "cp-out"), jobs=jobs, count=files,
                                            **cp)
            on_side(result.add(side))

        if mount is not None:
            say("fs3 mount: the same files through a mount (create+write+fsync+close, read back with O_DIRECT)")
            with mount() as m:
                where = Path(m.mountpoint) / root.lstrip("/") / "mount"
                side = SideResult("mount", note="create+write+fsync+close; read back with O_DIRECT")
                side.write_files_per_s = posix_write(where, rel, data, jobs)
                side.read_files_per_s = posix_read(where, rel, size, jobs)
            on_side(result.add(side))
    finally:
        try:
            client.remove(root, recursive=True)
        except FileNotFoundError:
            pass
    return result


def describe(side: SideResult, local: SideResult) -> str:
    """One line of `fs3 bench smallfiles`'s table."""
    labels = {"local": "local disk", "client": "fs3 client", "cp": "fs3 cp -r", "mount": "fs3 mount"}
    line = f"  {labels.get(side.name, side.name):<11} write {side.write_files_per_s:8.0f} files/s"
    if side is not local and side.write_ratio is not None:
        line += f" = {ratio_text(side.write_ratio)}"
        if side.target is not None:
            line += f" {'ok' if side.meets_target else 'MISSED'} (target >= {side.target}x)"
    line = line.ljust(70) + f"  read {side.read_files_per_s:8.0f} files/s"
    if side is not local and side.read_ratio is not None:
        line += f" = {ratio_text(side.read_ratio)}"
    return line + f"   [{side.note}]"
