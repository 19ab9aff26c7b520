"""What a ``TokenDataset`` shares with its copies in DataLoader workers: where the next pass over the data
starts (epoch, position), and whether workers have read it. A worker's copy is made once (a fork, or a
pickle for spawn and forkserver) and, with ``persistent_workers``, lives for many epochs: the owner's
``set_epoch``/``load_state_dict`` reach it through this block of shared memory, and a worker that ends
its pass moves the block on to the next epoch. Also the watch that ends a worker whose trainer died."""

from __future__ import annotations

import os
import select
import signal
import threading
import time

import numpy as np

try:
    import torch
except ImportError:  # pragma: no cover - exercised where torch is absent (no workers then)
    torch = None

EPOCH, POSITION, GENERATION, WORKERS, READ = range(5)
HEAD = 8
SLOTS = 1024  # workers whose ends of passes are tracked (a pass of more never moves on by itself)


class Control:
    """Where the next pass starts, in int64s of shared memory (a torch tensor, which multiprocessing hands
    to spawned workers as a file descriptor; a forked worker maps the same pages).

    The owner sets (epoch, position) and bumps a generation. Each worker that reaches the end of its
    share of a pass records that epoch in its own slot (one 8-byte write, tagged with the generation);
    once every worker has ended a pass of this generation, the next pass starts at the epoch after the
    earliest of theirs. A pass abandoned half-way starts again where it started, as one in-process does.
    """

    def __init__(self) -> None:
        if torch is not None:
            self._tensor = torch.zeros(HEAD + SLOTS, dtype=torch.int64).share_memory_()
            self._a = self._tensor.numpy()
        else:
            self._tensor = None
            self._a = np.zeros(HEAD + SLOTS, dtype=np.int64)

    def __getstate__(self):
        return {"tensor": self._tensor, "a": None if self._tensor is not None else self._a}

    def __setstate__(self, state) -> None:
        self._tensor = state["tensor"]
        self._a = self._tensor.numpy() if self._tensor is not None else state["a"]

    @property
    def start(self) -> tuple[int, int]:
        """(epoch, global position) where the next pass starts."""
        a = self._a
        epoch, position, gen, workers = int(a[EPOCH]), int(a[POSITION]), int(a[GENERATION]), int(a[WORKERS])
        if 0 < workers <= SLOTS:
            slots = a[HEAD:HEAD + workers]
            if (slots >> 32 == gen + 1).all():
                return int((slots & 0xFFFFFFFF).min()), 0  # (slots hold epoch + 1)
        return epoch, position

    def set(self, epoch: int, position: int) -> None:
        """The owner's word: the next pass starts here (whatever workers did before)."""
        a = self._a
        a[WORKERS] = 0
        a[READ] = 0  # the owner knows where it stands again
        a[EPOCH], a[POSITION] = epoch, position
        a[GENERATION] += 1

    def begin(self, workers: int) -> None:
        """A worker of a loader with ``workers`` workers starts a pass."""
        self._a[READ] = 1
        self._a[WORKERS] = workers

    def ended(self, worker: int, epoch: int) -> None:
        """Worker ``worker`` read the last of its share of ``epoch``."""
        if worker < SLOTS:
            self._a[HEAD + worker] = ((int(self._a[GENERATION]) + 1) << 32) | (epoch + 1)

    @property
    def workers_read(self) -> bool:
        return bool(self._a[READ])


_watched: set[int] = set()


def exit_with(owner: int) -> None:
    """End this process (a DataLoader worker) as soon as process ``owner`` (its trainer) ends, however
    it ends: a kill -9 of the trainer runs no cleanup of its own, so the worker watches for it.

    Two watches: the kernel's parent-death signal (SIGKILL when the parent goes: the trainer for fork
    and spawn, the fork server, which leaves with the trainer, for forkserver), which works even while
    the worker is stuck holding the GIL; and a thread waiting on a pidfd of the trainer itself."""
    key = os.getpid()
    if key in _watched or owner == key or owner <= 1:
        return
    _watched.add(key)
    _die_with_parent()
    try:
        fd = os.pidfd_open(owner)
    except (AttributeError, OSError):  # no pidfd (old kernel), or it is gone already
        fd = None
        if not _alive(owner):
            os._exit(0)

    def watch() -> None:
        if fd is not None:
            select.select([fd], [], [])  # readable once the owner has exited
        else:
            while _alive(owner):
                time.sleep(0.5)
        os._exit(0)

    threading.Thread(target=watch, name="fs3-owner-watch", daemon=True).start()


def _die_with_parent() -> None:
    """PR_SET_PDEATHSIG(SIGKILL), unless this worker was forked by a thread other than its parent's main
    thread (the signal follows the forking thread: one that ends early would take the workers along)."""
    if threading.current_thread().name != "MainThread" or not os.path.exists("/proc/self"):
        return
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        parent = os.getppid()
        if libc.prctl(1, signal.SIGKILL, 0, 0, 0) != 0:  # PR_SET_PDEATHSIG
            return
    except (OSError, AttributeError):  # not Linux, or no libc to call: the pidfd watch still stands
        return
    if os.getppid() != parent:  # the parent went before the signal was armed
        os._exit(0)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
