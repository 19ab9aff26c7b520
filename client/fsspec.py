"""fsspec filesystem for ``fs3://`` URLs (registered by entry point, so ``fsspec.open("fs3:///x")``,
``pandas.read_parquet("fs3:///x.parquet")`` and ``pyarrow`` work once fs3 is installed).

Asynchronous underneath (``AsyncFileSystem`` over ``AsyncClient``); ``cat_file`` ranges and
``cat_ranges`` use the batched read path, so many ranges of many files are one round of requests.

Like fsspec's local filesystem with ``auto_mkdir``, writing a file creates its missing parent directories.

Writes are atomic (docs/checkpoints.md): a file opened with ``"wb"`` or ``"xb"`` is written under a hidden
temporary name in the same directory (``.NAME.fs3tmp-XXXX``) and renamed over ``NAME`` when it is closed
after a successful write. A write that ends in an exception (in the ``with`` block, or propagating while
the file is closed) removes the temporary and leaves ``NAME`` as it was; a killed writer leaves only the
temporary, which ``clean_temporaries`` reclaims. ``"ab"`` appends in place.

Storage options: ``cluster`` (meta ``HOST:PORT`` or a local cluster's data directory; ``fs3://HOST:PORT/p``
URLs set it), ``token`` and ``retry_timeout``; the defaults are those of ``fs3.connect()``.
"""

from __future__ import annotations

import errno
import posixpath
import secrets
import sys
import time
from typing import Any

from fsspec.asyn import AsyncFileSystem, sync, sync_wrapper
from fsspec.spec import AbstractBufferedFile

from fs3._errors import AlreadyExists, FS3Error, IsADirectory, NotFound
from fs3._url import SCHEME

from ._async_client import AsyncClient
from ._types import FileStat

TEMP_MARK = ".fs3tmp-"  # in the hidden name an atomic write goes to until its file is closed
DIRECT_READ = 1 << 20   # a readinto this large bypasses the read-ahead cache


def temporary_name(path: str) -> str:
    """A fresh hidden name beside ``path`` for writing it atomically."""
    directory, name = posixpath.split(path)
    return posixpath.join(directory, f".{name}{TEMP_MARK}{secrets.token_hex(6)}")


def _info(st: FileStat) -> dict:
    kind = {"directory": "directory", "file": "file"}.get(st.type, "other")
    out = {"name": st.path, "size": st.size if kind == "file" else 0, "type": kind, "mode": st.st_mode,
           "uid": st.uid, "gid": st.gid, "nlink": st.nlink, "mtime": st.mtime_ns / 1e9, "ino": st.inode}
    if st.symlink_target:
        out["destination"] = st.symlink_target
        out["islink"] = True
    return out


class FS3FileSystem(AsyncFileSystem):
    """fsspec's view of one fs3 cluster: fsspec's ~60 operations derived from the handful of primitives
    below (``_info``, ``_ls``, ``_cat_file``, ``_pipe_file``, ``_rm_file``, ``_mkdir``...), over one
    ``AsyncClient`` connected on first use. Errors are the built-in ``FileNotFoundError``,
    ``FileExistsError``, ``IsADirectoryError``... that fsspec callers already catch."""

    protocol = ("fs3",)
    root_marker = "/"
    async_impl = True
    mirror_sync_methods = True

    def __init__(self, cluster: str | None = None, token: str | None = None, *, asynchronous: bool = False,
                 loop=None, batch_size: int | None = None, retry_timeout: float | None = None, **kwargs):
        super().__init__(asynchronous=asynchronous, loop=loop, batch_size=batch_size, **kwargs)
        self.cluster = cluster
        self.token = token
        self.retry_timeout = retry_timeout  # how long calls wait out an outage (None: fs3.connect's default)
        self._aclient: AsyncClient | None = None

    # -- plumbing ---------------------------------------------------------------------------------------

    async def _client(self) -> AsyncClient:
        if self._aclient is None:
            self._aclient = await AsyncClient.connect(self.cluster, token=self.token,
                                                      retry_timeout=self.retry_timeout)
        return self._aclient

    @classmethod
    def _strip_protocol(cls, path):
        if isinstance(path, list):
            return [cls._strip_protocol(p) for p in path]
        path = str(path)
        if path.startswith(SCHEME):
            rest = path[len(SCHEME):]
            slash = rest.find("/")
            path = "/" if slash < 0 else rest[slash:]
        path = "/" + path.lstrip("/")
        path = posixpath.normpath(path) if path != "/" else path
        return "/" + path.lstrip("/")

    @staticmethod
    def _get_kwargs_from_urls(path):
        if path.startswith(SCHEME):
            host = path[len(SCHEME):].split("/", 1)[0]
            if host:
                return {"cluster": host}
        return {}

    def unstrip_protocol(self, name: str) -> str:
        return f"{SCHEME}{self.cluster if self.cluster and ':' in self.cluster else ''}{name}"

    # -- metadata ----------------------------------------------------------------------------------------

    async def _info(self, path, **kwargs):
        path = self._strip_protocol(path)
        client = await self._client()
        return _info(await client.stat(path))

    async def _ls(self, path, detail=True, **kwargs):
        path = self._strip_protocol(path)
        client = await self._client()
        st = await client.stat(path)
        if not st.is_dir:
            entries = [st]
        else:
            entries = [e async for e in client.iterdir(path, detail=True)]
        return [_info(e) for e in entries] if detail else [e.path for e in entries]

    async def _exists(self, path, **kwargs):
        try:
            await self._info(path)
            return True
        except FileNotFoundError:
            return False

    async def _mkdir(self, path, create_parents=True, **kwargs):
        path = self._strip_protocol(path)
        client = await self._client()
        if not create_parents and await self._exists(path):
            raise FileExistsError(errno.EEXIST, "File exists", path)
        await client.mkdir(path, parents=create_parents)

    async def _makedirs(self, path, exist_ok=False):
        path = self._strip_protocol(path)
        client = await self._client()
        if not exist_ok and await self._exists(path):
            raise FileExistsError(errno.EEXIST, "File exists", path)
        await client.makedirs(path, exist_ok=True)

    async def _rm_file(self, path, **kwargs):
        client = await self._client()
        await client.unlink(self._strip_protocol(path))

    async def _rmdir(self, path):
        client = await self._client()
        await client.rmdir(self._strip_protocol(path))

    async def _rm(self, path, recursive=False, maxdepth=None, **kwargs):
        paths = await self._expand_path(path, recursive=recursive, maxdepth=maxdepth)
        client = await self._client()
        # deepest first: files, then directories once they are empty
        for p in sorted(paths, key=lambda p: (-p.count("/"), p)):
            try:
                st = await client.lstat(p)
            except FileNotFoundError:
                continue
            if st.is_dir:
                await client.remove(p, recursive=recursive)
            else:
                await client.unlink(p)

    async def _mv_file(self, path1, path2, **kwargs):
        client = await self._client()
        await client.rename(self._strip_protocol(path1), self._strip_protocol(path2))

    def mv(self, path1, path2, recursive=False, maxdepth=None, **kwargs):
        """A rename in fs3 (atomic, no data copied) when both are single paths."""
        if isinstance(path1, str) and isinstance(path2, str) and not any(c in path1 for c in "*?["):
            src, dst = self._strip_protocol(path1), self._strip_protocol(path2)
            if self.isdir(dst) and not self.isdir(src):
                dst = posixpath.join(dst, posixpath.basename(src))
            if self.isdir(src) and not recursive:
                raise IsADirectory("Is a directory (pass recursive=True to move it)", path=src)
            return sync(self.loop, self._mv_file, src, dst)
        return super().mv(path1, path2, recursive=recursive, maxdepth=maxdepth, **kwargs)

    # -- data -------------------------------------------------------------------------------------------

    async def _cat_file(self, path, start=None, end=None, **kwargs):
        path = self._strip_protocol(path)
        client = await self._client()
        if start is None and end is None:
            return await client.read(path)
        st = await client.stat(path)
        if st.is_dir:
            raise IsADirectory("Is a directory", path=path)
        start = 0 if start is None else (max(0, st.size + start) if start < 0 else start)
        end = st.size if end is None else (max(0, st.size + end) if end < 0 else min(end, st.size))
        if end <= start:
            return b""
        return await client.read(path, start, end - start)

    async def _cat_ranges(self, paths, starts, ends, max_gap=None, on_error="return", **kwargs):
        """Every range of every file in one batched read (``read_batch``)."""
        if not isinstance(paths, list):
            raise TypeError("paths must be a list")
        if not isinstance(starts, list):
            starts = [starts] * len(paths)
        if not isinstance(ends, list):
            ends = [ends] * len(paths)
        if len(starts) != len(paths) or len(ends) != len(paths):
            raise ValueError("paths, starts and ends must have the same length")
        client = await self._client()
        stripped = [self._strip_protocol(p) for p in paths]
        stats = await client.stat_many(sorted(set(stripped)))
        by_path = dict(zip(sorted(set(stripped)), stats, strict=True))
        results: list = [None] * len(paths)
        reqs, where = [], []
        for i, (p, s, e) in enumerate(zip(stripped, starts, ends, strict=True)):
            st = by_path[p]
            if isinstance(st, BaseException) or st.is_dir:
                err = st if isinstance(st, BaseException) else IsADirectory("Is a directory", path=p)
                if on_error == "raise":
                    raise err
                results[i] = err
                continue
            s = 0 if s is None else (max(0, st.size + s) if s < 0 else s)
            e = st.size if e is None else (max(0, st.size + e) if e < 0 else min(e, st.size))
            if e <= s:
                results[i] = b""
                continue
            reqs.append((st, s, e - s))
            where.append(i)
        if reqs:
            for i, data in zip(where, await client.read_batch(reqs), strict=True):
                results[i] = data
        return results

    async def _pipe_file(self, path, value, mode="overwrite", **kwargs):
        path = self._strip_protocol(path)
        client = await self._client()
        if mode == "create" and await self._exists(path):
            raise AlreadyExists("File exists", path=path)
        await client.makedirs(posixpath.dirname(path) or "/", exist_ok=True)
        await client.write(path, value)

    async def _put_file(self, lpath, rpath, callback=None, mode="overwrite", **kwargs):
        import os
        rpath = self._strip_protocol(rpath)
        client = await self._client()
        if os.path.isdir(lpath):
            await client.makedirs(rpath, exist_ok=True)
            return
        await client.makedirs(posixpath.dirname(rpath) or "/", exist_ok=True)
        size = os.path.getsize(lpath)
        if callback is not None:
            callback.set_size(size)
        f = await client.open(rpath, "wb")
        try:
            with open(lpath, "rb") as src:
                while block := src.read(8 << 20):
                    await f.write(block)
                    if callback is not None:
                        callback.relative_update(len(block))
        finally:
            await f.close()

    async def _get_file(self, rpath, lpath, callback=None, **kwargs):
        import os
        rpath = self._strip_protocol(rpath)
        client = await self._client()
        st = await client.stat(rpath)
        if st.is_dir:
            os.makedirs(lpath, exist_ok=True)
            return
        if callback is not None:
            callback.set_size(st.size)
        with open(lpath, "wb") as out:
            for off in range(0, max(st.size, 1), 8 << 20):
                data = await client.read(rpath, off, min(8 << 20, st.size - off))
                out.write(data)
                if callback is not None:
                    callback.relative_update(len(data))

    async def _cp_file(self, path1, path2, **kwargs):
        path1, path2 = self._strip_protocol(path1), self._strip_protocol(path2)
        client = await self._client()
        st = await client.stat(path1)
        if st.is_dir:
            await client.makedirs(path2, exist_ok=True)
            return
        await client.makedirs(posixpath.dirname(path2) or "/", exist_ok=True)
        f = await client.open(path2, "wb")
        try:
            for off in range(0, st.size, 8 << 20):
                await f.write(await client.read(path1, off, min(8 << 20, st.size - off)))
        finally:
            await f.close()

    async def _touch(self, path, truncate=True, **kwargs):
        path = self._strip_protocol(path)
        client = await self._client()
        if truncate or not await self._exists(path):
            await client.makedirs(posixpath.dirname(path) or "/", exist_ok=True)
            await client.write(path, b"")
        else:
            await client.utime(path)

    touch = sync_wrapper(_touch)

    def _open(self, path, mode="rb", block_size=None, autocommit=True, cache_options=None, **kwargs):
        path = self._strip_protocol(path)
        if "r" in mode and self.isdir(path):
            raise IsADirectory("Is a directory", path=path)
        exclusive = "x" in mode
        if exclusive:  # FileExistsError here, not at the close (where the rename checks again)
            if self.exists(path):
                raise AlreadyExists("File exists", path=path)
            mode = mode.replace("x", "w")
        if block_size is None:  # reads: 1 MiB of read-ahead (larger reads bypass it); writes: 4 MiB a request
            block_size = DIRECT_READ if "r" in mode else 4 << 20
        f = FS3BufferedFile(self, path, mode, block_size=block_size, autocommit=autocommit,
                            cache_options=cache_options, **kwargs)
        f.exclusive = exclusive
        return f

    async def _clean_temporaries(self, path="/", older_than: float = 3600.0) -> list[str]:
        """Remove the temporaries of atomic writes in directory ``path`` (not below it) last written more
        than ``older_than`` seconds ago: what writers killed mid-write left. Returns their paths."""
        path = self._strip_protocol(path)
        client = await self._client()
        cutoff = time.time_ns() - int(older_than * 1e9)
        removed = []
        async for entry in client.iterdir(path, detail=True):
            if entry.name.startswith(".") and TEMP_MARK in entry.name and not entry.is_dir and entry.mtime_ns < cutoff:
                try:
                    await client.unlink(entry.path)
                except FileNotFoundError:
                    continue  # renamed or removed meanwhile
                removed.append(entry.path)
        return removed

    clean_temporaries = sync_wrapper(_clean_temporaries)

    async def _close(self):
        if self._aclient is not None:
            await self._aclient.close()
            self._aclient = None


class FS3BufferedFile(AbstractBufferedFile):
    """Reads fetch ranges with the batched read path; writes stream to an fs3 write session, under a
    temporary name renamed over the file's on a successful close (``commit``), or removed (``discard``)
    when the write ended in an exception."""

    exclusive = False  # "xb": the commit fails (FileExistsError) if the name appeared meanwhile
    _temp: str | None = None  # where the data goes until the commit (None: "ab", written in place)
    _writer: Any = None  # the AsyncFile written (once the first block is flushed)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # An exception raised after this point and propagating when the file is closed (a ``with``
        # block of fsspec.open, a try/finally) means the write did not complete: discarded, not committed.
        self._exception_at_open = sys.exc_info()[1]

    def _fetch_range(self, start, end):
        return sync(self.fs.loop, self.fs._cat_file, self.path, start=start, end=end)

    def readinto(self, b):
        """Large reads (torch.load's tensor records) go from the storage nodes straight into ``b``, past
        the read-ahead cache and its copies; small ones through it."""
        out = memoryview(b).cast("B")
        if "r" not in self.mode or out.nbytes < DIRECT_READ:
            return super().readinto(b)
        n = max(0, min(out.nbytes, self.size - self.loc))
        if n == 0:
            return 0

        async def read():
            client = await self.fs._client()
            return (await client.read_batch([(self.path, self.loc, n)], [out[:n]]))[0]
        got = sync(self.fs.loop, read)
        self.loc += got
        return got

    def _initiate_upload(self):
        if self._writer is not None:
            return

        async def start():
            client = await self.fs._client()
            if "a" in self.mode and await self.fs._exists(self.path):
                return await client.open(self.path, "ab")
            await client.makedirs(posixpath.dirname(self.path) or "/", exist_ok=True)
            if "a" in self.mode:
                return await client.open(self.path, "ab")
            self._temp = temporary_name(self.path)
            return await client.open(self._temp, "xb")
        self._writer = sync(self.fs.loop, start)

    def _upload_chunk(self, final=False):
        data = self.buffer.getvalue()
        if data:
            sync(self.fs.loop, self._writer.write, data)
        if final:
            sync(self.fs.loop, self._writer.close)
            if self.autocommit:
                self.commit()
        return True

    def commit(self):
        """Rename the temporary over the file's name (its old content, if any, goes at once)."""
        if self._temp is None:
            return
        temp, self._temp = self._temp, None

        async def rename():
            client = await self.fs._client()
            try:
                await client.rename(temp, self.path, replace=not self.exclusive)
            except BaseException:
                try:
                    await client.unlink(temp)
                except OSError:
                    pass  # gone already, or meta unreachable: clean_temporaries reclaims it
                raise
        sync(self.fs.loop, rename)

    def discard(self):
        """Drop what was written: close the write session and remove the temporary."""
        writer, temp = self._writer, self._temp
        self._temp = None

        async def drop():
            client = await self.fs._client()
            if writer is not None:
                try:
                    await writer.close()
                except OSError:
                    pass  # the write failed: its temporary goes anyway
            if temp is not None:
                try:
                    await client.unlink(temp)
                except FileNotFoundError:
                    pass
        sync(self.fs.loop, drop)

    def _abandon(self) -> None:
        try:
            self.discard()
        finally:
            self.closed = True

    def close(self):
        if not self.closed and "r" not in self.mode:
            raised = sys.exc_info()[1]
            if raised is not None and raised is not self._exception_at_open:
                self._abandon()
                return
            try:
                super().close()
            except BaseException:
                self._abandon()  # the last write or the rename failed: leave the old file, not a part
                raise
            return
        super().close()

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None and not self.closed and "r" not in self.mode:
            self._abandon()
        else:
            self.close()

    def __del__(self):
        # Never committed by the garbage collector: a file dropped unclosed was not finished.
        if self.closed or "r" in self.mode:
            return
        self.closed = True
        loop = self.fs.loop
        if self._temp is not None and loop is not None and loop.is_running():
            try:
                self.discard()
            except Exception:  # noqa: BLE001 - nothing to report to in a finalizer; clean_temporaries reclaims it
                pass


__all__ = ["FS3FileSystem", "FS3Error", "NotFound"]
