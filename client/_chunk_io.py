"""Chunk reads and writes over the data plane: plan pieces, group them per storage node into batched
frames, land the data in the caller's buffers, retry what stale routing or a lost node turned away.
"""

from __future__ import annotations

import asyncio
import collections
import functools
import itertools
import logging
import ssl
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from fs3 import _wire
from fs3._capability import READ, WRITE
from fs3._checksum import crc32c
from fs3._data_client import TCP_CONNECT_TIMEOUT, NodeConnection, NodePool, TransportStatus
from fs3._errors import FS3Error, StaleRouting, Status, Unavailable, error_for
from fs3._layout import chain_of, slices
from fs3._retry import Backoff, Outage, Wait
from fs3._retry import retry_timeout as resolve_retry_timeout
from fs3._retry import unreachable_timeout as resolve_unreachable_timeout
from fs3._wire import ReadItem, WriteItem
from fs3.proto import meta_pb2

from ._capabilities import Capabilities
from ._routing import RoutingCache
from ._shm import ShmRegion

log = logging.getLogger(__name__)

WATCH_INTERVAL = 1.0          # how often a slow request checks whether its node was declared offline
PASS_OVER = 5.0               # seconds reads pass over a node this client could not reach
PROBE_AFTER = 3.0             # a request unanswered this long has its node probed with a new connection
REPORT_EVERY = 2.0            # seconds between reports to meta of one node this client cannot reach
MAX_PIECE = 8 << 20           # reads of larger chunk ranges are split into pieces of this size
FRAME_BYTES = 16 << 20        # bytes one READ frame asks for
RETRYABLE = {
    Status.STALE_CHAIN_VERSION, Status.TARGET_NOT_SERVING, Status.TARGET_NOT_FOUND, Status.UNAVAILABLE,
    Status.CHUNK_PENDING,
}


@dataclass(slots=True)
class ReadPiece:
    """``length`` bytes at ``offset`` of chunk (inode, index) on ``chain``, into ``dest``."""

    inode: int
    index: int
    chain: int
    offset: int
    length: int
    dest: memoryview
    got: int = 0  # bytes of data the chunk had (the rest of dest was zero-filled)
    refused: bool = False  # a node refused its capability once (renewed and retried)


def plan_reads(inode: meta_pb2.Inode, offset: int, dest: memoryview) -> list[ReadPiece]:
    """The pieces that fill ``dest`` with the file's bytes from ``offset`` (pure; no I/O)."""
    layout = inode.layout
    chunk_size = layout.chunk_size
    index, chunk_offset = divmod(offset, chunk_size)
    if chunk_offset + len(dest) <= chunk_size and len(dest) <= MAX_PIECE:  # the common small read
        chain = layout.chains[index % layout.stripe]
        return [ReadPiece(inode.id, index, chain, chunk_offset, len(dest), dest)]
    pieces = []
    for s in slices(offset, len(dest), layout.chunk_size):
        chain = chain_of(layout.chains, layout.stripe, s.index)
        for sub in range(0, s.length, MAX_PIECE):
            n = min(MAX_PIECE, s.length - sub)
            pieces.append(ReadPiece(inode.id, s.index, chain, s.chunk_offset + sub, n,
                                    dest[s.buffer_offset + sub : s.buffer_offset + sub + n]))
    return pieces


class _Round:
    """One round of a read: its frames in flight (oldest first), and what failed."""

    def __init__(self, io: ChunkIO, attempt: int, replicas: dict[int, int], failed: list):
        self.io = io
        self.attempt = attempt
        self.replicas = replicas
        self.failed = failed
        self.in_flight: collections.deque = collections.deque()
        self.last_error: FS3Error | None = None
        self.only_pending = True

    async def collect(self) -> None:
        """Await the oldest frame in flight, land its results, and free its shared memory."""
        address, frame, future, base, span = self.in_flight.popleft()
        try:
            try:
                results = await self.io._reply(address, future)
            except Unavailable as exc:
                self.failed += frame
                self.last_error = exc
                self.only_pending = False
                return
            retry, corrupt, error = self.io._settle(address, frame, results, base)
        finally:
            if base:
                future.add_done_callback(functools.partial(self.io._release_span, base, span))
        self.failed += retry
        self.last_error = error or self.last_error
        if error is not None and error.status != Status.CHUNK_PENDING:
            self.only_pending = False
        for piece, failure in corrupt:
            if self.attempt + 1 >= self.replicas.get(piece.chain, 1):
                raise failure  # every replica tried: no intact copy to return
            self.failed.append(piece)

    def release_all(self) -> None:
        # Frames still in flight: their region is reused only once the node has answered (or the
        # connection is gone), as until then it may still be writing into it.
        for _address, _frame, future, base, span in self.in_flight:
            if base:
                future.add_done_callback(functools.partial(self.io._release_span, base, span))
        self.in_flight.clear()


class _RegionFull(Exception):
    """No room in the shared region right now (frames in flight hold it)."""


class PreparedWrite:
    """One chunk write whose data has been copied out of the caller's buffer (into shared memory when the
    head's connection uses it, else into bytes)."""

    __slots__ = ("inode", "index", "chain", "offset", "length", "chunk_size", "crc", "data", "shm_offset")

    def __init__(self, inode, index, chain, offset, length, chunk_size, crc, data, shm_offset):
        self.inode, self.index, self.chain = inode, index, chain
        self.offset, self.length, self.chunk_size = offset, length, chunk_size
        self.crc, self.data, self.shm_offset = crc, data, shm_offset


class ChunkIO:
    """The client's chunk reads and writes on the data plane: a pool of connections per storage node,
    reads batched into frames per node and retried on another replica, writes sent to their chain's head
    and retried through failover, for ``retry_timeout`` seconds (an outage of every replica is waited
    out: ``outage`` logs when waiting starts and ends). Background checks of unresponsive nodes are tasks
    it owns: their failures are logged, and ``close`` cancels them."""

    def __init__(
        self,
        routing: RoutingCache,
        token: Callable[[], Awaitable[bytes]],
        *,
        client_name: str,
        shm: ShmRegion | None,
        connections_per_node: int = 2,
        retry_timeout: float | None = None,
        capabilities: Capabilities | None = None,
        tls: ssl.SSLContext | None = None,
        report: Callable[[str], Awaitable[object]] | None = None,
        unreachable_timeout: float | None = None,
        ucx: bool = True,
    ):
        self.ucx = ucx  # UCX to nodes that listen with it (fs3/_ucx.py); False: framed TCP
        self.retry_timeout = resolve_retry_timeout(retry_timeout)  # (None: FS3_RETRY_TIMEOUT, else the default)
        # A node meta says serves but this client cannot reach (a one-way partition): reads pass it over,
        # writes to it as a chain head fail after unreachable_timeout unless meta fails its chain over
        # first, and meta hears of it (``report``; it acts when enough clients agree: meta/_unreachable.py).
        self.unreachable_timeout = resolve_unreachable_timeout(unreachable_timeout)
        self._report = report
        self._unreachable: dict[str, list[float]] = {}  # address -> [first failure in a row, last one]
        self._reported: dict[str, float] = {}
        self.outage = Outage("storage nodes", log)
        self._turn = 0
        self.routing = routing
        self._token = token
        self._client_name = client_name
        self.shm = shm
        self._per_node = connections_per_node
        self._pools: dict[str, NodePool] = {}
        self._checks: set[asyncio.Task] = set()  # _check_node tasks running now
        self._closed = False
        self.capabilities = capabilities  # presented before each request (None: a node's own reads)
        self.tls = tls  # every connection to a node wrapped in it (None: in clear)

    # -- connections -------------------------------------------------------------------------------

    async def _open(self, address: str) -> NodeConnection:
        return await NodeConnection.open(address, await self._token(), self.shm, self._client_name,
                                         self.routing.data_socket(address), tls=self.tls,
                                         ucx=self.routing.ucx_address(address) if self.ucx else None)

    def _pool(self, address: str) -> NodePool:
        pool = self._pools.get(address)
        if pool is None:
            pool = self._pools[address] = NodePool(address, self._open, self._per_node)
        return pool

    def statuses(self) -> list[TransportStatus]:
        return [s for pool in self._pools.values() for s in pool.statuses()]

    async def probe(self, address: str) -> TransportStatus:
        """Connect to a node's data plane (if not yet) and say which transport serves it."""
        conn = await self._pool(address).get()
        assert conn.status is not None  # (set by the handshake)
        return conn.status

    # -- nodes this client cannot reach --------------------------------------------------------------

    def _cannot_reach(self, address: str) -> float | None:
        """``address`` failed to answer: if meta says it serves (so it is not down, but cut off from this
        client), remember it and tell meta (at most every REPORT_EVERY); returns seconds since the first
        failure in a row (None: meta does not count on the node: an outage, waited out as such)."""
        if not self.routing.node_serving(address):
            self._unreachable.pop(address, None)
            return None
        now = time.monotonic()
        seen = self._unreachable.setdefault(address, [now, now])
        seen[1] = now
        if self._report is not None and now - self._reported.get(address, -REPORT_EVERY) >= REPORT_EVERY:
            self._reported[address] = now
            task = asyncio.ensure_future(self._report(address))
            self._checks.add(task)
            task.add_done_callback(self._reported_done)
        return now - seen[0]

    def _reported_done(self, task: asyncio.Task) -> None:
        self._checks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.debug("reporting an unreachable storage node to meta failed: %s", task.exception())

    def _passed_over(self, address: str) -> bool:
        """Whether reads should try other replicas before ``address`` (it failed to answer lately)."""
        seen = self._unreachable.get(address)
        return seen is not None and time.monotonic() - seen[1] < PASS_OVER

    @property
    def _region(self) -> ShmRegion:
        """The shared region (where it is used, there is one)."""
        assert self.shm is not None
        return self.shm

    def close(self) -> None:
        self._closed = True
        for task in self._checks:
            task.cancel()
        self._checks.clear()
        for pool in self._pools.values():
            pool.close()
        self._pools.clear()

    # -- reads -------------------------------------------------------------------------------------

    async def read(self, pieces: list[ReadPiece]) -> None:
        """Fill every piece's ``dest``; holes and bytes past a chunk's end read as zeros. A piece that
        failed on one replica (lost node, stale routing, bad checksum) is retried on the next.

        All frames of a round are sent before any reply is awaited, and no task is spawned: a small
        batch costs a few system calls, not a scheduler round per node."""
        backoff = Backoff(self.retry_timeout)
        self._turn += 1  # successive reads of a chunk rotate over its replicas
        wait = self.outage.wait()  # part of an outage from its first failure until the read ends
        try:
            await self._read(pieces, backoff, wait)
        finally:
            wait.end()

    async def _read(self, todo: list[ReadPiece], backoff: Backoff, wait: Wait) -> None:
        for attempt in itertools.count():
            failed: list[ReadPiece] = []
            only_pending = True
            last_error: FS3Error | None = None
            groups: dict[str, list[ReadPiece]] = {}
            replicas: dict[int, int] = {}
            for piece in todo:
                try:
                    addresses, _ = self.routing.data_readers(piece.chain)
                except FS3Error as exc:
                    failed.append(piece)
                    last_error = exc
                    only_pending = False
                    continue
                replicas[piece.chain] = len(addresses)
                usable = [a for a in addresses if not self._passed_over(a)] or addresses
                address = usable[(piece.index + attempt + self._turn) % len(usable)]
                group = groups.get(address)
                if group is None:
                    groups[address] = [piece]
                else:
                    group.append(piece)
            round_ = _Round(self, attempt, replicas, failed)
            try:
                for address, group in groups.items():
                    for frame in self._frames(group):
                        while True:
                            try:
                                # With frames in flight, a full shared region is made room in by
                                # landing the oldest of them, not by waiting on ourselves.
                                entry = await self._send_read(address, frame, wait=not round_.in_flight)
                            except _RegionFull:
                                await round_.collect()
                                continue
                            except Unavailable as exc:
                                round_.failed += frame
                                round_.last_error = exc
                                round_.only_pending = False
                                self._cannot_reach(address)
                                break
                            round_.in_flight.append(entry)
                            break
                while round_.in_flight:
                    await round_.collect()
            finally:
                round_.release_all()
            last_error = round_.last_error or last_error
            only_pending = only_pending and round_.only_pending
            if not failed:
                return
            if backoff.expired:
                p = failed[0]
                what = f"reading chunk {p.inode}:{p.index}" + (f" and {len(failed) - 1} more" if len(failed) > 1 else "")
                raise wait.give_up(self.retry_timeout, what, last_error) from last_error
            wait.failed(last_error or Unavailable("chunk reads failed"), self.retry_timeout)
            todo = failed
            if only_pending and last_error is not None:
                await asyncio.sleep(0.005)  # an update in flight: another replica (or a moment) answers
                continue
            await backoff.asleep()
            last_error = await self._refresh() or last_error

    async def _refresh(self) -> FS3Error | None:
        """Refresh the routing info between tries; meta being out too is one more thing to wait out
        (returned, not raised: the caller's deadline decides when to give up)."""
        try:
            await self.routing.refresh()
        except FS3Error as exc:
            return exc
        return None

    async def _reply(self, address: str, future: asyncio.Future):
        """Wait for a node's answer. A node that stops answering (hung, cut off) is given up on once the
        manager has declared it offline: by then it has fenced itself, so it will not touch this
        request's shared memory when it wakes, and the request can go to another replica."""
        if future.done():
            return future.result()
        watch = asyncio.get_running_loop().call_later(WATCH_INTERVAL, self._watch, address, future)
        try:
            return await future
        finally:
            watch.cancel()

    def _watch(self, address: str, future: asyncio.Future) -> None:
        if future.done() or self._closed:
            return
        task = asyncio.ensure_future(self._check_node(address, future))
        self._checks.add(task)
        task.add_done_callback(self._checked)

    def _checked(self, task: asyncio.Task) -> None:
        self._checks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("checking whether a storage node still serves failed", exc_info=task.exception())

    async def _check_node(self, address: str, future: asyncio.Future) -> None:
        """Every WATCH_INTERVAL until ``future`` is answered: refresh the routing info and give up on the
        node's connections once it is no longer serving. A node still serving that has not answered for
        PROBE_AFTER is probed with a new connection: if even that fails, this client is cut off from it
        (a one-way partition: meta still hears from it), and the request is given up on as if the node
        were offline (off this host only: a node on this host may still use the request's memory)."""
        started = asyncio.get_running_loop().time()
        while not future.done():
            try:
                await self.routing.refresh()
            except FS3Error:
                pass
            if future.done():
                return
            pool = self._pools.get(address)
            if not self.routing.node_serving(address):
                if pool is not None:
                    pool.abort(Unavailable(f"storage node {address} stopped answering and was declared offline"))
                return
            waited = asyncio.get_running_loop().time() - started
            if waited >= PROBE_AFTER and pool is not None and not pool.uses_shm and not await self._reachable(address):
                self._cannot_reach(address)
                pool.abort(Unavailable(f"storage node {address} stopped answering this client for {waited:.0f} s "
                                       "and a new connection to it failed: this client is cut off from it"))
                return
            await asyncio.wait({future}, timeout=WATCH_INTERVAL)

    async def _reachable(self, address: str) -> bool:
        """Whether a new TCP connection to ``address`` is accepted (closed at once)."""
        host, _, port = address.rpartition(":")
        try:
            _reader, writer = await asyncio.wait_for(asyncio.open_connection(host.strip("[]"), int(port)),
                                                     TCP_CONNECT_TIMEOUT)
        except (OSError, asyncio.TimeoutError):
            return False
        writer.close()
        return True

    def _release_span(self, base: int, span: int, future: asyncio.Future) -> None:
        if not future.cancelled():
            future.exception()  # retrieved: an abandoned request's failure is not news
        self._region.free(base, span)

    def _frames(self, pieces: list[ReadPiece]) -> list[list[ReadPiece]]:
        """Split one node's pieces into frames that fit the protocol's and the shared region's limits."""
        limit = min(FRAME_BYTES, self.shm.capacity // 2) if self.shm else FRAME_BYTES
        if len(pieces) <= _wire.MAX_ITEMS and sum(p.length for p in pieces) + len(pieces) * _wire.ALIGN <= limit:
            return [pieces]
        frames: list[list[ReadPiece]] = [[]]
        size = 0
        for p in pieces:
            span = _wire.shm_span(p.offset, p.length)
            if frames[-1] and (size + span > limit or len(frames[-1]) >= _wire.MAX_ITEMS):
                frames.append([])
                size = 0
            frames[-1].append(p)
            size += span
        return frames

    async def _send_read(self, address: str, pieces: list[ReadPiece], *, wait: bool = True):
        """Send one READ frame; returns (address, pieces, reply future, shm base, shm bytes). Without
        ``wait``, raises _RegionFull rather than wait for room in the shared region."""
        caps = None
        if self.capabilities is not None:
            caps = await self.capabilities.get([(inode, READ) for inode in {p.inode for p in pieces}])
        conn = await self._pool(address).get()
        version = self.routing.chain_version
        if not conn.uses_shm:
            items = [ReadItem(p.chain, version(p.chain), p.inode, p.index, p.offset, p.length) for p in pieces]
            if caps:
                conn.grant(caps)
            return address, pieces, conn.send_read(items, [p.dest for p in pieces]), 0, 0
        spans = [_wire.shm_span(p.offset, p.length) for p in pieces]
        total = sum(spans)
        base = await self._region.alloc(total) if wait else self._region.try_alloc(total)
        if base is None:
            raise _RegionFull()
        items = []
        pos = base
        for p, span in zip(pieces, spans, strict=True):
            items.append(ReadItem(p.chain, version(p.chain), p.inode, p.index, p.offset, p.length, pos))
            pos += span
        try:
            if caps:
                conn.grant(caps)
            future = conn.send_read(items, None)
        except BaseException:
            self._region.free(base, total)
            raise
        return address, pieces, future, base, total

    def _settle(self, address, pieces, results, base):
        """Land one frame's results: copy out of shared memory, zero-fill holes and short chunks; returns
        the pieces to retry, those that failed their checksum (with the error), and the last error."""
        retry: list[ReadPiece] = []
        corrupt: list[tuple[ReadPiece, FS3Error]] = []
        error: FS3Error | None = None
        view = self._region.view if base else None
        pos = base
        for p, (status, n, _version, _chunk_len) in zip(pieces, results, strict=True):
            if status == 0:
                if view is not None and n:
                    src = pos + p.offset % _wire.ALIGN
                    p.dest[:n] = view[src : src + n]
                if n < p.length:
                    p.dest[n:] = bytes(p.length - n)
                p.got = n
            elif status == Status.CHUNK_NOT_FOUND:
                p.dest[:] = bytes(p.length)
                p.got = 0
            elif status in (Status.CHECKSUM_MISMATCH, Status.DISK_ERROR):  # unreadable here: another replica
                corrupt.append((p, error_for(status, describe_failure(status, p.inode, p.index, address))))
            elif status in RETRYABLE:
                retry.append(p)
                error = error_for(status, describe_failure(status, p.inode, p.index, address))
            elif status == Status.CAPABILITY_REFUSED and not p.refused and self.capabilities is not None:
                p.refused = True  # lapsed on the node's clock: renewed, then presented again once
                self.capabilities.lapse(p.inode, READ)
                retry.append(p)
                error = error_for(status, describe_failure(status, p.inode, p.index, address))
            else:
                raise error_for(status, describe_failure(status, p.inode, p.index, address))
            if base:
                pos += _wire.shm_span(p.offset, p.length)
        return retry, corrupt, error

    # -- writes ------------------------------------------------------------------------------------

    async def prepare_write(self, inode: meta_pb2.Inode, index: int, offset: int, data: memoryview) -> PreparedWrite:
        """Copy one chunk piece out of the caller's buffer so the caller may reuse it at once."""
        layout = inode.layout
        chain = chain_of(layout.chains, layout.stripe, index)
        if self.shm is not None and len(data) <= self.shm.capacity // 4:
            base = await self._region.alloc(len(data))
            self._region.view[base : base + len(data)] = data
            return PreparedWrite(inode.id, index, chain, offset, len(data), layout.chunk_size, None, None, base)
        payload = bytes(data)
        return PreparedWrite(inode.id, index, chain, offset, len(data), layout.chunk_size, crc32c(payload),
                             payload, 0)

    async def send_write(self, w: PreparedWrite) -> None:
        """Send a prepared write to its chain's head; retries on stale routing or a lost node."""
        backoff = Backoff(self.retry_timeout)
        wait = self.outage.wait()
        refused = False
        try:
            while True:
                address = ""
                try:
                    caps = None
                    if self.capabilities is not None:
                        end = w.index * w.chunk_size + w.offset + w.length
                        caps = [((w.inode, WRITE), await self.capabilities.write(w.inode, end))]
                    address, version = self.routing.data_head(w.chain)
                    conn = await self._pool(address).get()
                    crc = w.crc
                    if w.data is None and not conn.uses_shm:  # a node off this host: send the data inline
                        data, shm_offset = bytes(self._region.view[w.shm_offset : w.shm_offset + w.length]), 0
                        crc = crc32c(data)
                    elif w.data is None:
                        data, shm_offset, crc = None, w.shm_offset, 0
                    else:
                        data, shm_offset = w.data, 0
                    item = WriteItem(w.chain, version, w.inode, w.index, w.offset, w.length, w.chunk_size, crc,
                                     shm_offset)
                    if caps:
                        conn.grant(caps)
                    status = (await self._reply(address, conn.send_write(item, data))).status
                    self._unreachable.pop(address, None)
                    if status == 0:
                        return
                    message = describe_failure(status, w.inode, w.index, address, write=True)
                    if status == Status.CAPABILITY_REFUSED and not refused and self.capabilities is not None:
                        refused = True  # lapsed on the node's clock: renewed, then presented again once
                        self.capabilities.lapse(w.inode, WRITE)
                        continue
                    if status not in RETRYABLE:
                        raise error_for(status, message)
                    error: FS3Error = error_for(status, message)
                except (Unavailable, StaleRouting) as exc:
                    error = exc
                    cut_off = self._cannot_reach(address) if address and isinstance(exc, Unavailable) else None
                    if cut_off is not None and cut_off >= self.unreachable_timeout:
                        raise Unavailable(
                            f"storage node {address}, the head of chain {w.chain}, could not be reached from this "
                            f"client for {cut_off:.0f} s while meta still counts on it (a one-way partition?); "
                            f"its chain did not fail over (meta does that once enough clients report the node). "
                            f"Last error: {exc}") from exc
                if backoff.expired:
                    raise wait.give_up(self.retry_timeout, f"writing chunk {w.inode}:{w.index}", error) from error
                wait.failed(error, self.retry_timeout)
                await backoff.asleep()
                await self._refresh()
        finally:
            wait.end()
            if w.data is None:
                self._region.free(w.shm_offset, w.length)

    async def write(self, inode: meta_pb2.Inode, offset: int, data: memoryview) -> None:
        """Write ``data`` at ``offset``: every chunk piece to its chain's head, all in parallel."""
        prepared = []
        for s in slices(offset, len(data), inode.layout.chunk_size):
            prepared.append(await self.prepare_write(
                inode, s.index, s.chunk_offset, data[s.buffer_offset : s.buffer_offset + s.length]
            ))
        outcomes = await asyncio.gather(*(self.send_write(w) for w in prepared), return_exceptions=True)
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise outcome


_WHAT: dict[int, str] = {
    Status.CHECKSUM_MISMATCH: "Input/output error: {chunk} failed its checksum on storage node {node}; "
                              "the damaged data was not returned",
    Status.DISK_ERROR: "Input/output error: storage node {node} could not read {chunk} from its disk",
    Status.STALE_CHAIN_VERSION: "stale routing for {chunk} at storage node {node}",
    Status.TARGET_NOT_SERVING: "storage node {node} does not serve {chunk} now",
    Status.TARGET_NOT_FOUND: "storage node {node} holds no target of the chain of {chunk}",
    Status.NO_SPACE: "No space left on device: storage node {node} cannot store {chunk}",
    Status.QUOTA_EXCEEDED: "Disk quota exceeded: storage node {node} refused a write to {chunk} past the "
                           "room the file's quota reserved",
    Status.INVALID_ARGUMENT: "Invalid argument: storage node {node} refused the request for {chunk}",
    Status.CAPABILITY_REFUSED: "Permission denied: storage node {node} holds no valid capability for {chunk} "
                               "(expired or revoked: the user was removed, or the file or its write "
                               "session is gone)",
}


def describe_failure(status: int, inode: int, index: int, node: str, *, write: bool = False) -> str:
    """One line for a failed chunk request, naming the chunk and the node."""
    chunk = f"chunk {inode}:{index}"
    template = _WHAT.get(status)
    if template is not None:
        return template.format(chunk=chunk, node=node)
    try:
        name = Status(status).name.lower().replace("_", " ")
    except ValueError:
        name = f"status {status}"
    return f"{'writing' if write else 'reading'} {chunk} on storage node {node} failed: {name}"
