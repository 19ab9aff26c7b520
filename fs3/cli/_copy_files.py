"""What `fs3 cp` and `fs3 sync` do to one path: the two sides of a copy, walking a tree, and copying one
file safely.

A file is written under a partial name beside its destination (``.NAME.fs3-part``) and renamed over the
final name only when every byte is there (and, with ``checksum``, read back and compared), so a killed
copy never leaves a short file under the final name. The partial name is fixed per destination: the next
copy of that file reuses (truncates) it, and ``resume`` verifies its prefix against the source by CRC32C
and appends the rest. An fs3 partial's length is committed every ``COMMIT_EVERY`` bytes (meta keeps the
length of the last commit when the writer dies), so a resume after ``kill -9`` finds what was written.
"""

from __future__ import annotations

import os
import shutil
import stat as _stat
import threading
from dataclasses import dataclass, replace

from fs3._checksum import crc32c
from fs3._errors import ChecksumMismatch, InvalidArgument

COPY_BLOCK = 4 << 20
COMMIT_EVERY = 8 << 20
PARTIAL_SUFFIX = ".fs3-part"
_KINDS = {"directory": "dir", "file": "file", "symlink": "link"}


@dataclass(frozen=True)
class Meta:
    """What a copy needs to know of one path, on either side."""

    kind: str  # "file", "dir", "link" or "other"
    size: int
    mode: int  # permission bits
    mtime_ns: int
    atime_ns: int
    uid: int
    gid: int
    ident: tuple  # (device, inode): equal for two names of one file
    target: str = ""  # a symlink's

    @classmethod
    def of_fs3(cls, st) -> Meta:
        return cls(_KINDS.get(st.type, "other"), st.size, st.mode & 0o7777, st.mtime_ns, st.atime_ns, st.uid,
                   st.gid, ("fs3", st.inode), st.symlink_target)

    @classmethod
    def of_local(cls, st: os.stat_result, target: str = "") -> Meta:
        mode = st.st_mode
        kind = ("dir" if _stat.S_ISDIR(mode) else "file" if _stat.S_ISREG(mode)
                else "link" if _stat.S_ISLNK(mode) else "other")
        return cls(kind, st.st_size, _stat.S_IMODE(mode), st.st_mtime_ns, st.st_atime_ns, st.st_uid, st.st_gid,
                   (st.st_dev, st.st_ino), target)


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

    def join(self, rel: str) -> Location:
        if not rel:
            return self
        sep = "" if self.path.endswith("/") else "/"
        return Location(self.path + sep + rel, self.client, self.url_prefix)

    @property
    def basename(self) -> str:
        return self.path.rstrip("/").rsplit("/", 1)[-1]

    @property
    def parent(self) -> Location:
        path = self.path.rstrip("/")
        head = path.rsplit("/", 1)[0] if "/" in path else ""
        return Location(head or ("/" if path.startswith("/") else "."), self.client, self.url_prefix)

    def sibling(self, name: str) -> Location:
        return self.parent.join(name)

    def same_side(self, other: Location) -> bool:
        if self.is_fs3 != other.is_fs3:
            return False
        return not self.is_fs3 or self.client is other.client or self.client.address == other.client.address

    # -- namespace ------------------------------------------------------------------------------------

    def meta(self, follow: bool = True) -> Meta | None:
        """This path's ``Meta``, or None when nothing is there."""
        try:
            if self.is_fs3:
                return Meta.of_fs3(self.client.stat(self.path, follow_symlinks=follow))
            st = os.stat(self.path) if follow else os.lstat(self.path)
            return Meta.of_local(st, os.readlink(self.path) if _stat.S_ISLNK(st.st_mode) else "")
        except FileNotFoundError:
            return None

    def mkdir(self) -> bool:
        """Create this directory (its parent must exist); False when it was there already."""
        try:
            if self.is_fs3:
                self.client.mkdir(self.path)
            else:
                os.mkdir(self.path)
            return True
        except FileExistsError:
            if (m := self.meta()) is None or m.kind != "dir":
                raise
            return False

    def remove(self, recursive: bool = False) -> None:
        if self.is_fs3:
            self.client.remove(self.path, recursive=recursive)
        elif recursive and os.path.isdir(self.path) and not os.path.islink(self.path):
            shutil.rmtree(self.path)
        elif os.path.isdir(self.path) and not os.path.islink(self.path):
            os.rmdir(self.path)
        else:
            os.unlink(self.path)

    def rename_to(self, dst: Location) -> None:
        if self.is_fs3:
            self.client.rename(self.path, dst.path)
        else:
            os.replace(self.path, dst.path)

    def symlink(self, target: str) -> None:
        if self.is_fs3:
            self.client.symlink(target, self.path)
        else:
            os.symlink(target, self.path)

    def readlink(self) -> str:
        return self.client.readlink(self.path) if self.is_fs3 else os.readlink(self.path)

    def set_attrs(self, m: Meta, mode: bool, times: bool, owner: bool) -> None:
        """Give this path ``m``'s permission bits, times and owner (each as asked); a symlink's own."""
        link = m.kind == "link"
        if self.is_fs3:
            if owner:
                self.client.chown(self.path, m.uid, m.gid, follow_symlinks=False)
            if mode and not link:
                self.client.chmod(self.path, m.mode)
            if times:
                self.client.utime(self.path, (m.atime_ns, m.mtime_ns), follow_symlinks=not link)
            return
        if owner:
            os.chown(self.path, m.uid, m.gid, follow_symlinks=False)
        if mode and not link:
            os.chmod(self.path, m.mode)
        if times and (not link or os.utime in os.supports_follow_symlinks):
            os.utime(self.path, ns=(m.atime_ns, m.mtime_ns), follow_symlinks=not link)

    # -- data -----------------------------------------------------------------------------------------

    def open_read(self):
        return self.client.open(self.path, "rb", buffering=0) if self.is_fs3 else open(self.path, "rb", buffering=0)

    def open_write(self, keep: bool, perm: int):
        """For writing: truncated (or kept, to append to, with ``keep``), created with ``perm``."""
        if self.is_fs3:
            f = self.client.open(self.path, "r+b" if keep else "wb", buffering=0, perm=perm)
            if (f.inode.mode & 0o7777) != perm:  # an earlier partial's
                self.client.chmod(self.path, perm)
            return f
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | (0 if keep else os.O_TRUNC), perm)
        os.fchmod(fd, perm)
        return os.fdopen(fd, "wb", buffering=0)


def partial_of(dst: Location) -> Location:
    """The fixed partial name of ``dst``: hidden, in the same directory, ending in ``.fs3-part``."""
    name = dst.basename
    if len(name) > 200:  # stay within NAME_MAX, still one name per destination
        name = f"{name[:190]}-{crc32c(name.encode()):08x}"
    return dst.sibling(f".{name}{PARTIAL_SUFFIX}")


@dataclass(frozen=True)
class Entry:
    """One path below a tree's root: ``rel`` is relative to the root ("a/b"), ``meta`` describes it."""

    rel: str
    meta: Meta


def scan(root: Location, follow: bool, warn) -> list[Entry]:
    """Every path below ``root`` (not ``root`` itself), a directory before its contents, names sorted.
    Symlinks are entries of their own unless ``follow``; a symlink loop under ``follow`` is reported
    through ``warn`` and not entered."""
    out: list[Entry] = []
    m = root.meta(follow=True)
    _scan(root, "", follow, warn, out, (m.ident,) if m is not None else ())
    return out


def _scan(root: Location, rel: str, follow: bool, warn, out: list[Entry], above: tuple) -> None:
    """``above``: the directories from ``root`` down to ``rel``; one seen again is a loop."""
    here = root.join(rel)
    if root.is_fs3:
        children = [(st.name, Meta.of_fs3(st)) for st in root.client.iterdir(here.path, detail=True)]
    else:
        with os.scandir(here.path) as it:
            children = [(e.name, Meta.of_local(e.stat(follow_symlinks=False))) for e in it]
        children.sort()
    for name, m in children:
        child = f"{rel}/{name}" if rel else name
        if m.kind == "link":
            if follow:
                followed = root.join(child).meta(follow=True)
                if followed is None:
                    warn(f"skipping {root.join(child)}: a symlink to nothing (-L)")
                    continue
                m = followed
            elif not m.target:
                m = replace(m, target=root.join(child).readlink())
        if m.kind == "dir":
            if m.ident in above:
                warn(f"skipping {root.join(child)}: a symlink loop")
                continue
            out.append(Entry(child, m))
            _scan(root, child, follow, warn, out, (*above, m.ident))
        else:
            out.append(Entry(child, m))


class Stopped(Exception):
    """The copy was interrupted: the partial stays for ``--continue``."""


@dataclass
class CopyOptions:
    """How files are copied: which attributes travel, whether a partial is resumed, whether the bytes
    are read back and compared."""

    mode: bool = False  # exact permission bits (else the source's masked by the umask)
    times: bool = False
    owner: bool = False
    resume: bool = False
    checksum: bool = False
    umask: int = 0o022
    stop: threading.Event | None = None


@dataclass
class Copied:
    bytes: int = 0  # written by this copy
    resumed: int = 0  # taken over from a verified partial


def _crc_of(f, length: int, stop) -> int:
    crc, left, buf = 0, length, bytearray(COPY_BLOCK)
    view = memoryview(buf)
    while left > 0:
        n = f.readinto(view[: min(left, len(buf))])
        if not n:
            break
        crc, left = crc32c(view[:n], crc), left - n
        if stop is not None and stop.is_set():
            raise Stopped()
    return crc


def _write_all(f, view: memoryview) -> None:
    while view:
        n = f.write(view)
        view = view[n:]


def copy_file(src: Location | None, m: Meta | None, dst: Location, opts: CopyOptions, advance, stdin=None) -> Copied:
    """Copy one regular file (or ``stdin`` when ``src`` is None) to ``dst`` through its partial name."""
    if src is not None and m is not None and src.same_side(dst):
        there = dst.meta(follow=True)
        if there is not None and there.ident == m.ident:
            raise InvalidArgument(f"{src} and {dst} are the same file (nothing copied)")
    tmp = partial_of(dst)
    done = Copied()
    crc = 0
    if opts.resume and src is not None and m is not None:
        done.resumed, crc = _verified_prefix(src, m.size, tmp, opts.stop)
    perm = (m.mode if opts.mode else m.mode & ~opts.umask) if m is not None else 0o666 & ~opts.umask
    want_crc = opts.checksum
    # Nothing to do between the last write and the rename (no read-back, no attributes): on fs3 the
    # close renames, in one meta call (File.close_as).
    in_close = tmp.is_fs3 and not want_crc and not (m is not None and (opts.times or opts.owner or opts.mode))
    try:
        fin = stdin if src is None else src.open_read()
        try:
            with tmp.open_write(done.resumed > 0, perm & 0o7777) as fout:
                if done.resumed:
                    fin.seek(done.resumed)
                    fout.seek(done.resumed)
                buf = bytearray(COPY_BLOCK)
                view = memoryview(buf)
                since_commit = 0
                while n := fin.readinto(buf):
                    if want_crc:
                        crc = crc32c(view[:n], crc)
                    _write_all(fout, view[:n])
                    done.bytes += n
                    advance(n)
                    since_commit += n
                    if tmp.is_fs3 and since_commit >= COMMIT_EVERY:
                        fout.commit()  # a resume after kill -9 finds this much
                        since_commit = 0
                    if opts.stop is not None and opts.stop.is_set():
                        raise Stopped()
                if in_close:
                    fout.close_as(dst.path)
        finally:
            if src is not None:
                fin.close()
        if in_close:
            return done
        if want_crc:
            with tmp.open_read() as back:
                got = _crc_of(back, done.resumed + done.bytes + 1, opts.stop)
            if got != crc:
                raise ChecksumMismatch(f"Input/output error: {dst} read back with CRC32C {got:08x}, the source "
                                       f"had {crc:08x} (nothing renamed; copy again)")
        if m is not None and (opts.times or opts.owner or opts.mode):
            tmp.set_attrs(m, mode=False, times=opts.times, owner=opts.owner)
        tmp.rename_to(dst)
    except (Stopped, KeyboardInterrupt):
        raise  # the partial stays: `--continue` picks it up
    except BaseException as exc:
        try:
            tmp.remove()
        except OSError:
            pass
        if isinstance(exc, OSError) and exc.filename == tmp.path:
            exc.filename = str(dst)  # the user asked for dst: name it, not the partial
        raise
    return done


def _verified_prefix(src: Location, size: int, tmp: Location, stop) -> tuple[int, int]:
    """(bytes of ``tmp`` that equal the source's first bytes, their CRC32C); (0, 0) to start over."""
    there = tmp.meta(follow=False)
    if there is None or there.kind != "file" or not 0 < there.size <= size:
        return 0, 0
    with tmp.open_read() as a, src.open_read() as b:
        mine, theirs = _crc_of(a, there.size, stop), _crc_of(b, there.size, stop)
    return (there.size, mine) if mine == theirs else (0, 0)


def copy_link(target: str, dst: Location, m: Meta | None, opts: CopyOptions) -> None:
    """Make ``dst`` a symlink to ``target`` (made under the partial name, renamed over ``dst``)."""
    tmp = partial_of(dst)
    try:
        tmp.remove()
    except FileNotFoundError:
        pass
    tmp.symlink(target)
    try:
        if m is not None and (opts.times or opts.owner):
            tmp.set_attrs(m, mode=False, times=opts.times, owner=opts.owner)
        tmp.rename_to(dst)
    except BaseException:
        tmp.remove()
        raise
