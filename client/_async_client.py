"""The fs3 client for asyncio: namespace calls to meta over gRPC, chunk I/O to storage nodes over the
data plane. The sync ``Client`` runs one of these on a private event loop.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import stat as _stat
import time
from collections.abc import AsyncIterator, Sequence

from fs3._auth import find_token
from fs3._capability import READ
from fs3._discovery import cluster_dir, meta_addresses
from fs3._errors import (
    AlreadyExists,
    InvalidArgument,
    IsADirectory,
    NotADirectory,
    PermissionDenied,
    error_for,
)
from fs3._paths import normalize
from fs3._retry import retry_timeout as resolve_retry_timeout
from fs3._tls import find_ca
from fs3.proto import cluster_pb2, meta_pb2

from ._admin import ClusterAdmin
from ._async_file import AsyncFile
from ._batch import ReadRequest, inode_of_stat, resolve_files, split_buffers
from ._capabilities import Capabilities
from ._chunk_io import ChunkIO, ReadPiece, plan_reads
from ._coalesce import Coalescer
from ._meta import MetaConnection
from ._open_files import OpenFiles
from ._routing import RoutingCache
from ._sessions import WriteSessions
from ._shm import DEFAULT_SIZE, ShmRegion
from ._types import TYPE_BITS, FileStat
from ._watch import ChangeWatcher, Notify

READDIR_PAGE = 1000
Caller = tuple[int, int, tuple[int, ...]]  # (uid, gid, groups) a mount acts for (meta's Caller; admins only)
TOKEN_MARGIN = 300.0  # renew the data-plane token this long before it expires


def _caller(caller: Caller | None) -> meta_pb2.Caller | None:
    if caller is None:
        return None
    uid, gid, groups = caller
    return meta_pb2.Caller(uid=uid, gid=gid, groups=list(groups))


def request_id() -> str:
    """A fresh id for a mutation, so a retry on another meta server cannot apply it twice; ids sort
    by time, which lets meta forget old ones cheaply."""
    return f"{time.time_ns():016x}{os.urandom(8).hex()}"


def parse_mode(mode: str) -> tuple[bool, bool, bool, bool, bool, bool, bool]:
    """(read, write, create, exclusive, truncate, append, binary) for a built-in-style mode string."""
    chars = set(mode)
    if len(mode) != len(chars) or not chars <= set("rwxab+t") or len(chars & set("rwxa")) != 1:
        raise InvalidArgument(f"Invalid argument: invalid mode {mode!r}")
    if "b" in chars and "t" in chars:
        raise InvalidArgument(f"Invalid argument: invalid mode {mode!r} (both binary and text)")
    plus, binary = "+" in chars, "b" in chars
    if "r" in chars:
        return True, plus, False, False, False, False, binary
    if "w" in chars:
        return plus, True, True, False, True, False, binary
    if "x" in chars:
        return plus, True, True, True, False, False, binary
    return plus, True, True, False, False, True, binary  # "a"


class AsyncClient(ClusterAdmin):
    """A connection to one fs3 cluster for asyncio code. Make one with ``await fs3.aconnect()``.

    ``retry_timeout``: seconds a call keeps retrying while the servers it needs do not answer (storage
    nodes stopped, a meta server restarting), logging when it starts and stops waiting; then it fails
    with ``Unavailable`` naming the outage and the last error. Default: ``FS3_RETRY_TIMEOUT``, else 300.
    ``failover_timeout``: the same for meta calls alone (default: ``retry_timeout``).
    ``unreachable_timeout``: how long a write keeps trying a chain head that meta says serves but this
    client cannot reach (a one-way partition) before it fails naming it; meta moves the chain on sooner
    when enough clients report the node. Default: ``FS3_UNREACHABLE_TIMEOUT``, else 15.
    ``ucx``: reach storage nodes on other hosts over UCX where they listen with it and the ucxx bindings
    are installed (RDMA where UCX finds it; fs3/_ucx.py); False: framed TCP (as ``FS3_UCX=0``)."""

    def __init__(self, address: str | list[str], *, token: str | None = None, timeout: float = 60.0,
                 shm: bool = True, shm_size: int = DEFAULT_SIZE, retry_timeout: float | None = None,
                 failover_timeout: float | None = None, tls_ca: str | os.PathLike | None = None,
                 unreachable_timeout: float | None = None, ucx: bool = True):
        retry_timeout = resolve_retry_timeout(retry_timeout)
        if failover_timeout is None:
            failover_timeout = retry_timeout
        addresses = [address] if isinstance(address, str) else list(address)
        self.address = addresses[0]
        self.client_id = f"{os.uname().nodename}:{os.getpid()}"
        self._lock_client = f"{self.client_id}:{secrets.token_hex(4)}"  # whose lease keeps its locks
        self.tls_ca = find_ca(tls_ca)  # TLS: the cluster's CA (tls_ca=, or FS3_TLS_CA); None: in clear
        self._meta = MetaConnection(addresses, token=token, timeout=timeout, failover_timeout=failover_timeout,
                                    ca=self.tls_ca)
        self._sessions = WriteSessions(self._meta)
        self._open_files = OpenFiles()  # what this client's open files have written between them
        self._routing = RoutingCache(self._meta.routing)
        self._token = b""
        self._token_expiry = 0.0
        region = None
        if shm:
            try:
                region = ShmRegion(shm_size)
            except OSError:
                region = None  # no /dev/shm here: TCP only
        self._capabilities = Capabilities(lambda req: self._meta("RenewCapabilities", req),
                                          lambda req: self._meta("ExtendWrite", req))
        self._chunks = ChunkIO(self._routing, self._data_token, client_name=self.client_id, shm=region,
                               retry_timeout=retry_timeout, capabilities=self._capabilities, tls=self._meta.tls,
                               report=self._report_unreachable, unreachable_timeout=unreachable_timeout, ucx=ucx)
        # Concurrent per-call reads share their stats: one BatchStat at meta for every call that came
        # while the last one was out (client/_coalesce.py). (Their chunk reads stay rounds of their own:
        # merged into one, SQLite in WAL mode on one mount read stale pages; see that test.)
        self._stat_calls = Coalescer(self._stat_group)
        self._watcher: ChangeWatcher | None = None  # (see watch_changes)

    @classmethod
    async def connect(cls, address: str | None = None, *, token: str | None = None, connect_timeout: float = 10.0,
                      tls_ca: str | os.PathLike | None = None, wait_out: bool = False, **kwargs) -> AsyncClient:
        """Connect to the cluster ``address`` names (see ``fs3.connect``). TLS is on when a CA is found:
        ``tls_ca``, else ``FS3_TLS_CA``, else the one a local cluster started with ``fs3 up --tls``
        recorded. ``wait_out``: an unreachable meta server is an outage to wait out for the retry
        deadline, not a sign that no cluster runs (for processes of a job already using the cluster)."""
        where = cluster_dir(address)
        self = cls(meta_addresses(address), token=find_token(token, where), tls_ca=find_ca(tls_ca, where), **kwargs)
        try:
            self._routing.install(await self._meta.connect(connect_timeout, wait_out=wait_out))
        except BaseException:
            await self.close()
            raise
        return self

    @property
    def retry_timeout(self) -> float:
        """Seconds a call waits out an outage before it fails (settable: the next calls use it)."""
        return self._chunks.retry_timeout

    @retry_timeout.setter
    def retry_timeout(self, seconds: float | None) -> None:
        self._chunks.retry_timeout = self._meta.failover_timeout = resolve_retry_timeout(seconds)

    async def _report_unreachable(self, address: str) -> None:
        """Tell meta this client cannot reach the storage node at ``address`` (meta/_unreachable.py)."""
        await self._meta("ReportUnreachable", cluster_pb2.ReportUnreachableRequest(address=address,
                                                                                  client=self.client_id))

    async def _data_token(self) -> bytes:
        if time.time() > self._token_expiry - TOKEN_MARGIN:
            reply = await self._meta("GetDataToken", cluster_pb2.GetDataTokenRequest(client=self.client_id))
            self._token, self._token_expiry = reply.token, float(reply.expiry_unix)
        return self._token

    # -- files -------------------------------------------------------------------------------------

    async def open(self, path: str, mode: str = "rb", *, chunk_size: int = 0, stripe: int = 0,
                   perm: int = 0o644, caller: Caller | None = None) -> AsyncFile:
        """Open a file (binary modes r, w, x, a, with +). New files take their layout from the parent
        directory unless ``chunk_size`` / ``stripe`` say otherwise, and exactly ``perm``'s permission
        bits (0 is 0000); ``caller``: opened (and made) as that local user (an admin's token only)."""
        read, write, create, exclusive, truncate, append, binary = parse_mode(mode)
        if not binary and "t" in mode:
            raise InvalidArgument("Invalid argument: the asyncio client opens files in binary mode only")
        path = normalize(path)
        released = self._sessions.releases.take()
        try:
            reply = await self._meta("Open", meta_pb2.OpenRequest(
                path=path, write=write, create=create, exclusive=exclusive, truncate=truncate,
                mode=perm, chunk_size=chunk_size, stripe=stripe, client=self.client_id, request_id=request_id(),
                release_inodes=[i for i, _ in released], release_sessions=[s for _, s in released],
                exact_mode=True, caller=_caller(caller),
            ))
        except BaseException:
            self._sessions.releases.put_back(released)
            raise
        if reply.session:
            self._sessions.opened(reply.inode.id, reply.session, reply.session_ttl_ms / 1000)
        caps = self._capabilities
        pinned = (caps.install(reply.read_capability, pin=True), caps.install(reply.write_capability, pin=True))
        return AsyncFile(self, path, reply.inode, reply.session, mode=mode,
                         readable=read, writable=write, append=append, capabilities=pinned,
                         shared=reply.shared)

    async def read(self, path: str, offset: int = 0, length: int = -1) -> bytes:
        """Bytes of a file: all of it, or up to ``length`` bytes from ``offset``."""
        st = await self._stat_calls(normalize(path))
        if st.is_dir:
            raise IsADirectory("Is a directory", path=st.path)
        if not self._capabilities.has(st.inode, READ):  # meta issues one to those who may read the file
            raise PermissionDenied("Permission denied", path=st.path)
        end = st.size if length < 0 else min(st.size, offset + length)
        buf = bytearray(max(0, end - offset))
        if buf:
            await self._chunks.read(plan_reads(inode_of_stat(st), offset, memoryview(buf)))
        return bytes(buf)

    async def _stat_group(self, paths: list[str]) -> list:
        """Stats of the paths of concurrent calls, in one BatchStat (each distinct path once)."""
        distinct = list(dict.fromkeys(paths))
        got = dict(zip(distinct, await self.stat_many(distinct), strict=True))
        return [got[p] for p in paths]

    async def write(self, path: str, data, *, offset: int | None = None) -> int:
        """Replace a file's content with ``data`` (creating it), or write at ``offset`` of an existing
        file without truncating it."""
        async with await self.open(path, "wb" if offset is None else "r+b") as f:
            if offset:
                f.seek(offset)
            return await f.write(data)

    async def read_batch(self, requests: Sequence, buffers=None) -> list:
        """Many reads at once, across files and storage nodes, like 3FS's USRBIO.

        ``requests`` are ``ReadRequest`` or ``(file, offset, length)`` tuples, where ``file`` is a path, a
        ``FileStat`` or an open file. ``buffers`` is a sequence of writable buffers (one per request), or
        one writable buffer (a bytearray, a numpy array...) that the results fill back to back, or None
        for new ``bytes``. Returns the bytes read per request (fewer at the end of a file; holes read as
        zeros), or the ``bytes`` objects when ``buffers`` is None.
        """
        reqs = [(r.file, r.offset, r.length) if isinstance(r, ReadRequest) else r for r in requests]
        handles = await resolve_files([r[0] for r in reqs], lambda p: self._stat_calls(normalize(p)))
        # Stats made elsewhere (another client, or long ago) come without a read capability: get them.
        unread = {f.path for f, _, _ in reqs if isinstance(f, FileStat) and not self._capabilities.has(f.inode, READ)}
        if unread:
            for result in await self.stat_many(sorted(unread)):
                if isinstance(result, BaseException):
                    raise result
        lengths = [r[2] for r in reqs]
        if buffers is None:
            outs = [memoryview(bytearray(max(0, n))) for n in lengths]
        else:
            outs = split_buffers(buffers, lengths)
        pieces: list[ReadPiece] = []
        counts: list[int] = []
        for (f, offset, length), out in zip(reqs, outs, strict=True):
            if offset < 0 or length < 0:
                raise InvalidArgument(f"Invalid argument: read of {length} bytes at {offset}")
            inode = handles[id(f)]
            n = min(length, inode.length - offset)
            if n > 0:
                counts.append(n)
                pieces += plan_reads(inode, offset, out[:n])
            else:
                counts.append(0)
        if pieces:
            await self._chunks.read(pieces)
        if buffers is None:
            return [bytes(o[:n]) for o, n in zip(outs, counts, strict=True)]
        return counts

    async def truncate(self, path: str, length: int) -> FileStat:
        path = normalize(path)
        return FileStat.from_inode(path, await self._truncate_inode(path, length))

    # -- namespace ---------------------------------------------------------------------------------

    async def stat(self, path: str, *, follow_symlinks: bool = True) -> FileStat:
        path = normalize(path)
        reply = await self._meta("Stat", meta_pb2.StatRequest(path=path, no_follow=not follow_symlinks,
                                                              capability=True))
        self._capabilities.install(reply.read_capability)
        return FileStat.from_inode(path, reply.inode)

    async def lstat(self, path: str) -> FileStat:
        """Like ``stat``, but a symlink's own status."""
        return await self.stat(path, follow_symlinks=False)

    async def stat_many(self, paths: Sequence[str], *, follow_symlinks: bool = True) -> list:
        """Stats of many paths in one call and one snapshot: a ``FileStat``, or the exception why not,
        per path."""
        paths = [normalize(p) for p in paths]
        reply = await self._meta("BatchStat", meta_pb2.BatchStatRequest(paths=paths, no_follow=not follow_symlinks,
                                                                        capabilities=True))
        for r in reply.results:
            self._capabilities.install(r.read_capability)
        return [FileStat.from_inode(p, r.inode) if not r.status else error_for(r.status, r.message, p)
                for p, r in zip(paths, reply.results, strict=True)]

    async def exists(self, path: str) -> bool:
        try:
            await self.stat(path)
            return True
        except FileNotFoundError:
            return False

    async def readdir_page(self, path: str, after: str = "", *, detail: bool = False,
                           limit: int = READDIR_PAGE) -> tuple[list, bool]:
        """One page of a directory: (names or FileStats, whether more follow)."""
        path = normalize(path)
        reply = await self._meta("ReadDir", meta_pb2.ReadDirRequest(
            path=path, start_after=after, limit=limit, with_inodes=detail,
        ))
        prefix = path.rstrip("/") + "/"
        if detail:
            return [FileStat.from_inode(prefix + e.name, e.inode) for e in reply.entries], reply.more
        return [e.name for e in reply.entries], reply.more

    async def iterdir(self, path: str = "/", *, detail: bool = False) -> AsyncIterator:
        """Entries of a directory in name order, fetched a page at a time."""
        after = ""
        while True:
            entries, more = await self.readdir_page(path, after, detail=detail)
            for e in entries:
                yield e
            if not more or not entries:
                return
            after = entries[-1].name if detail else entries[-1]

    async def ls(self, path: str = "/", *, detail: bool = False) -> list:
        """Names in a directory (or ``FileStat`` objects with ``detail=True``); a file lists itself."""
        st = await self.stat(path)
        if not st.is_dir:
            return [st if detail else st.name]
        return [e async for e in self.iterdir(path, detail=detail)]

    async def mkdir(self, path: str, mode: int = 0o755, *, parents: bool = False,
                    caller: Caller | None = None) -> FileStat:
        """A directory with exactly ``mode``'s permission bits (0 is 0000); ``caller``: made as, and
        owned by, that local user (an admin's token only: a mount)."""
        path = normalize(path)
        reply = await self._meta("Mkdir", meta_pb2.MkdirRequest(path=path, mode=mode, parents=parents,
                                                                request_id=request_id(), exact_mode=True,
                                                                caller=_caller(caller)))
        return FileStat.from_inode(path, reply.inode)

    async def makedirs(self, path: str, mode: int = 0o755, exist_ok: bool = True) -> FileStat:
        if not exist_ok and await self.exists(path):
            raise AlreadyExists("File exists", path=normalize(path))
        return await self.mkdir(path, mode, parents=True)

    async def remove(self, path: str, *, recursive: bool = False, trash: bool = False) -> None:
        """Remove a file or symlink; an empty directory; or, with ``recursive``, a whole tree (detached at
        once, reclaimed in the background). With ``trash``, move it to ``/.trash/<user>/`` instead (it
        stays restorable by moving it back until the trash expiry)."""
        await self._meta("Remove", meta_pb2.RemoveRequest(
            path=normalize(path), recursive=recursive, any_type=True, trash=trash, request_id=request_id()))

    async def unlink(self, path: str) -> None:
        await self._meta("Remove", meta_pb2.RemoveRequest(path=normalize(path), request_id=request_id()))

    async def rmdir(self, path: str) -> None:
        await self._meta("Remove", meta_pb2.RemoveRequest(path=normalize(path), directory=True,
                                                          request_id=request_id()))

    async def rename(self, src: str, dst: str, *, replace: bool = True) -> FileStat:
        """Move ``src`` to ``dst`` atomically, replacing ``dst`` (POSIX rules) unless ``replace=False``."""
        src, dst = normalize(src), normalize(dst)
        reply = await self._meta("Rename", meta_pb2.RenameRequest(src=src, dst=dst, no_replace=not replace,
                                                                  request_id=request_id()))
        return FileStat.from_inode(dst, reply.inode)

    async def link(self, src: str, dst: str) -> FileStat:
        """A hard link: ``dst`` becomes another name of the file ``src``."""
        src, dst = normalize(src), normalize(dst)
        reply = await self._meta("Link", meta_pb2.LinkRequest(src=src, dst=dst, request_id=request_id()))
        return FileStat.from_inode(dst, reply.inode)

    async def symlink(self, target: str, path: str, *, caller: Caller | None = None) -> FileStat:
        """A symbolic link at ``path`` pointing to ``target`` (argument order of ``os.symlink``)."""
        path = normalize(path)
        reply = await self._meta("Symlink", meta_pb2.SymlinkRequest(target=target, path=path,
                                                                    request_id=request_id(),
                                                                    caller=_caller(caller)))
        return FileStat.from_inode(path, reply.inode)

    async def mknod(self, path: str, mode: int = 0o600 | _stat.S_IFIFO, device: int = 0, *,
                    caller: Caller | None = None) -> FileStat:
        """A fifo, character or block device or socket (``mode``'s S_IFMT bits say which), like
        ``os.mknod``; only an inode: no data of it reaches storage."""
        kinds = {_stat.S_IFIFO: meta_pb2.FIFO, _stat.S_IFCHR: meta_pb2.CHAR_DEVICE,
                 _stat.S_IFBLK: meta_pb2.BLOCK_DEVICE, _stat.S_IFSOCK: meta_pb2.SOCKET}
        kind = kinds.get(_stat.S_IFMT(mode))
        if kind is None:
            raise InvalidArgument(f"Invalid argument: mknod of mode {mode:o} (a fifo, device or socket)")
        path = normalize(path)
        reply = await self._meta("Mknod", meta_pb2.MknodRequest(path=path, type=kind, mode=mode & 0o7777,
                                                                rdev=device, request_id=request_id(),
                                                                caller=_caller(caller)))
        return FileStat.from_inode(path, reply.inode)

    async def scan(self, path: str) -> list[tuple[str, int, int]]:
        """(name, inode number, S_IFMT bits) of a directory's entries, ``.`` and ``..`` first: what a
        readdir hands the kernel (``fs3 mount``), from the entries alone (no inode is read)."""
        path = normalize(path)
        here = (await self._meta("Stat", meta_pb2.StatRequest(path=path))).inode
        if here.type != meta_pb2.DIRECTORY:
            raise NotADirectory("Not a directory", path=path)
        out = [(".", here.id, _stat.S_IFDIR), ("..", here.parent or here.id, _stat.S_IFDIR)]
        after = ""
        while True:
            reply = await self._meta("ReadDir", meta_pb2.ReadDirRequest(path=path, start_after=after,
                                                                        limit=READDIR_PAGE))
            out += [(e.name, e.inode_id, TYPE_BITS.get(e.type, 0)) for e in reply.entries]
            if not reply.more or not reply.entries:
                return out
            after = reply.entries[-1].name

    async def getxattr(self, path: str, name: str, *, follow_symlinks: bool = True) -> bytes:
        reply = await self._meta("GetXattr", meta_pb2.GetXattrRequest(path=normalize(path), name=name,
                                                                      no_follow=not follow_symlinks))
        return reply.value

    async def listxattr(self, path: str, *, follow_symlinks: bool = True) -> list[str]:
        reply = await self._meta("GetXattr", meta_pb2.GetXattrRequest(path=normalize(path), list=True,
                                                                      no_follow=not follow_symlinks))
        return list(reply.names)

    async def setxattr(self, path: str, name: str, value: bytes, flags: int = 0, *,
                       follow_symlinks: bool = True) -> None:
        """Set an extended attribute, like ``os.setxattr`` (``flags``: os.XATTR_CREATE / XATTR_REPLACE)."""
        await self._meta("SetXattr", meta_pb2.SetXattrRequest(
            path=normalize(path), name=name, value=bytes(value), create=bool(flags & 1), replace=bool(flags & 2),
            no_follow=not follow_symlinks, request_id=request_id()))

    async def removexattr(self, path: str, name: str, *, follow_symlinks: bool = True) -> None:
        await self._meta("SetXattr", meta_pb2.SetXattrRequest(path=normalize(path), name=name, remove=True,
                                                              no_follow=not follow_symlinks,
                                                              request_id=request_id()))

    async def readlink(self, path: str) -> str:
        return (await self._meta("ReadLink", meta_pb2.ReadLinkRequest(path=normalize(path)))).target

    async def _setattr(self, path: str, **fields) -> FileStat:
        path = normalize(path)
        reply = await self._meta("SetAttr", meta_pb2.SetAttrRequest(path=path, request_id=request_id(), **fields))
        return FileStat.from_inode(path, reply.inode)

    async def chmod(self, path: str, mode: int, *, follow_symlinks: bool = True) -> FileStat:
        return await self._setattr(path, set_mode=True, mode=mode, no_follow=not follow_symlinks)

    async def chown(self, path: str, uid: int = -1, gid: int = -1, *, follow_symlinks: bool = True) -> FileStat:
        """Change owner and/or group (-1 leaves one as it is), like ``os.chown``."""
        return await self._setattr(path, set_uid=uid >= 0, uid=max(uid, 0), set_gid=gid >= 0, gid=max(gid, 0),
                                   no_follow=not follow_symlinks)

    async def utime(self, path: str, ns: tuple[int | None, int | None] | None = None, *,
                    follow_symlinks: bool = True) -> FileStat:
        """Set access and modification times (nanoseconds; now when ``ns`` is None), like ``os.utime``;
        a time given as None is left as it is (``UTIME_OMIT``). Setting both to now (``ns`` None, as
        ``touch`` does) takes meta's clock, and write permission suffices for it, as in utimensat(2)."""
        if ns is None:
            return await self._setattr(path, set_atime=True, set_mtime=True, times_now=True,
                                       no_follow=not follow_symlinks)
        atime, mtime = ns
        return await self._setattr(path, set_atime=atime is not None, atime_ns=atime or 0,
                                   set_mtime=mtime is not None, mtime_ns=mtime or 0,
                                   no_follow=not follow_symlinks)

    async def set_layout(self, path: str, *, chunk_size: int = 0, stripe: int = 0) -> FileStat:
        """Set the chunk size and/or stripe that files created later in directory ``path`` (and in new
        directories below it) inherit."""
        return await self._setattr(path, chunk_size=chunk_size, stripe=stripe)

    async def statfs(self) -> meta_pb2.StatFsReply:
        """Capacity and use of the whole file system (after replication), and inodes in use."""
        return await self._meta("StatFs", meta_pb2.StatFsRequest())

    async def set_quota(self, path: str | None = None, *, uid: int | None = None, max_bytes: int = 0,
                        max_inodes: int = 0, clear: bool = False) -> meta_pb2.Quota:
        """Set (or ``clear``) the quota of directory tree ``path`` or of user ``uid`` (root only); 0 is
        unlimited. A new tree quota counts what is already there."""
        req = meta_pb2.SetQuotaRequest(max_bytes=max_bytes, max_inodes=max_inodes, clear=clear)
        if uid is not None:
            req.user_quota, req.uid = True, uid
        if path is not None:
            req.path = normalize(path)
        return (await self._meta("SetQuota", req)).quota

    async def quotas(self, path: str | None = None, *, uid: int | None = None) -> list[meta_pb2.Quota]:
        """The tree quotas over ``path`` (nearest first) and your user quota; user ``uid``'s quota; or,
        with neither, every quota (root) or your own."""
        req = meta_pb2.GetQuotaRequest(path=normalize(path) if path is not None else "")
        if uid is not None:
            req.user_quota, req.uid = True, uid
        return list((await self._meta("GetQuota", req)).quotas)

    async def walk(self, path: str = "/") -> AsyncIterator[tuple[str, list[str], list[str]]]:
        """Like ``os.walk``: (directory, subdirectory names, file names), top down."""
        path = normalize(path)
        dirs: list[str] = []
        files: list[str] = []
        async for entry in self.iterdir(path, detail=True):
            (dirs if entry.is_dir else files).append(entry.name)
        yield path, dirs, files
        for d in dirs:
            async for item in self.walk(path.rstrip("/") + "/" + d):
                yield item

    async def _truncate_inode(self, path: str, length: int) -> meta_pb2.Inode:
        inode = (await self._meta("Truncate", meta_pb2.TruncateRequest(path=path, length=length,
                                                                       request_id=request_id()))).inode
        self._open_files.truncated(inode.id, length)
        return inode

    async def watch_changes(self, notify: Notify) -> asyncio.Task:
        """Follow the inodes every client changes (client/_watch.py): ``notify`` gets each batch of
        ``meta_pb2.InodeChange``, or None when what changed cannot be known (drop everything cached). It
        runs on this client's loop and must not block. Returns once every meta server's feed was reached
        (or could not be), with the task that follows them: cancel it to stop."""
        watcher = self._watcher = ChangeWatcher(self._meta, notify)
        task = asyncio.ensure_future(watcher.run())
        ready = asyncio.ensure_future(watcher.ready.wait())
        await asyncio.wait([task, ready], return_when=asyncio.FIRST_COMPLETED)
        ready.cancel()
        return task

    async def pending_changes(self) -> list[meta_pb2.InodeChange] | None:
        """For a client that watches changes: those not yet handed to its ``notify`` (see
        ``ChangeWatcher.pending``; [] when not watching)."""
        return [] if self._watcher is None else await self._watcher.pending()

    async def lock(self, inode: int, owner: str, kind: int, type_: int, start: int = 0, end: int = 0, *,
                   test: bool = False) -> meta_pb2.LockReply:
        """Set, release or test a lock at meta (``kind`` 1 POSIX, 2 flock; ``type_`` 0 unlock, 1 shared,
        2 exclusive; [start, end), end 0: to the end) for ``owner`` within this client; it holds while this
        client lives (see meta/ops/lock.py). The reply says whether it was granted, and the conflict, and
        (``shared``) whether another client has the file open for writing."""
        reply = await self._meta("Lock", meta_pb2.LockRequest(
            inode=inode, client=self._lock_client, owner=owner, kind=kind, type=type_, start=start, end=end,
            test=test, holder=self.client_id))
        if reply.granted and type_ and not test:
            self._sessions.locking(self._lock_client, reply.lease_ttl_ms / 1000)
        return reply

    async def _append_offset(self, inode: int, session: int, length: int) -> int:
        """Where an O_APPEND write of ``length`` bytes goes (meta gives appenders places that never
        overlap, whichever process or client they write from)."""
        return (await self._meta("Append", meta_pb2.AppendRequest(inode=inode, session=session,
                                                                  length=length))).offset

    # -- lifecycle ---------------------------------------------------------------------------------

    async def close(self) -> None:
        try:
            await self._sessions.aclose()
        finally:  # whatever the sessions' end, the connections and the shared region go
            self._chunks.close()
            if self._chunks.shm is not None:
                self._chunks.shm.close()
            await self._meta.close()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc) -> None:
        await self.close()

    def __repr__(self) -> str:
        return f"<fs3.AsyncClient meta={self.address}>"


async def aconnect(address: str | None = None, **kwargs) -> AsyncClient:
    """Connect from asyncio code: ``address`` is ``HOST:PORT`` of a meta server or a local cluster's data
    directory; by default ``FS3_CLUSTER``, then the most recent cluster started with ``fs3 up``."""
    return await AsyncClient.connect(address, **kwargs)
