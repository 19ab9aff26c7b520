"""The kernel's attribute and entry caches of a mount, kept true to what other clients change.

With ``--attr-timeout T`` the kernel keeps what a stat returned (and which inode a name leads to) for up
to T seconds instead of asking fs3 each time. What other clients change reaches the mount through the
meta servers' change feeds (client/_watch.py) within milliseconds, and the kernel's copy of each changed
inode is dropped then (``fuse_invalidate_path`` for every path this mount saw it under); T only bounds
how stale a copy can get when a feed cannot be followed. An ``open`` compares the inode meta returns
with the attributes the kernel was given and drops them first when they differ, so a file opened after
another client closed it has that client's length and times (close-to-open, docs/consistency.md).
Changes this mount makes itself the kernel already knows: a feed entry that matches the attributes the
mount last returned is skipped.

Dropping an inode's attributes does not drop the name that leads to it (the kernel's dentry; the
high-level libfuse API cannot name its parent to the kernel). A name another client removed is found
out when the kernel next asks about it: meta says it is gone, and the mount answers ESTALE, once,
rather than ENOENT, for a path the kernel was told exists; the kernel then looks the path up again
(as it does for NFS), finds it missing, and an O_CREAT open creates it.
"""

from __future__ import annotations

import ctypes
import errno
import logging
import queue
import threading

import mfusepy

log = logging.getLogger(__name__)

MAX_INODES = 200_000  # inodes whose paths are remembered (past it the oldest half is forgotten:
                      # their kernel copies then expire on their own, within the timeout)

_libfuse = mfusepy._libfuse
_libfuse.fuse_invalidate_path.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
_libfuse.fuse_invalidate_path.restype = ctypes.c_int

Version = tuple[int, int, int, int, int, int, int]


def version_of_stat(st) -> Version:
    """What the kernel was told of a ``FileStat`` that can change (a feed entry compares to this)."""
    return (st.ctime_ns, st.mtime_ns, st.size, st.nlink, st.st_mode & 0o7777, st.uid, st.gid)


def version_of_inode(inode) -> Version:
    """The same of a ``meta_pb2.Inode`` or ``meta_pb2.InodeChange``."""
    length = getattr(inode, "length", 0)
    return (inode.ctime_ns, inode.mtime_ns, length, inode.nlink, inode.mode & 0o7777, inode.uid, inode.gid)


class KernelCache:
    def __init__(self, timeout: float):
        self.timeout = timeout
        self.dropped = 0                              # kernel copies dropped (for tests and stats)
        self._fuse: int | None = None                 # libfuse's ``struct fuse *``, once serving
        self._paths: dict[int, set[str]] = {}         # inode -> paths this mount saw it under
        self._known: dict[int, Version] = {}          # inode -> what the kernel was last told of it
        self._inode_of: dict[str, int] = {}           # path -> the inode the kernel was told it leads to
        self._lock = threading.Lock()
        self._changes: queue.SimpleQueue = queue.SimpleQueue()
        self._thread: threading.Thread | None = None

    @property
    def enabled(self) -> bool:
        return self.timeout > 0

    def serving(self) -> None:
        """Called on a FUSE thread as the mount starts serving: learn libfuse's handle, start applying."""
        if not self.enabled:
            return
        self._fuse = _libfuse.fuse_get_context().contents.fuse
        self._thread = threading.Thread(target=self._apply, name="fs3-mount-cache", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self._changes.put(StopIteration)

    def saw(self, path: str, st) -> None:
        """The kernel is given ``st`` for ``path`` (a getattr's answer)."""
        if not self.enabled:
            return
        with self._lock:
            paths = self._paths.get(st.inode)
            if paths is None:
                if len(self._paths) >= MAX_INODES:
                    for ino in list(self._paths)[: MAX_INODES // 2]:
                        self._forget(ino)
                paths = self._paths[st.inode] = set()
            old = self._inode_of.get(path)
            if old is not None and old != st.inode and old in self._paths:
                self._paths[old].discard(path)
            paths.add(path)
            self._inode_of[path] = st.inode
            self._known[st.inode] = version_of_stat(st)

    def stale(self, path: str) -> bool:
        """Meta says ``path`` does not exist: whether the kernel was told it does (then answer ESTALE,
        so that it looks the path up again). Forgotten here either way: the next answer is ENOENT."""
        if not self.enabled:
            return False
        with self._lock:
            ino = self._inode_of.pop(path, None)
            if ino is None:
                return False
            paths = self._paths.get(ino)
            if paths is not None:
                paths.discard(path)
            return True

    def _forget(self, ino: int) -> None:
        for p in self._paths.pop(ino, ()):
            if self._inode_of.get(p) == ino:
                del self._inode_of[p]
        self._known.pop(ino, None)

    def notify(self, changes) -> None:
        """A batch of feed entries (``meta_pb2.InodeChange``), or None: anything may have changed. Runs
        on the client's loop: only queued here."""
        if self.enabled:
            self._changes.put(changes)

    def opening(self, inode) -> None:
        """An open got ``inode`` (``meta_pb2.Inode``) from meta: drop the kernel's copy if it is older,
        before the open returns (the kernel reads up to the size it holds)."""
        if not self.enabled or self._fuse is None:
            return
        now = version_of_inode(inode)
        with self._lock:
            known = self._known.get(inode.id)
            if known is None or known == now:
                return
            self._known[inode.id] = now
            paths = list(self._paths.get(inode.id, ()))
        for p in paths:
            self._drop(inode.id, p)

    def changed_here(self, path: str) -> None:
        """This mount changed the inode ``path`` leads to in a way its other names show (a hard link made
        or removed changes every name's link count): drop the kernel's copies under every name before the
        call returns, rather than when the feed brings the change back."""
        if not self.enabled or self._fuse is None:
            return
        with self._lock:
            ino = self._inode_of.get(path)
            if ino is None:
                return
            self._known.pop(ino, None)
            paths = list(self._paths.get(ino, ()))
        for p in paths:
            self._drop(ino, p)

    def catch_up(self, client) -> None:
        """Drop the kernel's copies of what changed up to now, before returning (a lock was granted:
        what the last holder changed must show, though the feed has not brought it yet)."""
        if self.enabled and self._fuse is not None:
            self._apply_batch(client.pending_changes())

    def _apply(self) -> None:
        while True:
            changes = self._changes.get()
            if changes is StopIteration:
                return
            try:
                self._apply_batch(changes)
            except Exception:  # noqa: BLE001 - a failed invalidation must not stop the next ones
                log.exception("dropping kernel copies of changed inodes failed")

    def _apply_batch(self, changes) -> None:
        drop: list[tuple[int, str]] = []
        with self._lock:
            if changes is None:
                drop = [(ino, p) for ino, paths in self._paths.items() for p in paths]
                self._known.clear()
            else:
                for c in changes:
                    if c.inode not in self._paths:
                        continue
                    if c.removed:
                        self._known.pop(c.inode, None)
                    elif self._known.get(c.inode) == version_of_inode(c):
                        continue  # the kernel was given this already (a change made through this mount)
                    else:
                        self._known.pop(c.inode, None)
                    drop += [(c.inode, p) for p in self._paths[c.inode]]
        for ino, p in drop:
            self._drop(ino, p)

    def _drop(self, ino: int, path: str) -> None:
        rc = _libfuse.fuse_invalidate_path(self._fuse, path.encode("utf-8", "surrogateescape"))
        self.dropped += 1
        if rc == -errno.ENOENT:  # the kernel no longer knows this path: forget it here too
            with self._lock:
                paths = self._paths.get(ino)
                if paths is not None:
                    paths.discard(path)
                    if self._inode_of.get(path) == ino:
                        del self._inode_of[path]
                    if not paths:
                        self._forget(ino)
