"""Local scratch directories of a build (spilled sort partitions, a worker's band buckets).

Each holds an ``.owner`` file locked (flock) by the process that made it for as long as it is in use. A
process killed with SIGKILL cannot remove its directory; the next build on the machine finds the lock
free and removes it. A lock, not a process id: a process id may be reused, or belong to another PID
namespace sharing the same /tmp.
"""

from __future__ import annotations

import fcntl
import glob
import os
import shutil
import tempfile

PREFIX = "fs3-build-"
OWNER = ".owner"


class Scratch:
    def __init__(self, kind: str, where: str | None = None):
        """A new directory under ``where`` (the temporary directory: ``TMPDIR``)."""
        sweep(where)
        self.path = tempfile.mkdtemp(prefix=f"{PREFIX}{kind}-", dir=where)
        # locked before it has its name: a sweep never sees the owner file of a directory unlocked
        taking = os.path.join(self.path, ".owner-taking")
        self._fd = os.open(taking, os.O_CREAT | os.O_RDWR, 0o600)
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        os.rename(taking, os.path.join(self.path, OWNER))

    def close(self) -> None:
        if self._fd >= 0:
            shutil.rmtree(self.path, ignore_errors=True)
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> str:
        return self.path

    def __exit__(self, *exc) -> None:
        self.close()


def sweep(where: str | None = None) -> list[str]:
    """Remove the scratch directories under ``where`` (the temporary directory) whose owner is gone;
    returns them."""
    gone = []
    for path in glob.glob(os.path.join(where or tempfile.gettempdir(), PREFIX + "*")):
        try:
            fd = os.open(os.path.join(path, OWNER), os.O_RDONLY)
        except OSError:  # not ours, being made, or already removed
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:  # its owner is alive
            continue
        finally:
            os.close(fd)
        shutil.rmtree(path, ignore_errors=True)
        gone.append(path)
    return gone
