"""Assembles a storage node: its targets, the gRPC service, registration and heartbeats to the manager."""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import signal
import socket
import threading
import time
from concurrent import futures
from dataclasses import dataclass, field
from pathlib import Path

import grpc

try:
    import uvloop
except ImportError:  # pragma: no cover - uvloop is a dependency on Linux and macOS
    uvloop = None

from fs3._auth import bearer
from fs3._errors import FS3Error, InvalidArgument, Status, Unavailable
from fs3._periodic import PeriodicThread
from fs3._retry import Backoff
from fs3._rpc import CHANNEL_OPTIONS, SERVER_OPTIONS, call
from fs3._tls import ServerTLS, add_port, channel, server_context
from fs3.proto import cluster_pb2, cluster_pb2_grpc, storage_pb2_grpc

from . import _uring
from ._buffers import BufferPool
from ._data_context import DataPlaneContext
from ._data_server import DataServer
from ._recovery import Recovery
from ._replication import Peers, Replicator
from ._routing import SERVING, SYNCING, NodeRouting
from ._scrub import Scrubber
from ._service import StorageServicer
from ._target import Target

log = logging.getLogger(__name__)


@dataclass
class StorageConfig:
    meta: list[str]                      # meta server addresses (host:port)
    targets: list[Path]
    listen: str = "127.0.0.1:0"          # port 0: any free port
    direct_io: bool = True
    threads: int = 32
    heartbeat_interval: float = 1.0
    addr_file: Path | None = None        # where to write the bound address once serving
    advertise: str = ""                  # address others reach this node at (default: the bound one)
    data_port: int = 0                   # data-plane port on the listen host (0: any free port)
    io_threads: int = 16                 # disk requests in flight (large reads, writes)
    data_loops: int = 1                  # event loops serving data-plane connections. With io_uring one
                                         # loop keeps a frame's reads in flight at once; a second loop
                                         # only adds cross-thread hand-offs (writes run on the first) and
                                         # GIL contention: 4 KiB reads 0.53x vs 0.46x, RF 3 writes +5%
    data_socket: bool = True             # also serve clients on this host over an abstract Unix socket
    ucx: bool = True                     # also serve over UCX where the ucxx bindings are installed (fs3/_ucx.py)
    shm: bool = True                     # offer the shared-memory transport to clients on this host
    hostname: str = field(default_factory=socket.gethostname)
    token: str = ""                      # an admin user's token: registers and beats with meta
    tls: ServerTLS | None = None         # TLS on gRPC and the data plane, and to meta and peers (None: clear)


class StorageNode:
    def __init__(self, config: StorageConfig):
        if not config.targets:
            raise InvalidArgument("a storage node needs at least one --target directory")
        if not config.meta:
            raise InvalidArgument("a storage node needs the address of a meta server (--meta)")
        if not config.token:
            raise InvalidArgument("a storage node needs an admin token to join the cluster "
                                  "(--token-file, or FS3_TOKEN)")
        self._auth = bearer(config.token)
        self.config = config
        # (first: a key open to others, or files that do not fit, stop the node before anything opens)
        self.tls_context = server_context(config.tls) if config.tls is not None else None
        self.ca = config.tls.ca if config.tls is not None else None  # verifies meta and the peers
        self.node_id = 0
        self.address = ""
        self.targets: dict[int, Target] = {}
        self._opened: list[Target] = []
        self._stop = threading.Event()
        self._meta_index = 0
        self._channel: grpc.Channel | None = None
        self.routing = NodeRouting(self._fetch_routing)
        self._server: grpc.Server | None = None
        self._heartbeat: PeriodicThread | None = None
        self.secret = b""
        self.buffers = BufferPool()
        self.executor = futures.ThreadPoolExecutor(config.io_threads, thread_name_prefix="disk")
        self.data_address = ""
        self.data_socket = ""
        self.ucx_address = ""  # host:port of the UCX listener ("": none)
        self.lease = 4.0                 # replaced by the manager's figure at registration
        self._last_ok = time.monotonic()
        self.peers = Peers(lambda: self.secret, lambda: f"node-{self.node_id}", ca=self.ca)
        self.replicator = Replicator(self.routing, self.executor, self.peers)
        self.recovery = Recovery(self.routing, self.targets, self.replicator)
        self.routing.listeners.append(self.recovery.routing_changed)
        self.data_plane = DataPlaneContext(
            targets=self.targets, routing=self.routing, secret=lambda: self.secret,
            node_id=lambda: self.node_id, executor=self.executor, buffers=self.buffers,
            replicator=self.replicator, fenced=self.fenced, shm_enabled=config.shm,
        )
        self._data_server: DataServer | None = None

    # -- manager connection ------------------------------------------------------------------------

    def _cluster(self) -> cluster_pb2_grpc.ClusterStub:
        if self._channel is None:
            address = self.config.meta[self._meta_index % len(self.config.meta)]
            self._channel = channel(address, self.ca, CHANNEL_OPTIONS)
        return cluster_pb2_grpc.ClusterStub(self._channel)

    def _next_meta(self) -> None:
        if self._channel is not None:
            self._channel.close()
        self._channel = None
        self._meta_index += 1

    def _fetch_routing(self, known: int) -> cluster_pb2.RoutingInfo | None:
        try:
            reply = call(self._cluster().GetRoutingInfo, cluster_pb2.GetRoutingInfoRequest(known_version=known),
                         timeout=5, what="meta", metadata=self._auth)
        except FS3Error as exc:
            log.warning("cannot fetch routing info: %s", exc)
            self._next_meta()
            return None
        return None if reply.unchanged else reply.routing

    def _register(self) -> None:
        request = cluster_pb2.RegisterNodeRequest(
            node_id=next((t.node_id for t in self._opened if t.node_id), 0),
            address=self.address, hostname=self.config.hostname, pid=os.getpid(),
            data_address=self.data_address, data_socket=self.data_socket, ucx_address=self.ucx_address,
        )
        for t in self._opened:
            request.targets.add(id=t.target_id, path=str(t.path), direct_io=t.store.direct)
        backoff = Backoff(first=0.1, cap=2.0)  # no deadline: a node waits for meta as long as it runs
        while not self._stop.is_set():
            try:
                reply = call(self._cluster().RegisterNode, request, timeout=5, what="meta", metadata=self._auth)
                break
            except Unavailable as exc:
                log.info("meta not reachable yet (%s); retrying", exc)
                self._next_meta()
                self._stop.wait(backoff.next_delay())  # a stop ends the wait at once
        else:
            return
        self.node_id = reply.node_id
        self.secret = reply.cluster_secret
        self.lease = reply.lease_ms / 1000 or self.lease
        self._last_ok = time.monotonic()
        for t, target_id in zip(self._opened, reply.target_ids, strict=True):
            if (t.node_id, t.target_id) != (reply.node_id, target_id):
                t.save_identity(reply.node_id, target_id)
        self.targets.clear()  # the servicer holds this dict: fill it in place
        self.targets.update({t.target_id: t for t in self._opened})
        for t in self._opened:
            t.store.on_corrupt = lambda inode, index, tid=t.target_id: self.recovery.chunk_corrupt(tid, inode, index)
        self.routing.set_local_targets(self.targets)
        self.routing.refresh(force=True)
        log.info("registered as node %d with targets %s", self.node_id, sorted(self.targets))

    def fenced(self) -> bool:
        """True while this node has not reached the manager for longer than its lease: it may have been
        declared offline and replaced, so it serves nothing until it is back in touch."""
        return time.monotonic() - self._last_ok > self.lease

    def local_state(self, target_id: int) -> tuple[int, int]:
        """What this node says of a target, and the version of its chain it says it for: up to date while
        it serves in a chain (or once recovery completed it), online otherwise (a target in no chain
        holds nothing a chain can count on, whatever public state it was registered with)."""
        public = self.routing.public_state(target_id)
        for chain, tid in self.routing.local_chains():
            if tid != target_id:
                continue
            if public == SERVING or (public == SYNCING and self.recovery.synced.get(target_id) == chain.version):
                return cluster_pb2.UPTODATE, chain.version
            return cluster_pb2.ONLINE, chain.version
        return cluster_pb2.ONLINE, 0

    def _fill_stats(self, out: cluster_pb2.NodeStats) -> None:
        stats = self.data_plane.stats
        out.connections, out.refused, out.started_ns = stats.connections, stats.refused, stats.started_ns
        for op, c in sorted(stats.ops.snapshot().items()):
            out.ops.add(op=op, count=c.count, errors=c.errors, bytes=c.bytes, seconds=c.seconds,
                        frames=c.frames, buckets=c.cumulative())

    def _beat(self) -> None:
        """One heartbeat (every ``heartbeat_interval``, on the heartbeat thread)."""
        request = cluster_pb2.HeartbeatRequest(node_id=self.node_id)
        for target_id, t in self.targets.items():
            local, chain_version = self.local_state(target_id)
            request.targets.add(
                id=target_id, local_state=local, chain_version=chain_version, used_bytes=t.store.used_bytes,
                chunk_count=t.store.chunk_count, free_bytes=t.free_bytes(), corruptions=t.store.corruptions,
                repairs=self.recovery.repairs.get(target_id, 0),
                sync_percent=self.recovery.progress.get(target_id, 0),
                lost_chunks=len(self.recovery.lost.get(target_id, ())),
            )
        self._fill_stats(request.stats)
        sent = time.monotonic()
        try:
            reply = call(self._cluster().Heartbeat, request, timeout=min(5.0, self.lease), what="meta",
                         metadata=self._auth)
        except FS3Error as exc:
            try:
                if exc.status == Status.NODE_NOT_FOUND:  # the manager lost track of us: register again
                    self._register()
                    return
            except FS3Error as again:
                exc = again
            if exc.status == Status.NODE_REMOVED:  # drained and removed by an operator: nothing to serve
                log.error("%s; this storage node stops", exc)
                self._stop.set()
                return
            log.warning("heartbeat failed: %s", exc)
            self._next_meta()
            return
        if reply.routing_version != self.routing.version:
            self.routing.refresh(force=True)
        self._last_ok = sent  # the lease runs from when the heartbeat left, not when it came back

    # -- lifecycle ---------------------------------------------------------------------------------

    def start(self) -> None:
        for path in self.config.targets:
            target = Target.open(Path(path), direct=self.config.direct_io, buffers=self.buffers)
            if not target.store.direct:
                log.warning("target %s: the file system refused O_DIRECT; using buffered I/O", path)
            self._opened.append(target)
        host = self.config.listen.rsplit(":", 1)[0]
        server = grpc.server(futures.ThreadPoolExecutor(self.config.threads), options=SERVER_OPTIONS)
        port = add_port(server, self.config.listen, self.config.tls)
        if port == 0:
            raise InvalidArgument(f"cannot listen on {self.config.listen}")
        if self.config.advertise:
            self.address = self.config.advertise
        elif host in ("0.0.0.0", "[::]", ""):
            self.address = f"{self.config.hostname}:{port}"  # reachable by name, not by the wildcard
        else:
            self.address = f"{host}:{port}"
        loop = self._start_data_plane(host)
        self.recovery.attach(loop)
        scrubber = Scrubber(self.routing, self.replicator, self.recovery, self.data_plane.stats.ops)
        storage_pb2_grpc.add_StorageServicer_to_server(
            StorageServicer(self.targets, self.routing, self.replicator, self.recovery, loop, lambda: self.secret,
                            scrubber),
            server
        )
        server.start()
        self._server = server
        self._register()
        self._heartbeat = PeriodicThread("heartbeat", self.config.heartbeat_interval, self._beat, log=log,
                                         failure="heartbeat failed")
        self._heartbeat.start()
        if self.config.addr_file:
            tmp = Path(str(self.config.addr_file) + ".tmp")
            tmp.write_text(self.address)
            os.replace(tmp, self.config.addr_file)
        log.info("storage node %d serving on %s; disk reads: %s", self.node_id, self.address, _uring.engine())

    def _start_data_plane(self, host: str) -> asyncio.AbstractEventLoop:
        def new_loop():
            return uvloop.new_event_loop() if uvloop is not None else asyncio.new_event_loop()

        self._data_server = DataServer(self.data_plane, host if host not in ("", "[::]") else "0.0.0.0",
                                       self.config.data_port, loops=self.config.data_loops, tls=self.tls_context)
        port = self._data_server.start(new_loop)
        self.data_address = f"{self.address.rsplit(':', 1)[0]}:{port}"
        if self.config.data_socket:
            self.data_socket = self._data_server.listen_local(f"fs3-data-{self.data_address}")
        if self.config.ucx:
            ucx_port = self._data_server.listen_ucx(self.data_address.rsplit(":", 1)[0])
            if ucx_port:
                self.ucx_address = f"{self.data_address.rsplit(':', 1)[0]}:{ucx_port}"
                log.info("data plane: UCX listener on %s", self.ucx_address)
        self.data_plane.main_loop = self._data_server.main_loop
        return self._data_server.main_loop

    def stop(self, grace: float = 2.0) -> None:
        self._stop.set()
        if self._heartbeat is not None:  # before the channel and the targets it reads go
            self._heartbeat.stop()
        self.recovery.close()
        self.peers.close()
        if self._data_server is not None:
            self._data_server.stop()
        if self._server is not None:
            self._server.stop(grace).wait()
        self.executor.shutdown(wait=True)
        for t in self._opened:
            t.close()
        if self._channel is not None:
            self._channel.close()

    def wait(self) -> None:
        self._stop.wait()


def serve(config: StorageConfig) -> None:
    """Run a storage node until SIGTERM or SIGINT."""
    node = StorageNode(config)
    signal.signal(signal.SIGTERM, lambda *_: node._stop.set())
    signal.signal(signal.SIGINT, lambda *_: node._stop.set())
    node.start()
    # The hot path allocates many short-lived objects and no cycles: collect the young generation less
    # often, and keep everything made at start-up out of the collector's way.
    gc.freeze()
    gc.set_threshold(20_000, 20, 20)
    node.wait()
    node.stop()
