"""Assembles a meta server: the KV store, the namespace operations, the cluster manager, the garbage
collector and the gRPC services, with their configuration."""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from concurrent import futures
from dataclasses import dataclass, field
from pathlib import Path

import grpc

from fs3._auth import new_token, read_token_file, write_token_file
from fs3._capability import CapabilityKeys
from fs3._errors import InvalidArgument
from fs3._layout import DEFAULT_CHUNK_SIZE, DEFAULT_STRIPE
from fs3._metrics import OpCounters
from fs3._private import check_private
from fs3._rpc import SERVER_OPTIONS
from fs3._tls import ServerTLS, add_port, server_context
from fs3.proto import admin_pb2_grpc, cluster_pb2_grpc, meta_pb2_grpc

from . import ops
from ._call_server import CallServer
from ._change_feed import ChangeFeed, WatchedStore
from ._chunk_reclaimer import GrpcChunkReclaimer
from ._cluster import ClusterManager
from ._garbage import GarbageCollector
from ._inode_ids import InodeAllocator, ensure_root
from ._manager import ManagerLoop
from ._scrub import ChainScrubber
from ._service import AdminServicer, ClusterServicer, MetaServicer
from ._users import Users
from .kv import open_kv

log = logging.getLogger(__name__)


@dataclass
class MetaConfig:
    kv: str                                   # KV store URL, e.g. sqlite:///data/meta.db
    listen: str = "127.0.0.1:0"
    addr_file: Path | None = None             # where to write the bound address once serving
    threads: int = 32
    chunk_size: int = DEFAULT_CHUNK_SIZE      # root directory's layout (new files inherit it)
    stripe: int = DEFAULT_STRIPE
    gc_delay: float = 10.0                    # seconds a removed file's chunks wait before reclamation
    session_ttl: float = 60.0                 # an open file's session not renewed this long is pruned (its
                                              # client died); clients renew every 15 s
    scrub_interval: float = 3600.0            # seconds between chain scrubs (meta/_scrub.py); 0: none
    heartbeat_interval: float = 1.0
    unreachable_quorum: int = 2               # clients that must agree a live node is unreachable (meta/_unreachable.py)
    heartbeat_timeout: float = 6.0            # a node silent this long is offline (it fences itself sooner)
    manager_interval: float = 0.5             # seconds between the cluster manager's passes
    advertise: str = ""                       # address clients reach this server at (default: bound one)
    peers: list[str] = field(default_factory=list)  # every meta address clients may use
    admin_token_file: Path | None = None      # root's token: read if present, else created (0600)
    secret_file: Path | None = None           # the cluster secret, apart from the namespace (0600; made
                                              # if missing); None: kept in the KV store
    http: str = ""                            # HOST:PORT of the admin HTTP API and dashboard ("" : none)
    http_addr_file: Path | None = None        # where to write the dashboard's URL once serving
    calls: str = ""                           # HOST:PORT of the framed call listener ("": the gRPC host,
                                              # any free port; "off": none; see docs/meta-calls.md)
    tls: ServerTLS | None = None              # TLS on gRPC, the call listener and HTTP (None: in clear)


class MetaServer:
    def __init__(self, config: MetaConfig):
        self.config = config
        # (first: a key open to others, or files that do not fit, stop the server before anything opens)
        self.tls_context = server_context(config.tls) if config.tls is not None else None
        try:
            self.kv = open_kv(config.kv)
        except ValueError as exc:
            raise InvalidArgument(str(exc)) from None
        ns_config = ops.NamespaceConfig(chunk_size=config.chunk_size, stripe=config.stripe,
                                        session_ttl=config.session_ttl)
        ensure_root(self.kv, ns_config)
        self.users = Users(self.kv)
        self._bootstrap_admin()
        self.cluster = ClusterManager(
            self.kv, heartbeat_interval=config.heartbeat_interval,
            heartbeat_timeout=config.heartbeat_timeout, meta_addresses=config.peers,
            unreachable_quorum=config.unreachable_quorum,
            secret_file=config.secret_file,
        )
        if config.secret_file is not None:
            self.cluster.secret()  # a secret file others may read stops the server now, not at first use
        self.manager = ManagerLoop(self.cluster, interval=config.manager_interval)
        self.reclaimer = GrpcChunkReclaimer(self.cluster, ca=config.tls.ca if config.tls is not None else None)
        # What the namespace's transactions change goes to the feed that caching clients watch.
        self.changes = ChangeFeed()
        self.ctx = ops.OpContext(WatchedStore(self.kv, self.changes), InodeAllocator(self.kv), self.reclaimer, ns_config,
                                 targets=lambda: self.cluster.routing().routing.targets,  # for StatFs
                                 capabilities=CapabilityKeys(self.cluster.secret))
        self.gc = GarbageCollector(self.ctx, self.reclaimer, delay=config.gc_delay,
                                   active=lambda: self.manager.is_leader)
        self.scrubber = ChainScrubber(self.cluster, self.kv, interval=config.scrub_interval,
                                      active=lambda: self.manager.is_leader,
                                      ca=config.tls.ca if config.tls is not None else None)
        self.address = ""
        self.counters = OpCounters()  # per gRPC method: calls, errors, latency (for /metrics)
        self.http = None
        self.calls: CallServer | None = None
        self.call_address = ""
        self._server: grpc.Server | None = None
        self._stop = threading.Event()

    def _bootstrap_admin(self) -> None:
        """Give root the token in ``admin_token_file`` (made on first start), so the one who started
        the cluster can use it at once."""
        path = self.config.admin_token_file
        if path is None:
            return
        try:
            check_private(path)  # the admin token: root's; nobody else may read it
            token = read_token_file(path)
        except FileNotFoundError:
            token = new_token()
            write_token_file(path, token)
        except OSError as exc:
            raise InvalidArgument(f"cannot read the admin token file {path}: {exc}") from None
        if not token:
            raise InvalidArgument(f"the admin token file {path} is empty")
        self.users.bootstrap(token)

    def start(self) -> None:
        server = grpc.server(futures.ThreadPoolExecutor(self.config.threads), options=SERVER_OPTIONS,
                             interceptors=[_Timing(self.counters)])
        meta_servicer = MetaServicer(self.ctx, self.users, self.config.threads, changes=self.changes)
        cluster_servicer = ClusterServicer(self.cluster, self.users)
        cluster_servicer.scrubber = self.scrubber
        meta_pb2_grpc.add_MetaServicer_to_server(meta_servicer, server)
        cluster_pb2_grpc.add_ClusterServicer_to_server(cluster_servicer, server)
        admin_pb2_grpc.add_AdminServicer_to_server(AdminServicer(self.users), server)
        port = add_port(server, self.config.listen, self.config.tls)
        if port == 0:
            raise InvalidArgument(f"cannot listen on {self.config.listen}")
        self.address = self.config.advertise or f"{self.config.listen.rsplit(':', 1)[0]}:{port}"
        if self.config.calls != "off":
            self._start_calls()
            cluster_servicer.call_address = self.call_address
        self.manager.address = self.address
        self.cluster.announce(self.address)
        server.start()
        self._server = server
        self.gc.start()
        self.manager.start()
        self.scrubber.start()
        if self.config.http:
            from ._admin_http import AdminHttp

            self.http = AdminHttp(self.config.http, self.cluster.view, self.counters, self.address, users=self.users,
                                  tls=self.config.tls)
            self.http.start()
            log.info("admin API and dashboard on %s", self.http.url)
            if self.config.http_addr_file:
                _write_atomic(self.config.http_addr_file, self.http.url)
        if self.config.addr_file:
            _write_atomic(self.config.addr_file, self.address)
        log.info("meta serving on %s (kv %s)", self.address, self.config.kv)

    def _start_calls(self) -> None:
        """The framed call listener beside gRPC, advertised at the host clients reach gRPC at."""
        host, _, port = (self.config.calls or self.config.listen.rsplit(":", 1)[0] + ":0").rpartition(":")
        host = host.strip("[]")
        try:
            self.calls = CallServer(self.ctx, self.users, self.counters, host=host, port=int(port),
                                    threads=self.config.threads, tls=self.tls_context)
            bound = self.calls.start()
        except (OSError, ValueError) as exc:
            raise InvalidArgument(f"cannot listen for meta calls on {host}:{port}: {exc}") from None
        self.call_address = f"{self.address.rsplit(':', 1)[0]}:{bound}"

    def stop(self, grace: float = 2.0) -> None:
        self._stop.set()
        self.changes.close()  # (watchers waiting for a change answer now)
        # Every background loop is asked first, so that their last passes (a KV round trip each, maybe
        # retrying) run out together rather than one after another.
        for loop in (self.http.sampler if self.http is not None else None, self.manager, self.gc, self.scrubber):
            if loop is not None:
                loop.request_stop()
        if self.http is not None:
            self.http.stop()
        self.manager.stop()
        self.gc.stop()
        self.scrubber.stop()
        if self.calls is not None:
            self.calls.stop()
        if self._server is not None:
            self._server.stop(grace).wait()
        self.reclaimer.close()
        self.kv.close()

    def wait(self) -> None:
        self._stop.wait()


def _write_atomic(path: Path, text: str) -> None:
    tmp = Path(str(path) + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


class _Timing(grpc.ServerInterceptor):
    """Counts calls, failures and latency per gRPC method."""

    def __init__(self, counters: OpCounters):
        self.counters = counters

    def intercept_service(self, continuation, details):
        handler = continuation(details)
        if handler is None or handler.unary_unary is None:
            return handler
        method = details.method.rsplit("/", 1)[-1]
        inner, counters = handler.unary_unary, self.counters

        def timed(request, context):
            started = time.perf_counter()
            failed = True
            try:
                reply = inner(request, context)
                failed = False
                return reply
            finally:
                counters.observe(method, time.perf_counter() - started, error=failed)

        return grpc.unary_unary_rpc_method_handler(timed, request_deserializer=handler.request_deserializer,
                                                   response_serializer=handler.response_serializer)


def serve(config: MetaConfig) -> None:
    """Run a meta server until SIGTERM or SIGINT."""
    server = MetaServer(config)
    signal.signal(signal.SIGTERM, lambda *_: server._stop.set())
    signal.signal(signal.SIGINT, lambda *_: server._stop.set())
    server.start()
    server.wait()
    server.stop()
