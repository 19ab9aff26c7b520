"""POSIX record locks (fcntl) and flock on `fs3 mount`, kept by meta (meta/ops/lock.py), so processes on
different mounts and hosts exclude each other as processes on one host do.

A lock is a barrier for data too (close-to-open applied to locks, as NFS does): before this mount
releases a lock it commits what its handles of the file wrote, and after it takes one it learns the
file's length from meta again, so the next holder, wherever it runs, reads what the last one wrote. To
share a file between mounts on different hosts, mount with ``--direct-io`` as well (the kernel's page
cache of one host does not know what another host wrote); SQLite's WAL mode needs shared memory on one
host, by SQLite's own rules, so across hosts use its rollback journal.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import time
from typing import Any

import mfusepy
from mfusepy import FuseOSError

from ._fuse_errors import fuse_errors

POSIX, FLOCK = 1, 2
UNLOCK, READ, WRITE = 0, 1, 2
_FROM_KERNEL = {fcntl.F_RDLCK: READ, fcntl.F_WRLCK: WRITE, fcntl.F_UNLCK: UNLOCK}
_TO_KERNEL = {READ: fcntl.F_RDLCK, WRITE: fcntl.F_WRLCK}
_WAIT_MAX = 0.2  # seconds between tries of a blocking lock


class _Flock(ctypes.Structure):
    """struct flock (Linux)."""

    _fields_ = [("l_type", ctypes.c_short), ("l_whence", ctypes.c_short), ("l_start", ctypes.c_int64),
                ("l_len", ctypes.c_int64), ("l_pid", ctypes.c_int)]


def _flock_of(lock) -> _Flock:
    """The struct flock libfuse passes (an address, or a ctypes pointer, as mfusepy hands it over)."""
    if isinstance(lock, int):
        return _Flock.from_address(lock)
    return ctypes.cast(lock, ctypes.POINTER(_Flock)).contents


def _drop_kernel_cache(path: str) -> None:
    """Drop the kernel's cached pages and attributes of ``path`` on this mount (called while serving a
    request, whose context names the mount); the next read asks the mount, which asks storage."""
    lib = mfusepy._libfuse
    if not hasattr(lib.fuse_invalidate_path, "argtypes") or lib.fuse_invalidate_path.argtypes is None:
        lib.fuse_invalidate_path.argtypes = (ctypes.c_void_p, ctypes.c_char_p)
        lib.fuse_invalidate_path.restype = ctypes.c_int
    lib.fuse_invalidate_path(ctypes.c_void_p(lib.fuse_get_context().contents.fuse), path.encode())
    # (-ENOENT when the kernel holds nothing of it: then there is nothing to drop)


def _interrupted() -> bool:
    """Whether the kernel asked to interrupt the request being served (its process got a signal)."""
    return bool(mfusepy._libfuse.fuse_interrupted())


def _afile(h):
    f = h.file
    return getattr(f, "raw", f)._afile


class LockOps:
    """The lock operations of FS3Fuse (which provides ``client`` and ``_handles``)."""

    client: Any
    cache: Any  # the mount's KernelCache
    _lockers: set  # (inode, lock kind, owner) that took a lock through this mount (until all released)
    _handles: dict[int, Any]

    @fuse_errors
    def lock(self, path, fi, cmd, lock):
        return self._posix_lock(path, fi, cmd, _flock_of(lock))

    @fuse_errors
    def flock(self, path, fi, op):
        kind = UNLOCK if op & fcntl.LOCK_UN else WRITE if op & fcntl.LOCK_EX else READ
        self._take(path, fi, FLOCK, kind, 0, 0, wait=not op & fcntl.LOCK_NB)
        return 0

    def _release_flock(self, path, fi) -> None:
        """The last descriptor of an open file went: its flock goes with it (POSIX locks go at flush,
        where libfuse releases them itself)."""
        if getattr(fi, "flock_release", 0):
            try:
                self.client.lock(self._inode(path, fi), str(fi.lock_owner), FLOCK, UNLOCK)
            except OSError:
                pass  # its client's lease ends it anyway

    def _posix_lock(self, path, fi, cmd, fl: _Flock) -> int:
        kind = _FROM_KERNEL.get(fl.l_type)
        if kind is None or fl.l_start < 0 or fl.l_len < 0:
            raise FuseOSError(errno.EINVAL)
        start, end = fl.l_start, (fl.l_start + fl.l_len if fl.l_len else 0)
        if cmd == fcntl.F_GETLK:
            reply = self.client.lock(self._inode(path, fi), str(fi.lock_owner), POSIX, kind or READ, start, end,
                                     test=True)
            if reply.granted:
                fl.l_type = fcntl.F_UNLCK
            else:
                c = reply.conflict
                fl.l_type, fl.l_whence, fl.l_start = _TO_KERNEL[c.type], 0, c.start
                fl.l_len = 0 if c.end >= (1 << 63) - 1 else c.end - c.start
                fl.l_pid = 0  # a process elsewhere: its pid means nothing here
            return 0
        if cmd not in (fcntl.F_SETLK, fcntl.F_SETLKW):
            raise FuseOSError(errno.EINVAL)
        self._take(path, fi, POSIX, kind, start, end, wait=cmd == fcntl.F_SETLKW)
        return 0

    def _take(self, path, fi, lock_kind: int, kind: int, start: int, end: int, *, wait: bool) -> None:
        ino = self._inode(path, fi)
        holder = (ino, lock_kind, str(fi.lock_owner))
        if kind == UNLOCK:
            if holder not in self._lockers:  # never locked here: nothing to release (libfuse unlocks at
                return                       # every flush, so every close(2) would ask meta)
            self._commit(path)  # what was written under the lock reaches the next holder
            self.client.lock(ino, str(fi.lock_owner), lock_kind, UNLOCK, start, end)
            if start == 0 and end == 0:
                self._lockers.discard(holder)
            return
        pause = 0.005
        while True:
            reply = self.client.lock(ino, str(fi.lock_owner), lock_kind, kind, start, end)
            if reply.granted:
                self._lockers.add(holder)
                break
            if not wait:
                raise FuseOSError(errno.EAGAIN)
            if _interrupted():  # the waiting process got a signal: fcntl/flock returns EINTR, as locally
                raise FuseOSError(errno.EINTR)
            time.sleep(pause)  # held elsewhere: ask again (another host cannot wake us)
            pause = min(_WAIT_MAX, pause * 2)
        self.cache.catch_up(self.client)  # what the last holder changed (names too) shows from here on
        self._refresh(path)
        if reply.shared:  # another client writes the file: what the kernel cached here may be stale
            _drop_kernel_cache(path)

    def _inode(self, path, fi) -> int:
        h = self._handles.get(getattr(fi, "fh", 0))
        return _afile(h).inode.id if h is not None else self.client.lstat(path).inode

    def _commit(self, path) -> None:
        for h in [h for h in list(self._handles.values()) if h.path == path and h.writable]:
            with h.lock:
                h.commit()

    def _refresh(self, path) -> None:
        """A lock was taken: learn the file's length from meta (another host may have grown it)."""
        handles = [h for h in list(self._handles.values()) if h.path == path]
        if not handles:
            return
        size = self.client.lstat(path).size
        for h in handles:
            with h.lock:
                if h._file is not None:
                    _afile(h).learn_length(size)
                h.size = max(h.size, size) if h.writable else size
