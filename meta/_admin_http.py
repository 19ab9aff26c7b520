"""The admin HTTP API, Prometheus ``/metrics`` and the dashboard, served by a meta server (FastAPI on
uvicorn, in a thread beside gRPC). Read-only: cluster, nodes, targets, chains, recent throughput and
errors as JSON; everything comes from the KV store (routing, heartbeats with each storage node's
counters) and this server's own per-method counters, so every meta server shows the same cluster.

Everything but the dashboard page needs a bearer token of an admin or a monitoring user
(``_http_auth``; docs/security.md)."""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from importlib import resources

from fs3._metrics import LATENCY_BOUNDS, OpCounters
from fs3._periodic import PeriodicThread
from fs3._tls import ServerTLS
from fs3.proto import cluster_pb2

from ._http_auth import RequireToken
from ._users import Users

log = logging.getLogger("fs3.meta.http")

SAMPLE_INTERVAL = 2.0
HISTORY = 150  # samples kept: 5 minutes at one per 2 s

_PUBLIC = {v: k.lower() for k, v in cluster_pb2.PublicState.items()}
_LOCAL = {cluster_pb2.UPTODATE: "up-to-date", cluster_pb2.ONLINE: "online", cluster_pb2.LOCAL_OFFLINE: "offline"}


def _node_json(n, beat, now_ns) -> dict:
    return {"id": n.id, "address": n.address, "data_address": n.data_address, "hostname": n.hostname,
            "state": "up" if n.state == cluster_pb2.NODE_UP else "down",
            "last_heartbeat_s_ago": round((now_ns - n.last_heartbeat_ns) / 1e9, 1) if n.last_heartbeat_ns else None,
            "connections": beat.stats.connections if beat else 0}


def _target_json(t) -> dict:
    return {"id": t.id, "node": t.node_id, "chain": t.chain_id, "path": t.path,
            "public_state": _PUBLIC.get(t.public_state, str(t.public_state)),
            "local_state": _LOCAL.get(t.local_state, str(t.local_state)), "used_bytes": t.used_bytes,
            "free_bytes": t.free_bytes, "chunks": t.chunk_count, "direct_io": t.direct_io,
            "corruptions": t.corruptions, "repairs": t.repairs, "lost_chunks": t.lost_chunks,
            "sync_percent": t.sync_percent,
            "admin_offline": t.admin_offline, "history": [_transition_json(h) for h in t.history]}


def _transition_json(h) -> dict:
    """One recorded public-state change (local state null: the target registered new)."""
    return {"public_state": _PUBLIC.get(h.public_state, str(h.public_state)),
            "local_state": _LOCAL.get(h.local_state), "chain_version": h.chain_version, "time_ns": h.time_ns}


def cluster_json(routing, beats, meta_counters: OpCounters, address: str) -> dict:
    now = time.time_ns()
    targets = {t.id: t for t in routing.targets}
    chains = []
    for c in routing.chains:
        states = [_PUBLIC.get(targets[t].public_state, "?") if t in targets else "missing" for t in c.targets]
        serving = sum(s == "serving" for s in states)
        chains.append({"id": c.id, "version": c.version, "targets": list(c.targets), "states": states,
                       "serving": serving, "healthy": serving == len(c.targets)})
    nodes = [_node_json(n, beats.get(n.id), now) for n in routing.nodes]
    down = [n for n in nodes if n["state"] != "up"]
    unavailable = [c for c in chains if c["serving"] == 0]
    degraded = [c for c in chains if not c["healthy"]]
    health = "down" if unavailable or not nodes else ("degraded" if down or degraded else "ok")
    return {
        "health": health, "routing_version": routing.version, "served_by": address,
        "meta_servers": list(routing.meta_addresses),
        "summary": {"nodes": len(nodes), "nodes_up": len(nodes) - len(down), "targets": len(routing.targets),
                    "chains": len(chains), "chains_healthy": len(chains) - len(degraded),
                    "chains_unavailable": len(unavailable),
                    "used_bytes": sum(t.used_bytes for t in routing.targets),
                    "free_bytes": sum(t.free_bytes for t in routing.targets)},
        "nodes": nodes, "targets": [_target_json(t) for t in routing.targets], "chains": chains,
    }


class Sampler:
    """Rates over time from the storage nodes' cumulative counters (and this server's), for the
    dashboard's charts and /api/stats."""

    def __init__(self, view, meta_counters: OpCounters):
        self.view, self.meta_counters = view, meta_counters
        self.samples: deque = deque(maxlen=HISTORY)
        self._last: tuple[float, dict] | None = None
        # The KV may be briefly unavailable (an etcd member down): a failed sample is tried again later.
        self._thread = PeriodicThread("fs3-http-sampler", SAMPLE_INTERVAL, self.sample, log=log,
                                      failure="stats sample failed", immediate=True, failure_level=logging.DEBUG)

    def start(self) -> None:
        self._thread.start()

    def request_stop(self) -> None:
        self._thread.request_stop()

    def stop(self) -> None:
        self._thread.stop()

    def _totals(self) -> dict:
        _, beats = self.view()
        out: dict[str, float] = {"read_bytes": 0, "write_bytes": 0, "read_ops": 0, "write_ops": 0, "errors": 0,
                                 "read_seconds": 0.0, "read_frames": 0}
        for beat in beats.values():
            for op in beat.stats.ops:
                out["errors"] += op.errors
                if op.op == "read":
                    out["read_bytes"] += op.bytes
                    out["read_ops"] += op.count
                    out["read_seconds"] += op.seconds
                    out["read_frames"] += op.frames
                elif op.op == "write":
                    out["write_bytes"] += op.bytes
                    out["write_ops"] += op.count
        out["meta_requests"] = sum(c.frames for c in self.meta_counters.snapshot().values())
        out["meta_errors"] = sum(c.errors for c in self.meta_counters.snapshot().values())
        return out

    def sample(self) -> None:
        now = time.time()
        totals = self._totals()
        if self._last is not None:
            t0, prev = self._last
            dt = max(now - t0, 1e-3)
            rate = {k: max(0.0, (totals[k] - prev.get(k, 0)) / dt) for k in totals}
            frames = totals["read_frames"] - prev.get("read_frames", 0)
            secs = totals["read_seconds"] - prev.get("read_seconds", 0)
            self.samples.append({
                "t": round(now, 3), "read_MBps": rate["read_bytes"] / 1e6, "write_MBps": rate["write_bytes"] / 1e6,
                "read_iops": rate["read_ops"], "write_iops": rate["write_ops"], "errors_per_s": rate["errors"],
                "meta_rps": rate["meta_requests"], "meta_errors_per_s": rate["meta_errors"],
                "read_latency_ms": (secs / frames * 1e3) if frames > 0 else 0.0,
            })
        self._last = (now, totals)


class MetricsCollector:
    """Prometheus collector over the latest heartbeats and this server's counters."""

    def __init__(self, view, meta_counters: OpCounters, address: str):
        self.view, self.meta_counters, self.address = view, meta_counters, address

    def collect(self):
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

        routing, beats = self.view()
        bounds = [str(b) for b in LATENCY_BOUNDS]
        req = CounterMetricFamily("fs3_storage_requests", "Data-plane items served", labels=["node", "op"])
        err = CounterMetricFamily("fs3_storage_request_errors", "Data-plane items failed", labels=["node", "op"])
        byt = CounterMetricFamily("fs3_storage_bytes", "Data-plane bytes moved", labels=["node", "op"])
        lat = HistogramMetricFamily("fs3_storage_request_seconds", "Data-plane frame latency", labels=["node", "op"])
        conns = CounterMetricFamily("fs3_storage_connections", "Data-plane connections accepted", labels=["node"])
        for node_id, beat in sorted(beats.items()):
            node = str(node_id)
            conns.add_metric([node], beat.stats.connections)
            for op in beat.stats.ops:
                req.add_metric([node, op.op], op.count)
                err.add_metric([node, op.op], op.errors)
                byt.add_metric([node, op.op], op.bytes)
                buckets = list(zip(bounds, op.buckets, strict=False)) + [("+Inf", op.frames)]
                lat.add_metric([node, op.op], buckets, op.seconds)
        yield from (req, err, byt, lat, conns)

        up = GaugeMetricFamily("fs3_node_up", "Storage node heartbeating", labels=["node", "address"])
        for n in routing.nodes:
            up.add_metric([str(n.id), n.address], 1.0 if n.state == cluster_pb2.NODE_UP else 0.0)
        yield up
        state = GaugeMetricFamily("fs3_target_state", "1 for the target's current public state",
                                  labels=["target", "node", "chain", "state"])
        used = GaugeMetricFamily("fs3_target_used_bytes", "Bytes of chunk data", labels=["target", "node"])
        free = GaugeMetricFamily("fs3_target_free_bytes", "Free bytes on the target's disk", labels=["target", "node"])
        sync = GaugeMetricFamily("fs3_target_sync_percent", "Recovery progress of a syncing target",
                                 labels=["target", "node"])
        corrupt = CounterMetricFamily("fs3_target_corruptions", "Damaged chunks found", labels=["target", "node"])
        repairs = CounterMetricFamily("fs3_target_repairs", "Damaged chunks repaired", labels=["target", "node"])
        lost = GaugeMetricFamily("fs3_target_lost_chunks", "Chunks damaged on every replica (found by recovery)",
                                 labels=["target", "node"])
        for t in routing.targets:
            labels = [str(t.id), str(t.node_id)]
            for code, name in _PUBLIC.items():
                state.add_metric([str(t.id), str(t.node_id), str(t.chain_id), name],
                                 1.0 if code == t.public_state else 0.0)
            used.add_metric(labels, t.used_bytes)
            free.add_metric(labels, t.free_bytes)
            sync.add_metric(labels, t.sync_percent)
            corrupt.add_metric(labels, t.corruptions)
            repairs.add_metric(labels, t.repairs)
            lost.add_metric(labels, t.lost_chunks)
        yield from (state, used, free, sync, corrupt, repairs, lost)
        serving = GaugeMetricFamily("fs3_chain_serving_replicas", "Replicas of a chain serving", labels=["chain"])
        targets = {t.id: t for t in routing.targets}
        for c in routing.chains:
            serving.add_metric([str(c.id)], sum(1 for t in c.targets if t in targets
                                                and targets[t].public_state == cluster_pb2.SERVING))
        yield serving

        mreq = CounterMetricFamily("fs3_meta_requests", "gRPC calls served", labels=["server", "method"])
        merr = CounterMetricFamily("fs3_meta_request_errors", "gRPC calls failed", labels=["server", "method"])
        mlat = HistogramMetricFamily("fs3_meta_request_seconds", "gRPC call latency", labels=["server", "method"])
        for method, c in sorted(self.meta_counters.snapshot().items()):
            mreq.add_metric([self.address, method], c.frames)
            merr.add_metric([self.address, method], c.errors)
            mlat.add_metric([self.address, method], list(zip(bounds, c.cumulative(), strict=True)) +
                            [("+Inf", c.frames)], c.seconds)
        yield from (mreq, merr, mlat)


def make_app(view, meta_counters: OpCounters, address: str, sampler: Sampler, users: Users):
    from fastapi import FastAPI
    from fastapi.responses import HTMLResponse, PlainTextResponse
    from prometheus_client import CollectorRegistry
    from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

    app = FastAPI(title="fs3 admin", version="1", docs_url="/api/docs", openapi_url="/api/openapi.json")
    app.add_middleware(RequireToken, users=users)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(MetricsCollector(view, meta_counters, address))
    page = resources.files("fs3.meta").joinpath("dashboard.html").read_text()

    def cluster() -> dict:
        routing, beats = view()
        return cluster_json(routing, beats, meta_counters, address)

    @app.get("/", response_class=HTMLResponse)
    def dashboard():
        return page

    @app.get("/api/cluster")
    def api_cluster():
        return cluster()

    @app.get("/api/nodes")
    def api_nodes():
        return cluster()["nodes"]

    @app.get("/api/targets")
    def api_targets():
        return cluster()["targets"]

    @app.get("/api/chains")
    def api_chains():
        return cluster()["chains"]

    @app.get("/api/stats")
    def api_stats():
        samples = list(sampler.samples)
        meta = {m: {"requests": c.frames, "errors": c.errors,
                    "mean_ms": round(c.seconds / c.frames * 1e3, 3) if c.frames else 0.0}
                for m, c in sorted(meta_counters.snapshot().items())}
        return {"interval_s": SAMPLE_INTERVAL, "samples": samples, "meta_methods": meta}

    @app.get("/metrics")
    def metrics():
        return PlainTextResponse(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return app


class AdminHttp:
    """uvicorn serving the app in a background thread; ``users`` (the meta server's registry) checks the
    requests' tokens."""

    def __init__(self, listen: str, view, meta_counters: OpCounters, address: str, *, users: Users,
                 tls: ServerTLS | None = None):
        import uvicorn

        host, _, port = listen.rpartition(":")
        self.sampler = Sampler(view, meta_counters)
        app = make_app(view, meta_counters, address, self.sampler, users)
        self._sock = _bind(host or "127.0.0.1", int(port or 0))
        scheme = "https" if tls is not None else "http"
        self.url = f"{scheme}://{_url_host(host or '127.0.0.1', address)}:{self._sock.getsockname()[1]}"
        secure = {} if tls is None else {"ssl_certfile": str(tls.cert), "ssl_keyfile": str(tls.key)}
        self._server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off",
                                                     **secure))
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [self._sock]},
                                        name="fs3-http", daemon=True)

    def start(self) -> None:
        self.sampler.start()
        self._thread.start()

    def stop(self) -> None:
        self.sampler.stop()
        self._server.should_exit = True
        self._thread.join(timeout=5)


def _bind(host: str, port: int):
    import socket

    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.set_inheritable(True)
    return sock


def _url_host(host: str, grpc_address: str) -> str:
    if host in ("0.0.0.0", "::", ""):
        return grpc_address.rsplit(":", 1)[0]
    return host
