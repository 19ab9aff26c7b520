"""The fs3 client: namespace calls to meta, chunk I/O straight to the storage nodes."""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

from fs3._discovery import meta_addresses
from fs3._errors import AlreadyExists, InvalidArgument
from fs3._paths import normalize
from fs3.proto import cluster_pb2, meta_pb2

from ._chunk_io import ChunkIO
from ._file import File
from ._meta import MetaConnection
from ._routing import RoutingCache
from ._types import FileStat

READDIR_PAGE = 1000


def _parse_mode(mode: str) -> tuple[bool, bool, bool, bool, bool, bool, bool]:
    """(read, write, create, exclusive, truncate, append, binary) for a built-in-style mode string."""
    chars = set(mode)
    if len(mode) != len(chars) or not chars <= set("rwxab+t") or len(chars & set("rwxa")) != 1:
        raise InvalidArgument(f"Invalid argument: invalid mode {mode!r}")
    if "b" in chars and "t" in chars:
        raise InvalidArgument(f"Invalid argument: invalid mode {mode!r} (both binary and text)")
    plus = "+" in chars
    if "r" in chars:
        return True, plus, False, False, False, False, "b" in chars
    if "w" in chars:
        return plus, True, True, False, True, False, "b" in chars
    if "x" in chars:
        return plus, True, True, True, False, False, "b" in chars
    return plus, True, True, False, False, True, "b" in chars  # "a"


class Client:
    """A connection to one fs3 cluster. Thread-safe; close it (or use ``with``) when done."""

    def __init__(self, address: str | None = None, *, timeout: float = 60.0, connect_timeout: float = 10.0):
        self.address = meta_addresses(address)[0]
        self._meta = MetaConnection(self.address, timeout=timeout)
        first = self._meta.connect(connect_timeout)
        self._executor = ThreadPoolExecutor(max_workers=32, thread_name_prefix="fs3-io")
        self._routing = RoutingCache(self._meta.routing)
        self._routing.install(first)
        self._chunks = ChunkIO(self._routing, self._executor, timeout=timeout)
        self.client_id = f"{os.uname().nodename}:{os.getpid()}"

    # -- files -------------------------------------------------------------------------------------

    def open(
        self,
        path: str,
        mode: str = "rb",
        buffering: int = -1,
        encoding: str | None = None,
        errors: str | None = None,
        newline: str | None = None,
        *,
        chunk_size: int = 0,
        stripe: int = 0,
        perm: int = 0o644,
    ):
        """Open a file like the built-in ``open``: modes r, w, x, a with b/t and +; ``buffering=0`` for
        the raw ``File``. New files take their layout from the parent directory unless ``chunk_size`` /
        ``stripe`` say otherwise."""
        read, write, create, exclusive, truncate, append, binary = _parse_mode(mode)
        if buffering == 0 and not binary:
            raise InvalidArgument("Invalid argument: can't have unbuffered text I/O")
        path = normalize(path)
        reply = self._meta("Open", meta_pb2.OpenRequest(
            path=path, write=write, create=create, exclusive=exclusive, truncate=truncate,
            mode=perm, chunk_size=chunk_size, stripe=stripe, client=self.client_id,
        ))
        raw = File(self, path, reply.inode, reply.session, mode=mode,
                   readable=read, writable=write, append=append)
        if append:
            raw.seek(0, io.SEEK_END)
        if buffering == 0:
            return raw
        size = buffering if buffering > 1 else max(io.DEFAULT_BUFFER_SIZE, reply.inode.layout.chunk_size)
        if read and write:
            buffered = io.BufferedRandom(raw, size)
        elif write:
            buffered = io.BufferedWriter(raw, size)
        else:
            buffered = io.BufferedReader(raw, size)
        if binary:
            return buffered
        return io.TextIOWrapper(buffered, encoding=encoding or "utf-8", errors=errors, newline=newline)

    def read(self, path: str, offset: int = 0, length: int = -1) -> bytes:
        """Bytes of a file: all of it, or ``length`` bytes from ``offset``."""
        with self.open(path, "rb", buffering=0) as f:
            f.seek(offset)
            if length < 0:
                return f.readall()
            buf = bytearray(max(0, min(length, f.size - offset)))
            n = f.readinto(buf)
            return bytes(buf[:n])

    def write(self, path: str, data, *, offset: int | None = None) -> int:
        """Replace a file's content with ``data`` (creating it), or write at ``offset`` of an existing
        file without truncating it."""
        mode = "wb" if offset is None else "r+b"
        with self.open(path, mode, buffering=0) as f:
            if offset:
                f.seek(offset)
            return f.write(data)

    def truncate(self, path: str, length: int) -> FileStat:
        path = normalize(path)
        return FileStat.from_inode(path, self._truncate_inode(path, length))

    # -- namespace ---------------------------------------------------------------------------------

    def stat(self, path: str) -> FileStat:
        path = normalize(path)
        return FileStat.from_inode(path, self._meta("Stat", meta_pb2.StatRequest(path=path)).inode)

    def exists(self, path: str) -> bool:
        try:
            self.stat(path)
            return True
        except FileNotFoundError:
            return False

    def iterdir(self, path: str = "/", *, detail: bool = False) -> Iterator[str | FileStat]:
        """Entries of a directory in name order, fetched a page at a time."""
        path = normalize(path)
        after = ""
        while True:
            reply = self._meta("ReadDir", meta_pb2.ReadDirRequest(
                path=path, start_after=after, limit=READDIR_PAGE, with_inodes=detail,
            ))
            for entry in reply.entries:
                child = path.rstrip("/") + "/" + entry.name
                yield FileStat.from_inode(child, entry.inode) if detail else entry.name
            if not reply.more or not reply.entries:
                return
            after = reply.entries[-1].name

    def ls(self, path: str = "/", *, detail: bool = False) -> list:
        """Names in a directory (or ``FileStat`` objects with ``detail=True``); a file lists itself."""
        st = self.stat(path)
        if not st.is_dir:
            return [st if detail else st.name]
        return list(self.iterdir(path, detail=detail))

    def mkdir(self, path: str, mode: int = 0o755, *, parents: bool = False) -> FileStat:
        path = normalize(path)
        reply = self._meta("Mkdir", meta_pb2.MkdirRequest(path=path, mode=mode, parents=parents))
        return FileStat.from_inode(path, reply.inode)

    def makedirs(self, path: str, mode: int = 0o755, exist_ok: bool = True) -> FileStat:
        if not exist_ok and self.exists(path):
            raise AlreadyExists("File exists", path=normalize(path))
        return self.mkdir(path, mode, parents=True)

    def remove(self, path: str, *, recursive: bool = False) -> None:
        """Remove a file or symlink; an empty directory; or, with ``recursive``, a whole tree (detached at
        once, reclaimed in the background)."""
        path = normalize(path)
        self._meta("Remove", meta_pb2.RemoveRequest(path=path, recursive=recursive, any_type=True))

    def unlink(self, path: str) -> None:
        self._meta("Remove", meta_pb2.RemoveRequest(path=normalize(path)))

    def rmdir(self, path: str) -> None:
        self._meta("Remove", meta_pb2.RemoveRequest(path=normalize(path), directory=True))

    def rename(self, src: str, dst: str, *, replace: bool = True) -> FileStat:
        """Move ``src`` to ``dst`` atomically, replacing ``dst`` (POSIX rules) unless ``replace=False``."""
        src, dst = normalize(src), normalize(dst)
        reply = self._meta("Rename", meta_pb2.RenameRequest(src=src, dst=dst, no_replace=not replace))
        return FileStat.from_inode(dst, reply.inode)

    def walk(self, path: str = "/") -> Iterator[tuple[str, list[str], list[str]]]:
        """Like ``os.walk``: (directory, subdirectory names, file names), top down."""
        path = normalize(path)
        dirs, files = [], []
        for entry in self.iterdir(path, detail=True):
            (dirs if entry.is_dir else files).append(entry.name)
        yield path, dirs, files
        for d in dirs:
            yield from self.walk(path.rstrip("/") + "/" + d)

    # -- cluster -----------------------------------------------------------------------------------

    def routing_info(self, *, refresh: bool = True) -> cluster_pb2.RoutingInfo:
        """The cluster's nodes, targets, chains and chain tables (with live state)."""
        if refresh:
            return self._meta.routing(0).routing
        return self._routing.info

    def create_chains(self, replicas: int = 1) -> cluster_pb2.CreateChainTableReply:
        reply = self._meta("CreateChainTable", cluster_pb2.CreateChainTableRequest(replicas=replicas))
        self._routing.refresh()
        return reply

    # -- internals used by File --------------------------------------------------------------------

    def _close_session(self, inode, session: int, wrote: bool, written_end: int):
        reply = self._meta("Close", meta_pb2.CloseRequest(
            inode=inode.id, session=session, wrote=wrote, written_end=written_end,
        ))
        return reply.inode

    def _truncate_inode(self, path: str, length: int):
        st = self._meta("Truncate", meta_pb2.TruncateRequest(path=path, length=length))
        return st.inode

    # -- lifecycle ---------------------------------------------------------------------------------

    def close(self) -> None:
        self._executor.shutdown(wait=False)
        self._chunks.close()
        self._meta.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<fs3.Client meta={self.address}>"


def connect(address: str | None = None, token: str | None = None, **kwargs) -> Client:
    """Connect to a cluster: ``address`` is ``HOST:PORT`` of a meta server or a local cluster's data
    directory; by default ``FS3_CLUSTER``, then the most recent cluster started with ``fs3 up``."""
    del token  # accepted for forward compatibility; authentication comes with users and permissions
    return Client(address, **kwargs)
