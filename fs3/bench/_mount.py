"""A mount for a benchmark: `fs3 mount --foreground` in a child process of its own session, there for a
``with`` block and unmounted, its process stopped, however the block ends."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from fs3._errors import Unavailable


def fuse_available() -> bool:
    """Whether a FUSE mount can be made here (the device and Debian's fuse3 tools)."""
    return os.path.exists("/dev/fuse") and bool(shutil.which("fusermount3") or shutil.which("fusermount"))


def mounted_under(path: Path) -> list[str]:
    """Mount points at or below ``path`` (from /proc/self/mounts)."""
    root = os.path.realpath(path)
    found = []
    try:
        with open("/proc/self/mounts") as f:
            for line in f:
                point = line.split()[1].encode().decode("unicode_escape")
                if point == root or point.startswith(root.rstrip("/") + "/"):
                    found.append(point)
    except OSError:
        pass
    return found


def unmount(point: str | Path) -> bool:
    """Unmount ``point`` (lazily when it is busy); whether it is unmounted now."""
    tool = shutil.which("fusermount3") or shutil.which("fusermount")
    for lazy in (False, True):
        if not os.path.ismount(point):
            return True
        args = [tool, "-u", *(["-z"] if lazy else []), str(point)] if tool else \
            ["umount", *(["-l"] if lazy else []), str(point)]
        subprocess.run(args, capture_output=True, timeout=30, check=False)
    return not os.path.ismount(point)


class Mount:
    """``fs3 [--cluster C] mount --foreground MOUNTPOINT`` (the token passed in FS3_TOKEN, not on the
    command line), waited for until the mount point is mounted."""

    def __init__(self, mountpoint: Path, *, cluster: str | None, token: str | None, log: Path,
                 options: tuple[str, ...] = (), timeout: float = 60.0):
        self.mountpoint = Path(mountpoint)
        self.cluster, self.token, self.log = cluster, token, Path(log)
        self.options, self.timeout = options, timeout
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> Mount:
        self.mountpoint.mkdir(parents=True, exist_ok=True)
        args = [sys.executable, "-m", "fs3", *(["--cluster", self.cluster] if self.cluster else []),
                "mount", "--foreground", *self.options, str(self.mountpoint)]
        env = dict(os.environ)
        if self.token:
            env["FS3_TOKEN"] = self.token
        with open(self.log, "ab") as log:
            # its own session: a Ctrl-C at the terminal reaches the bench, which unmounts in order
            self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                         env=env, start_new_session=True)
        try:
            deadline = time.monotonic() + self.timeout
            while not os.path.ismount(self.mountpoint):
                if self.proc.poll() is not None:
                    raise Unavailable(f"fs3 mount exited ({self.proc.returncode}): {self._tail()}")
                if time.monotonic() > deadline:
                    raise Unavailable(f"{self.mountpoint} was not mounted within {self.timeout:.0f} s: {self._tail()}")
                time.sleep(0.05)
        except BaseException:
            self.close()
            raise
        return self

    def _tail(self) -> str:
        try:
            return self.log.read_text(errors="replace").strip()[-500:]
        except OSError:
            return ""

    def close(self) -> None:
        unmount(self.mountpoint)
        proc, self.proc = self.proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def __exit__(self, *exc) -> None:
        self.close()
