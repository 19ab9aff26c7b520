"""fs3 as a FUSE file system (libfuse 3 through mfusepy): `fs3 mount MOUNTPOINT`.

Every operation maps to one client call; errors keep their errno. Open files are fs3 file handles
(write-behind, flushed on flush/fsync/release); a handle opened with O_DIRECT (or every handle with
``--direct-io``) bypasses the kernel's page cache, so reads always come from the cluster.
"""

from __future__ import annotations

import errno
import os
import stat
import threading
import time

import mfusepy
from mfusepy import FuseOSError, Operations

from ._client import Client
from ._fuse_errors import fuse_errors as _errors
from ._mount_cache import KernelCache
from ._mount_callers import acts_for_callers, current_caller
from ._mount_locks import LockOps
from ._mount_xattrs import XattrOps
from ._types import FileStat

UTIME_NOW, UTIME_OMIT = (1 << 30) - 1, (1 << 30) - 2
ATTR_TIMEOUT = 30.0  # seconds the kernel keeps attributes by default (see mount)


_KEEP = object()  # _release: the handles keep their path


def _afile_of(file):
    """The AsyncFile below a client file object (buffered or raw)."""
    return getattr(file, "raw", file)._afile


def _open_inode(h) -> int | None:
    """The inode a handle has open now (None: none, until its next use opens the file again)."""
    f = h._file
    return None if f is None else getattr(f, "raw", f)._afile.inode.id


def _shared(file) -> bool:
    """Whether meta said, at open, that another client shares writes to ``file``."""
    return getattr(getattr(file, "raw", file)._afile, "shared", False)
HIDDEN = ".fuse_hidden"  # libfuse's name for a removed file still open (see FS3Fuse._hide)


class _Handle:
    def __init__(self, client: Client, path: str, file, writable: bool, size: int, append: bool = False):
        self.client, self.path, self._file, self.writable = client, path, file, writable
        self.size = size  # including writes still in the handle's buffer
        self.append = append
        self.created = False  # made by this handle's open, not yet stat'ed (see FS3Fuse._created)
        self.lock = threading.Lock()
        self.error: OSError | None = None

    @property
    def file(self):
        if self._file is None:  # committed by a flush; the descriptor is still in use: open it again
            self._file = self.client.open(self.path, "ab" if self.append else "r+b")
        return self._file

    def sync(self) -> None:
        """A removed file's handle (``path`` None): make what was written durable, but keep its fs3
        session, which alone keeps the removed file's data (an orphan at meta) until release."""
        if self._file is not None:
            self._file.flush()

    def commit(self) -> None:
        """Make what was written visible to every other open and client: flush the buffer and commit
        the fs3 write session (which sets the file's length) without ending it, so the file stays open
        here even if another client removes it. A write that failed raises here (or did at an earlier
        call, or at the commit a utimens made: kept in ``error`` until then), and the file is closed
        (the next use opens it again); the length then counts only the bytes storage acknowledged."""
        self._raise_kept()
        if self._file is not None:
            f = self._file
            raw = f.raw if hasattr(f, "raw") else f
            try:
                f.flush()
                raw.commit()
            except BaseException:
                self._file = None
                try:
                    f.close()
                except OSError:
                    pass  # the error raised below says it
                raise
            finally:
                self.size = raw.inode.length

    def close(self) -> None:
        """The last descriptor went (release), or times were set (utimens): commit and end the fs3
        session. Raises as ``commit``, and the file is closed whatever it raises."""
        f, self._file = self._file, None
        try:
            self._raise_kept()
        finally:
            if f is not None:
                raw = f.raw if hasattr(f, "raw") else f
                try:
                    f.close()
                finally:
                    self.size = raw.inode.length

    def _raise_kept(self) -> None:
        """A write's failure kept for this descriptor's next commit (see utimens) is raised there."""
        if self.error is not None:
            error, self.error = self.error, None
            raise error


class FS3Fuse(LockOps, XattrOps, Operations):
    use_ns = True

    def __init__(self, client: Client, *, direct_io: bool = False, attr_timeout: float = 0.0):
        self.client = client
        self.direct_io = direct_io
        self.cache = KernelCache(attr_timeout)  # the kernel's copies of attributes and entries
        self._lockers: set = set()  # see LockOps
        self._handles: dict[int, _Handle] = {}
        self._hidden: dict[str, list[_Handle]] = {}  # see rename
        self._next = 1
        self._lock = threading.Lock()
        self._for_callers = acts_for_callers(client)  # make inodes as (and owned by) the calling user

    # -- handles ------------------------------------------------------------------------------------

    def _register(self, path: str, file, writable: bool, fi, append: bool = False) -> int:
        size = (file.raw if hasattr(file, "raw") else file).size
        with self._lock:
            fh = self._next
            self._next += 1
            self._handles[fh] = _Handle(self.client, path, file, writable, size, append)
        fi.fh = fh
        # Uncached when another client shares writes to the file: this host's page cache would not learn
        # of that client's writes, and a shared mapping (mmap) cannot be kept coherent across clients, so
        # the kernel refuses one here (ENODEV) rather than let two hosts' copies of it drift apart.
        if self.direct_io or fi.flags & getattr(os, "O_DIRECT", 0) or _shared(file):
            fi.direct_io = 1
        return 0

    def _handle(self, fi) -> _Handle:
        h = self._handles.get(fi.fh if fi is not None else 0)
        if h is None:
            raise FuseOSError(errno.EBADF)
        return h

    def _show_writes(self, path: str, but: _Handle | None = None) -> None:
        """Send what other writable handles of ``path`` hold in their buffers to storage, so reads
        through this mount see it (read-after-write within one client: docs/consistency.md)."""
        for h in list(self._handles.values()):
            if h.path == path and h.writable and h is not but and h._file is not None:
                with h.lock:
                    try:
                        if h._file is not None:  # its buffer to the file, and the file's writes acknowledged
                            h._file.flush()
                            getattr(h._file, "raw", h._file).flush()
                    except OSError:
                        pass  # the writer's own descriptor reports it (at its next call)

    def _removing(self, path: str):
        """The handles open on ``path``, locked and each holding its file open (a flush may have closed
        it): meta keeps a removed file's data while a session of it is open. The caller removes or
        replaces ``path``, then lets go (``_release``) with what the handles' path is then."""
        handles = [h for h in list(self._handles.values()) if h.path == path]
        for h in handles:
            h.lock.acquire()
            try:
                h.file  # noqa: B018 - (re)opened while the name still leads to it
            except BaseException:
                h.lock.release()
                raise
        return handles

    @staticmethod
    def _release(handles, path) -> None:
        for h in handles:
            if path is not _KEEP:
                h.path = path
            h.lock.release()

    def _fstat(self, h: _Handle) -> dict:
        """fstat of a handle whose file was removed: what it was at open, nlink 0, the handle's size."""
        f = h.file
        inode = (f.raw if hasattr(f, "raw") else f).inode
        return {"st_mode": stat.S_IFREG | (inode.mode & 0o7777), "st_ino": inode.id, "st_nlink": 0,
                "st_uid": inode.uid, "st_gid": inode.gid, "st_size": h.size, "st_atime": inode.atime_ns,
                "st_mtime": inode.mtime_ns, "st_ctime": inode.ctime_ns,
                "st_blksize": inode.layout.chunk_size or (1 << 20), "st_blocks": -(-h.size // 512)}

    def _open_size(self, path: str) -> int:
        sizes = [h.size for h in list(self._handles.values()) if h.path == path and h.writable]
        return max(sizes, default=0)

    def _caller(self):
        """The local user a creating call acts for (None: the token's user; see _mount_callers.py)."""
        return current_caller() if self._for_callers else None

    # -- metadata -----------------------------------------------------------------------------------

    def init(self, path):
        self.cache.serving()

    def destroy(self, path):
        self.cache.stop()

    @_errors
    def getattr(self, path, fh=None):
        h = self._handles.get(getattr(fh, "fh", 0)) if fh is not None else None
        if h is None and path in self._hidden:
            h = next(iter(self._hidden.get(path) or ()), None)
            if h is None:
                raise FuseOSError(errno.ENOENT)
        if h is not None and (path is None or h.path is None):
            with h.lock:
                return self._fstat(h)
        try:
            st = self._created(h, path) or self.client.lstat(path)
        except FileNotFoundError:
            if h is None:
                if self.cache.stale(path):  # removed by another client: the kernel looks it up again
                    raise FuseOSError(errno.ESTALE) from None
                raise
            st = None
        if h is not None and (st is None or st.inode != (_open_inode(h) or st.inode)):  # removed elsewhere
            with h.lock:
                return self._fstat(h)
        assert st is not None  # (None only with a handle, answered above)
        size = max(st.size, self._open_size(path)) if st.is_file else st.size
        self.cache.saw(path, st)
        return {"st_mode": st.st_mode, "st_ino": st.inode, "st_nlink": st.nlink, "st_uid": st.uid,
                "st_gid": st.gid, "st_size": size, "st_atime": st.atime_ns, "st_mtime": st.mtime_ns,
                "st_ctime": st.ctime_ns, "st_blksize": st.chunk_size or (1 << 20),
                # stored bytes (a sparse file's holes not counted), and what open writers here hold unsent
                "st_blocks": st.blocks + max(0, -(-(size - st.size) // 512)), "st_rdev": st.rdev}

    @staticmethod
    def _created(h: _Handle | None, path: str) -> FileStat | None:
        """The attributes of a file this handle just made (libfuse asks right after create): meta's
        answer to the create, which a stat would only repeat."""
        if h is None or not h.created or h.path != path or h._file is None:
            return None
        h.created = False
        return FileStat.from_inode(path, _afile_of(h._file).inode)

    @_errors
    def readdir(self, path, fh):
        # with use_ino the kernel takes each entry's inode number from here (0 would hide it)
        return [(name, {"st_ino": ino, "st_mode": kind}, 0) for name, ino, kind in self.client.scan(path)]

    @_errors
    def mkdir(self, path, mode):
        self.client.mkdir(path, mode & 0o7777, caller=self._caller())
        return 0

    @_errors
    def rmdir(self, path):
        self.client.rmdir(path)
        return 0

    @_errors
    def unlink(self, path):
        with self._lock:
            if self._hidden.pop(path, None) is not None:  # its last release (see _hide)
                return 0
        handles = self._removing(path)
        try:
            self.client.unlink(path)
        except BaseException:
            self._release(handles, _KEEP)
            raise
        self._release(handles, None)  # open descriptors go on with the file, by inode
        self.cache.changed_here(path)  # its other names' link count
        return 0

    @_errors
    def rename(self, old, new):
        if os.path.basename(new).startswith(HIDDEN) and new not in self._hidden:
            return self._hide(old, new)
        if old == new:
            self.client.rename(old, new)
            return 0
        replaced, moved = self._removing(new), [h for h in list(self._handles.values()) if h.path == old]
        try:
            self.client.rename(old, new)
        except BaseException:
            self._release(replaced, _KEEP)
            raise
        self._release(replaced, None)
        for h in moved:
            h.path = new
        return 0

    def _hide(self, old, hidden) -> int:
        """libfuse's unlink of a file still open renames it to ``.fuse_hidden*`` (removed at its last
        release) so that fstat can still name it. fs3 keeps a removed file's data while it is open (an
        orphan at meta), so the file is removed for real, as on a local disk, and the hidden name only
        answers fstat for its handles, and that last unlink."""
        handles = self._removing(old)
        try:
            self.client.unlink(old)
        except BaseException:
            self._release(handles, _KEEP)
            raise
        with self._lock:
            self._hidden[hidden] = handles
        self._release(handles, None)
        return 0

    @_errors
    def link(self, target, source):  # `ln source target`
        self.client.link(source, target)
        self.cache.changed_here(source)  # its link count, under every name it has
        return 0

    @_errors
    def symlink(self, target, source):  # `ln -s source target`
        self.client.symlink(source, target, caller=self._caller())
        return 0

    @_errors
    def readlink(self, path):
        return self.client.readlink(path)

    @_errors
    def chmod(self, path, mode):
        self.client.chmod(path, mode & 0o7777, follow_symlinks=False)
        return 0

    @_errors
    def chown(self, path, uid, gid):
        self.client.chown(path, uid, gid, follow_symlinks=False)
        return 0

    @_errors
    def utimens(self, path, times=None):
        # libfuse hands UTIME_NOW and UTIME_OMIT over as nanosecond values with tv_sec 0
        now = time.time_ns()
        atime, mtime = ((None if t == UTIME_OMIT else now if t == UTIME_NOW else t) for t in times or (now, now))
        if mtime is not None:  # an open writer's close would stamp its own mtime over this one: end its
            # session now (a write after this starts a new one, whose close stamps mtime again)
            for h in [h for h in list(self._handles.values()) if h.path == path and h.writable]:
                with h.lock:
                    try:
                        h.close()
                    except OSError as exc:  # the write's error belongs to its descriptor's next call
                        h.error = h.error or exc
        self.client.utime(path, (atime, mtime), follow_symlinks=False)
        return 0

    @_errors
    def truncate(self, path, length, fh=None):
        for h in [h for h in list(self._handles.values()) if h.path == path and h.writable]:
            with h.lock:
                h.commit()
                h.size = length
        if fh is not None and getattr(fh, "fh", 0) in self._handles and self._handles[fh.fh].writable:
            h = self._handles[fh.fh]
            with h.lock:
                h.file.truncate(length)
                h.size = length
            return 0
        self.client.truncate(path, length)
        return 0

    @_errors
    def statfs(self, path):
        s = self.client.statfs()
        block = s.chunk_size or (1 << 20)
        return {"f_bsize": block, "f_frsize": block, "f_blocks": s.total_bytes // block,
                "f_bfree": s.free_bytes // block, "f_bavail": s.free_bytes // block,
                "f_files": max(s.inodes, 1) + (1 << 20), "f_ffree": 1 << 20, "f_favail": 1 << 20,
                "f_namemax": 255}

    @_errors
    def mknod(self, path, mode, dev):
        if stat.S_ISREG(mode) or not stat.S_IFMT(mode):  # mknod(2) of a regular file: an empty one
            self.client.open(path, "xb", perm=mode & 0o7777, caller=self._caller()).close()
        else:
            self.client.mknod(path, mode, dev, caller=self._caller())
        return 0

    # -- data ---------------------------------------------------------------------------------------

    @_errors
    def create(self, path, mode, fi):
        flags = fi.flags
        append = bool(flags & os.O_APPEND) and not flags & os.O_TRUNC
        # Writable handles are buffered (a chunk's worth): the kernel hands over writes of a few KiB, and
        # each fs3 write rewrites its chunk on every replica, so small writes are gathered first.
        # The kernel found no such file, but another process or client may make it meanwhile: only
        # O_TRUNC truncates what is there, and only O_EXCL refuses it.
        if flags & os.O_EXCL or not (append or flags & os.O_TRUNC):
            try:
                f = self.client.open(path, "x+b", perm=mode & 0o7777, caller=self._caller())
            except FileExistsError:
                if flags & os.O_EXCL:
                    raise
                f = self.client.open(path, "r+b")
        else:
            f = self.client.open(path, "a+b" if append else "w+b", perm=mode & 0o7777, caller=self._caller())
        self._register(path, f, True, fi, append=append)
        self._handles[fi.fh].created = True
        return 0

    @_errors
    def open(self, path, fi):
        acc = fi.flags & os.O_ACCMODE
        self._show_writes(path)  # a new descriptor sees what the others of this mount wrote
        try:
            return self._open(path, fi, acc)
        except FileNotFoundError:
            if self.cache.stale(path):  # removed by another client: the kernel looks it up again (and
                raise FuseOSError(errno.ESTALE) from None  # an O_CREAT open then creates it)
            raise

    def _open(self, path, fi, acc) -> int:
        if acc == os.O_RDONLY:
            f = self.client.open(path, "rb", buffering=0)
            self.cache.opening(getattr(f, "raw", f)._afile.inode)
            return self._register(path, f, False, fi)
        if fi.flags & os.O_TRUNC:
            mode = "w+b" if acc == os.O_RDWR else "wb"
        elif fi.flags & os.O_APPEND:
            mode = "a+b" if acc == os.O_RDWR else "ab"
        else:
            mode = "r+b"
        f = self.client.open(path, mode)
        self.cache.opening(getattr(f, "raw", f)._afile.inode)
        return self._register(path, f, True, fi, append=bool(fi.flags & os.O_APPEND))

    @_errors
    def read(self, path, size, offset, fi):
        h = self._handle(fi)
        self._show_writes(path, but=h)
        reader = h._file if not h.writable else None
        if reader is not None:  # positional: threads reading one descriptor do not take turns
            return reader.pread(size, offset)
        with h.lock:
            if h.file.tell() != offset:
                h.file.seek(offset)
            buf = bytearray(size)
            n = h.file.readinto(buf)
            return bytes(buf[:n])

    @_errors
    def write(self, path, data, offset, fi):
        h = self._handle(fi)
        with h.lock:
            if h.file.tell() != offset:  # a seek flushes the buffer: only when the write is not sequential
                h.file.seek(offset)
            n = h.file.write(data)
            h.size = max(h.size, offset + n)
            return n

    @_errors
    def flush(self, path, fi):
        # close(2) calls flush at once and release some time later: commit now, so a reader that opens
        # the file right after close() sees all of it
        h = self._handle(fi)
        if h.writable:
            with h.lock:
                if h.path is None:  # removed: its session must stay open
                    h.sync()
                else:
                    h.commit()
        return 0

    @_errors
    def fsync(self, path, datasync, fi):
        return self.flush(path, fi)

    @_errors
    def release(self, path, fi):
        self._release_flock(path, fi)
        with self._lock:
            h = self._handles.pop(fi.fh, None)
        if h is not None:
            with h.lock:
                h.close()
        return 0


def mount(client: Client, mountpoint: str, *, foreground: bool = True, direct_io: bool = False,
          allow_other: bool = False, attr_timeout: float = ATTR_TIMEOUT) -> None:
    """Serve ``client``'s cluster at ``mountpoint`` until unmounted (blocks). ``attr_timeout``: seconds
    the kernel may keep attributes and entries; what other clients change drops them at once through
    meta's change feeds (client/_mount_cache.py); 0: every stat asks meta. Names that do not exist are
    never cached: another client's new file is seen at once."""
    options = {"fsname": "fs3", "subtype": "fs3", "default_permissions": True, "attr_timeout": attr_timeout,
               "entry_timeout": attr_timeout, "negative_timeout": 0}
    options["use_ino"] = True  # st_ino is the fs3 inode number: one for all of a file's hard links
    if allow_other:
        options["allow_other"] = True
    ops = FS3Fuse(client, direct_io=direct_io, attr_timeout=attr_timeout)
    stop_watching = client.watch_changes(ops.cache.notify) if attr_timeout > 0 else None
    try:
        mfusepy.FUSE(ops, mountpoint, foreground=foreground, raw_fi=True, nothreads=False, **options)
    finally:
        if stop_watching is not None:
            stop_watching()
