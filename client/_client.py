"""The fs3 client for ordinary (synchronous) code: an ``AsyncClient`` run on a private event loop in a
background thread, so both share one implementation; every method here waits for its coroutine there.
"""

from __future__ import annotations

import _thread
import asyncio
import concurrent.futures
import errno
import io
import os
import stat as _stat
import threading
from collections.abc import Callable, Iterator, Sequence

from fs3._data_client import TransportStatus
from fs3._errors import FS3Error, InvalidArgument
from fs3.proto import admin_pb2, cluster_pb2, meta_pb2

from . import _fork
from ._async_client import AsyncClient, Caller, parse_mode
from ._file import BufferedRandom, BufferedReader, BufferedWriter, File
from ._types import FileStat

try:
    import uvloop
except ImportError:  # pragma: no cover - uvloop is a dependency on Linux and macOS
    uvloop = None  # type: ignore[assignment]


CLOSED_CHECK = 1.0  # how often a waiting call checks that its client's loop still runs


class ClientClosed(FS3Error, ValueError):
    """A call was in flight, or made, on a client that was closed (``ValueError``, as for I/O on a
    closed file)."""

    errno_default = errno.EBADF


class _LoopThread:
    def __init__(self):
        self._closing = False
        self.loop = uvloop.new_event_loop() if uvloop is not None else asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="fs3-client", daemon=True)
        self._thread.start()

    def run(self, coro):
        """Run ``coro`` on the loop and wait for it: a task and a bare lock, which costs half of what
        ``run_coroutine_threadsafe`` does (per call of a metadata operation, that shows)."""
        if self._closing or self.loop.is_closed():
            coro.close()
            raise ClientClosed("I/O operation on a closed fs3 client")
        lock = _thread.allocate_lock()
        lock.acquire()
        box: list[asyncio.Task] = []

        def done(task):
            box.append(task)
            lock.release()

        def start():
            box.append(self.loop.create_task(coro))
            box[0].add_done_callback(done)

        if self.on_loop():  # it would wait for itself forever
            coro.close()
            raise RuntimeError("an fs3 client's blocking call was made on its own event loop thread")
        self.loop.call_soon_threadsafe(start)
        try:
            while not lock.acquire(timeout=CLOSED_CHECK):
                if not self._thread.is_alive():  # the client was closed: nothing will answer this call
                    raise ClientClosed("the fs3 client was closed while this call was in flight")
        except BaseException:  # interrupted (Ctrl-C): stop the operation too
            if not self.loop.is_closed():
                self.loop.call_soon_threadsafe(lambda: box and box[0].cancel())
            raise
        task = box[0]
        if task.cancelled() and self._closing:
            raise ClientClosed("the fs3 client was closed while this call was in flight")
        return task.result()

    def on_loop(self) -> bool:
        """Whether the caller runs on this loop's own thread (where nothing may wait for the loop)."""
        return threading.current_thread() is self._thread

    def close(self) -> None:
        """Stop the loop; calls still in flight on it (from other threads) end with ``ClientClosed``."""
        if self.loop.is_closed():
            return
        self._closing = True
        if self._thread.is_alive() and not self.on_loop():
            try:
                asyncio.run_coroutine_threadsafe(_cancel_the_rest(), self.loop).result(timeout=10)
            except (concurrent.futures.TimeoutError, RuntimeError):
                pass
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=10)
        self.loop.close()


async def _cancel_the_rest() -> None:
    """Cancel every task of the running loop but this one, and wait for them to end."""
    tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


class Client:
    """A connection to one fs3 cluster. Thread-safe; close it (or use ``with``) when done."""

    def __init__(self, address: str | None = None, **kwargs):
        self._loop = _LoopThread()
        try:
            self._async: AsyncClient = self._loop.run(AsyncClient.connect(address, **kwargs))
        except BaseException:
            self._loop.close()
            raise
        self.address = self._async.address
        self._pid = os.getpid()
        _fork.track(self)  # its gRPC channels close before a fork of this process (reopened on next use)

    def _run(self, coro):
        if os.getpid() != self._pid:  # its loop thread stayed in the parent: nothing would run this
            coro.close()
            raise FS3Error(f"this fs3 client belongs to process {self._pid}: a forked child connects anew "
                           "(fs3.connect())")
        return self._loop.run(coro)

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
        caller: Caller | None = None,
    ):
        """Open a file like the built-in ``open``: modes r, w, x, a with b/t and +; ``buffering=0`` for
        the raw ``File``. New files take their layout from the parent directory unless ``chunk_size`` /
        ``stripe`` say otherwise."""
        read, write, _create, _excl, _trunc, _append, binary = parse_mode(mode)
        if buffering == 0 and not binary:
            raise InvalidArgument("Invalid argument: can't have unbuffered text I/O")
        afile = self._run(self._async.open(path, mode.replace("t", ""), chunk_size=chunk_size, stripe=stripe,
                                           perm=perm, caller=caller))
        raw = File(self, afile)
        if buffering == 0:
            return raw
        size = buffering if buffering > 1 else max(io.DEFAULT_BUFFER_SIZE, afile.inode.layout.chunk_size)
        buffered: io.BufferedIOBase
        if read and write:
            buffered = BufferedRandom(raw, size)
        elif write:
            buffered = BufferedWriter(raw, size)
        else:
            buffered = BufferedReader(raw, size)
        if binary:
            return buffered
        return io.TextIOWrapper(buffered, encoding=encoding or "utf-8", errors=errors, newline=newline)

    def read(self, path: str, offset: int = 0, length: int = -1) -> bytes:
        """Bytes of a file: all of it, or up to ``length`` bytes from ``offset``."""
        return self._run(self._async.read(path, offset, length))

    def write(self, path: str, data, *, offset: int | None = None) -> int:
        """Replace a file's content with ``data`` (creating it), or write at ``offset`` of an existing
        file without truncating it."""
        return self._run(self._async.write(path, data, offset=offset))

    def read_batch(self, requests: Sequence, buffers=None) -> list:
        """Many reads at once across files and storage nodes; see ``AsyncClient.read_batch``."""
        return self._run(self._async.read_batch(requests, buffers))

    def truncate(self, path: str, length: int) -> FileStat:
        return self._run(self._async.truncate(path, length))

    # -- namespace ---------------------------------------------------------------------------------

    def stat(self, path: str, *, follow_symlinks: bool = True) -> FileStat:
        return self._run(self._async.stat(path, follow_symlinks=follow_symlinks))

    def lstat(self, path: str) -> FileStat:
        return self._run(self._async.lstat(path))

    def stat_many(self, paths: Sequence[str], *, follow_symlinks: bool = True) -> list:
        """Stats of many paths in one call: a ``FileStat``, or the exception why not, per path."""
        return self._run(self._async.stat_many(paths, follow_symlinks=follow_symlinks))

    def exists(self, path: str) -> bool:
        return self._run(self._async.exists(path))

    def iterdir(self, path: str = "/", *, detail: bool = False) -> Iterator:
        """Entries of a directory in name order, fetched a page at a time."""
        after = ""
        while True:
            entries, more = self._run(self._async.readdir_page(path, after, detail=detail))
            yield from entries
            if not more or not entries:
                return
            after = entries[-1].name if detail else entries[-1]

    def scan(self, path: str) -> list[tuple[str, int, int]]:
        """(name, inode number, S_IFMT bits) of a directory's entries, ``.`` and ``..`` first."""
        return self._run(self._async.scan(path))

    def ls(self, path: str = "/", *, detail: bool = False) -> list:
        """Names in a directory (or ``FileStat`` objects with ``detail=True``); a file lists itself."""
        st = self.stat(path)
        if not st.is_dir:
            return [st if detail else st.name]
        return list(self.iterdir(path, detail=detail))

    def mkdir(self, path: str, mode: int = 0o755, *, parents: bool = False, caller: Caller | None = None) -> FileStat:
        return self._run(self._async.mkdir(path, mode, parents=parents, caller=caller))

    def makedirs(self, path: str, mode: int = 0o755, exist_ok: bool = True) -> FileStat:
        return self._run(self._async.makedirs(path, mode, exist_ok))

    def remove(self, path: str, *, recursive: bool = False, trash: bool = False) -> None:
        """Remove a file or symlink; an empty directory; or, with ``recursive``, a whole tree (detached at
        once, reclaimed in the background); with ``trash``, move it to ``/.trash/<user>/`` instead."""
        self._run(self._async.remove(path, recursive=recursive, trash=trash))

    def unlink(self, path: str) -> None:
        self._run(self._async.unlink(path))

    def rmdir(self, path: str) -> None:
        self._run(self._async.rmdir(path))

    def rename(self, src: str, dst: str, *, replace: bool = True) -> FileStat:
        """Move ``src`` to ``dst`` atomically, replacing ``dst`` (POSIX rules) unless ``replace=False``."""
        return self._run(self._async.rename(src, dst, replace=replace))

    def link(self, src: str, dst: str) -> FileStat:
        return self._run(self._async.link(src, dst))

    def symlink(self, target: str, path: str, *, caller: Caller | None = None) -> FileStat:
        return self._run(self._async.symlink(target, path, caller=caller))

    def readlink(self, path: str) -> str:
        return self._run(self._async.readlink(path))

    def mknod(self, path: str, mode: int = 0o600 | _stat.S_IFIFO, device: int = 0, *,
              caller: Caller | None = None) -> FileStat:
        """A fifo, device or socket, like ``os.mknod``; see ``AsyncClient.mknod``."""
        return self._run(self._async.mknod(path, mode, device, caller=caller))

    def getxattr(self, path: str, name: str, *, follow_symlinks: bool = True) -> bytes:
        return self._run(self._async.getxattr(path, name, follow_symlinks=follow_symlinks))

    def listxattr(self, path: str, *, follow_symlinks: bool = True) -> list[str]:
        return self._run(self._async.listxattr(path, follow_symlinks=follow_symlinks))

    def setxattr(self, path: str, name: str, value: bytes, flags: int = 0, *, follow_symlinks: bool = True) -> None:
        """Set an extended attribute, like ``os.setxattr``; see ``AsyncClient.setxattr``."""
        self._run(self._async.setxattr(path, name, value, flags, follow_symlinks=follow_symlinks))

    def removexattr(self, path: str, name: str, *, follow_symlinks: bool = True) -> None:
        self._run(self._async.removexattr(path, name, follow_symlinks=follow_symlinks))

    def chmod(self, path: str, mode: int, *, follow_symlinks: bool = True) -> FileStat:
        return self._run(self._async.chmod(path, mode, follow_symlinks=follow_symlinks))

    def chown(self, path: str, uid: int = -1, gid: int = -1, *, follow_symlinks: bool = True) -> FileStat:
        return self._run(self._async.chown(path, uid, gid, follow_symlinks=follow_symlinks))

    def utime(self, path: str, ns: tuple[int | None, int | None] | None = None, *,
              follow_symlinks: bool = True) -> FileStat:
        return self._run(self._async.utime(path, ns, follow_symlinks=follow_symlinks))

    def set_layout(self, path: str, *, chunk_size: int = 0, stripe: int = 0) -> FileStat:
        return self._run(self._async.set_layout(path, chunk_size=chunk_size, stripe=stripe))

    def statfs(self) -> meta_pb2.StatFsReply:
        return self._run(self._async.statfs())

    def lock(self, inode: int, owner: str, kind: int, type_: int, start: int = 0, end: int = 0, *,
             test: bool = False) -> meta_pb2.LockReply:
        """See ``AsyncClient.lock``."""
        return self._run(self._async.lock(inode, owner, kind, type_, start, end, test=test))

    def watch_changes(self, notify) -> Callable[[], None]:
        """See ``AsyncClient.watch_changes`` (``notify`` runs on this client's loop thread and must not
        block). Returns a function that stops watching."""
        task = self._run(self._async.watch_changes(notify))
        loop = self._loop.loop

        def stop() -> None:
            if not loop.is_closed():
                loop.call_soon_threadsafe(task.cancel)
        return stop

    def pending_changes(self) -> list[meta_pb2.InodeChange] | None:
        """See ``AsyncClient.pending_changes``."""
        return self._run(self._async.pending_changes())

    def set_quota(self, path: str | None = None, *, uid: int | None = None, max_bytes: int = 0,
                  max_inodes: int = 0, clear: bool = False) -> meta_pb2.Quota:
        return self._run(self._async.set_quota(path, uid=uid, max_bytes=max_bytes, max_inodes=max_inodes,
                                               clear=clear))

    def quotas(self, path: str | None = None, *, uid: int | None = None) -> list[meta_pb2.Quota]:
        return self._run(self._async.quotas(path, uid=uid))

    def walk(self, path: str = "/") -> Iterator[tuple[str, list[str], list[str]]]:
        """Like ``os.walk``: (directory, subdirectory names, file names), top down."""
        path = self.stat(path).path
        dirs: list[str] = []
        files: list[str] = []
        for entry in self.iterdir(path, detail=True):
            (dirs if entry.is_dir else files).append(entry.name)
        yield path, dirs, files
        for d in dirs:
            yield from self.walk(path.rstrip("/") + "/" + d)

    # -- cluster -----------------------------------------------------------------------------------

    def routing_info(self, *, refresh: bool = True, history: bool = False) -> cluster_pb2.RoutingInfo:
        """The cluster's nodes, targets, chains and chain tables (with live state); with ``history``,
        each target's last recorded state changes too."""
        return self._run(self._async.routing_info(refresh=refresh, history=history))

    def create_chains(self, replicas: int = 1) -> cluster_pb2.CreateChainTableReply:
        return self._run(self._async.create_chains(replicas))

    def drain_node(self, node_id: int, *, dry_run: bool = False) -> cluster_pb2.ReplicaMovesReply:
        """Move every replica of a storage node to free targets of other nodes; the moves run in the
        background (``routing_info().moves``), then ``remove_node``."""
        return self._run(self._async.drain_node(node_id, dry_run=dry_run))

    def grow_chains(self, *, dry_run: bool = False) -> cluster_pb2.ReplicaMovesReply:
        """Give free targets chains: new chains, or replicas moved onto them."""
        return self._run(self._async.grow_chains(dry_run=dry_run))

    def remove_node(self, node_id: int) -> cluster_pb2.RemoveNodeReply:
        """Forget a drained storage node and its targets (refused while it holds a replica)."""
        return self._run(self._async.remove_node(node_id))

    def set_target_offline(self, target_id: int, offline: bool = True) -> cluster_pb2.TargetInfo:
        """Take a target out of service (or let it back in); an operator's call."""
        return self._run(self._async.set_target_offline(target_id, offline))

    def scrub(self, chain_id: int = 0) -> cluster_pb2.ScrubReply:
        """Scrub a chain, or every chain (0), now and report what was repaired; an admin's call."""
        return self._run(self._async.scrub(chain_id))

    def meta_call_status(self) -> dict:
        """How namespace calls reach meta: over its framed listener, or over gRPC and why."""
        return self._run(self._async.meta_call_status())

    def data_plane_status(self, *, probe: bool = True) -> list[TransportStatus]:
        """Which transport serves each storage node, and why the better ones were not chosen."""
        return self._run(self._async.data_plane_status(probe=probe))

    # -- users -------------------------------------------------------------------------------------

    def whoami(self) -> admin_pb2.UserInfo:
        return self._run(self._async.whoami())

    def add_user(self, name: str, **kwargs) -> tuple[admin_pb2.UserInfo, str]:
        return self._run(self._async.add_user(name, **kwargs))

    def remove_user(self, name: str) -> None:
        self._run(self._async.remove_user(name))

    def list_users(self) -> list[admin_pb2.UserInfo]:
        return self._run(self._async.list_users())

    def issue_token(self, name: str, *, revoke_others: bool = False) -> str:
        return self._run(self._async.issue_token(name, revoke_others=revoke_others))

    # -- lifecycle ---------------------------------------------------------------------------------

    @property
    def retry_timeout(self) -> float:
        """Seconds a call waits out an outage of the servers it needs before it fails with
        ``Unavailable`` (``connect(retry_timeout=)``, ``FS3_RETRY_TIMEOUT``, else 300); settable."""
        return self._async.retry_timeout

    @retry_timeout.setter
    def retry_timeout(self, seconds: float | None) -> None:
        self._async.retry_timeout = seconds

    def close(self) -> None:
        if self._loop.loop.is_closed() or os.getpid() != self._pid:  # (a forked child's copy: the parent's)
            return
        try:
            self._run(self._async.close())
        finally:
            self._loop.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<fs3.Client meta={self.address}>"


def connect(address: str | None = None, **kwargs) -> Client:
    """Connect to a cluster: ``address`` is ``HOST:PORT`` of a meta server or a local cluster's data
    directory; by default ``FS3_CLUSTER``, then the most recent cluster started with ``fs3 up``.
    ``retry_timeout=SECONDS``: how long calls wait out an outage (stopped storage nodes, a restarting
    meta server) before they fail; default ``FS3_RETRY_TIMEOUT``, else 300. ``wait_out=True``: connecting
    waits out an unreachable meta server for that long too, instead of failing within seconds (for a job's
    processes that start during an outage, such as a DataLoader's workers)."""
    return Client(address, **kwargs)
