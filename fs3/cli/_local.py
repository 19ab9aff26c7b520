"""Local clusters: `fs3 up`, `fs3 down`, `fs3 status`."""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path

import click

from fs3._discovery import last_cluster_dir
from fs3._errors import Unavailable
from fs3._layout import DEFAULT_CHUNK_SIZE, DEFAULT_STRIPE
from fs3.proto import cluster_pb2

from ._common import COUNT, SECONDS, Number, Size, emit_json, format_time, human_size, state, table


def default_data_dir() -> Path:
    if os.environ.get("FS3_DATA_DIR"):
        return Path(os.environ["FS3_DATA_DIR"])
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return Path(base) / "fs3" / "local"


def _cluster_dir(data_dir: Path | None) -> Path:
    """The cluster a command names: --data-dir, else $FS3_DATA_DIR (where `fs3 up` put it), else the
    most recent `fs3 up`."""
    if data_dir is not None:
        return data_dir
    if os.environ.get("FS3_DATA_DIR"):
        return Path(os.environ["FS3_DATA_DIR"])
    last = last_cluster_dir()
    if last is None:
        raise Unavailable("no local cluster has been started here (run `fs3 up`)")
    return last


@click.command()
@click.option("--data-dir", type=click.Path(path_type=Path), help="Where the cluster keeps its state "
              "(default $FS3_DATA_DIR or ~/.local/share/fs3/local).")
@click.option("--nodes", default=3, show_default=True, type=Number(int, 1, 200),
              help="Storage nodes (each on its own 127.0.0.x).")
@click.option("--meta", "meta_servers", default=1, show_default=True, type=Number(int, 1, 16),
              help="Meta servers (stateless; clients fail over between them).")
@click.option("--kv", default="", metavar="URL",
              help="Metadata store: sqlite:///PATH (default, under the data dir) or "
                   "etcd://HOST:PORT[,HOST:PORT...][?credentials=FILE][&prefix=PREFIX] (see docs/security.md).")
@click.option("--etcd", "etcd_members", default=0, show_default=True, type=Number(int, 0, 7),
              help="Start a local etcd cluster of this many members (on 127.0.0.101...) as the metadata store, "
                   "with authentication on (passwords in DATA_DIR/etcd).")
@click.option("--targets", "targets_per_node", default=1, show_default=True, type=Number(int, 1, 64),
              help="Targets per storage node.")
@click.option("--replicas", type=Number(int, 1, 200),
              help="Replicas per chain (default: 3, or the number of nodes when fewer).")
@click.option("--chunk-size", default=DEFAULT_CHUNK_SIZE, show_default=True, type=Size(),
              help="Default chunk size (a power of two from 4K to 64M).")
@click.option("--stripe", default=DEFAULT_STRIPE, show_default=True, type=COUNT, help="Default stripe of new files.")
@click.option("--gc-delay", default=10.0, show_default=True, type=SECONDS, help="Seconds before removed data is reclaimed.")
@click.option("--topology", type=click.Path(path_type=Path, exists=True, dir_okay=False),
              help="Take etcd members, meta servers, storage nodes, targets and replicas from a docker-compose "
                   "file, and start that topology as local processes.")
@click.option("--tls", is_flag=True, help="TLS on every connection (gRPC, meta calls, data plane, HTTPS), with a CA "
              "and certificates made in DATA_DIR/tls; fs3 commands here find the CA by themselves.")
@click.option("--hosts", default=0, show_default=True, type=Number(int, 0, 64),
              help="Run the storage nodes on this many hosts: Linux network namespaces on a bridge, each with its "
                   "own address and /dev/shm, so data between hosts crosses TCP (root; see `fs3 host`).")
@click.option("--client-hosts", default=1, show_default=True, type=Number(int, 0, 16),
              help="With --hosts: this many more hosts for clients alone (`fs3 host exec`).")
@click.option("--nic", default="", metavar="RATE", help="With --hosts: shape each host's link both ways to RATE "
              "(tc token bucket, e.g. 1gbit, 200mbit).")
@click.option("-d", "--detach", is_flag=True, help="Start in the background and return.")
@click.option("--json", "as_json", is_flag=True, help="Print the started cluster as JSON.")
def up(data_dir, nodes, meta_servers, kv, etcd_members, targets_per_node, replicas, chunk_size, stripe, gc_delay,
       tls, topology, hosts, client_hosts, nic, detach, as_json):
    """Start a local cluster: meta and N storage processes on 127.0.0.x addresses. It makes an admin
    token for you in DATA_DIR/admin.token, which fs3 commands on this machine pick up."""
    from fs3.local import LocalCluster, LocalClusterConfig

    data_dir = data_dir or default_data_dir()
    if topology is not None:
        from fs3.local import load_topology

        topo = load_topology(topology)
        nodes, meta_servers, etcd_members = len(topo.storage), len(topo.meta), len(topo.etcd)
        targets_per_node, replicas = topo.targets_per_node, topo.replicas or replicas
        if not as_json:
            click.echo(f"fs3 up: topology of {topology}: {topo.describe()}", err=True)
    config = LocalClusterConfig(
        data_dir=data_dir, storage_nodes=nodes, meta_servers=meta_servers, kv=kv, etcd_members=etcd_members,
        targets_per_node=targets_per_node, replicas=replicas or 0,  # 0: the config's default
        chunk_size=chunk_size, stripe=stripe, gc_delay=gc_delay, tls=tls,
        hosts=hosts, client_hosts=client_hosts if hosts else 0, nic=nic,
    )
    quiet = as_json
    cluster = LocalCluster.start(config, progress=None if quiet else lambda m: click.echo(f"fs3 up: {m}", err=True))
    if as_json:
        emit_json({"data_dir": str(cluster.data_dir), "meta": cluster.meta, "http": cluster.http,
                   "tls_ca": cluster.tls_ca or None,
                   "processes": [{"role": p.role, "name": p.name, "pid": p.pid, "address": p.address,
                                  "host": p.host or None} for p in cluster.processes],
                   "hosts": cluster.hosts.to_dict() if cluster.hosts is not None else None})
    else:
        click.echo(f"fs3 cluster up: meta {', '.join(cluster.meta)}, {nodes} storage nodes, data in {cluster.data_dir}")
        if cluster.http:
            click.echo(f"dashboard: {cluster.http[0]}/  (JSON under /api, Prometheus at /metrics)")
        click.echo(f"admin token: {cluster.data_dir / 'admin.token'} (used by fs3 commands here; "
                   "add users with `fs3 user add`)", err=True)
        if cluster.tls_ca:
            click.echo(f"TLS on: CA {cluster.tls_ca} (fs3 commands here use it; elsewhere set FS3_TLS_CA)",
                       err=True)
    if detach:
        if not quiet:
            click.echo("stop it with: fs3 down", err=True)
        return
    click.echo("press Ctrl-C to stop", err=True)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    try:
        while not done.wait(1.0):
            for p in cluster.processes:
                if not p.alive() and not getattr(p, "_reported", False):
                    click.echo(f"fs3 up: {p.name} (pid {p.pid}) exited; see {p.log}", err=True)
                    p._reported = True  # type: ignore[attr-defined]
    except KeyboardInterrupt:
        pass
    cluster.stop()
    click.echo("fs3 cluster stopped", err=True)


@click.command()
@click.option("--data-dir", type=click.Path(path_type=Path), help="The cluster's data directory "
              "(default $FS3_DATA_DIR, else the most recent `fs3 up`).")
def down(data_dir):
    """Stop every process of a local cluster."""
    from fs3.local import LocalCluster

    cluster = LocalCluster.load(_cluster_dir(data_dir))
    stopped = cluster.stop()
    left = cluster.running()
    if left:
        raise Unavailable("could not stop: " + ", ".join(f"{p.name} (pid {p.pid})" for p in left))
    click.echo(f"stopped {len(stopped)} processes" + ("" if stopped else " (none was running)"))


_PUBLIC = {v: k.lower() for k, v in cluster_pb2.PublicState.items()}
_LOCAL = {cluster_pb2.UPTODATE: "up-to-date", cluster_pb2.ONLINE: "online", cluster_pb2.LOCAL_OFFLINE: "offline"}


def routing_dict(routing: cluster_pb2.RoutingInfo) -> dict:
    return {
        "routing_version": routing.version,
        "meta": list(routing.meta_addresses),
        "nodes": [{"id": n.id, "address": n.address, "state": "up" if n.state == cluster_pb2.NODE_UP else "down",
                   "hostname": n.hostname, "pid": n.pid, "last_heartbeat_ns": n.last_heartbeat_ns,
                   "draining": n.draining}
                  for n in routing.nodes],
        "targets": [{"id": t.id, "node": t.node_id, "path": t.path, "chain": t.chain_id,
                     "public_state": _PUBLIC.get(t.public_state, "?"), "local_state": _LOCAL.get(t.local_state, "?"),
                     "used_bytes": t.used_bytes, "chunks": t.chunk_count, "free_bytes": t.free_bytes,
                     "direct_io": t.direct_io, "admin_offline": t.admin_offline, "corruptions": t.corruptions,
                     "repairs": t.repairs, "lost_chunks": t.lost_chunks, "sync_percent": t.sync_percent,
                     "retired": t.retired}
                    for t in routing.targets],
        "chains": [{"id": c.id, "version": c.version, "targets": list(c.targets)} for c in routing.chains],
        "chain_tables": [{"id": t.id, "version": t.version, "replicas": t.replicas, "chains": list(t.chains)}
                         for t in routing.tables],
        "moves": [move_dict(m) for m in routing.moves],
    }


def move_dict(m: cluster_pb2.ReplicaMove) -> dict:
    return {"chain": m.chain_id, "from_target": m.from_target, "to_target": m.to_target,
            "started_ns": m.started_ns, "why": m.why}


def print_routing(routing: cluster_pb2.RoutingInfo) -> None:
    d = routing_dict(routing)
    click.echo(f"meta: {', '.join(d['meta'])}   routing version {d['routing_version']}\n")
    click.echo(table([[n["id"], n["address"], n["state"], n["pid"], format_time(n["last_heartbeat_ns"])]
                      for n in d["nodes"]], ["NODE", "ADDRESS", "STATE", "PID", "LAST HEARTBEAT"]))
    click.echo()
    click.echo(table([[t["id"], t["node"], t["chain"] or "-", t["public_state"], t["local_state"],
                       human_size(t["used_bytes"]), t["chunks"], human_size(t["free_bytes"]),
                       "o_direct" if t["direct_io"] else "buffered", t["path"]] for t in d["targets"]],
                     ["TARGET", "NODE", "CHAIN", "PUBLIC", "LOCAL", "USED", "CHUNKS", "FREE", "IO", "PATH"]))
    click.echo()
    for tb in d["chain_tables"]:
        click.echo(f"chain table {tb['id']} v{tb['version']}: {len(tb['chains'])} chains, replicas {tb['replicas']}")


def transport_dicts(statuses) -> list[dict]:
    return [{"data_address": s.address, "transport": s.transport, "channel": s.channel, "tls": s.tls,
             "lanes": s.lanes, "not_chosen": s.reasons} for s in statuses]


def _dashboards() -> list[str]:
    """The admin dashboards of a local cluster (recorded by `fs3 up`); none for a remote one."""
    from fs3._discovery import cluster_dir, read_cluster_file

    try:
        where = cluster_dir(state().cluster)
        return list(read_cluster_file(where).get("http", [])) if where else []
    except OSError:
        return []


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def status(as_json):
    """Show the cluster's nodes, targets and chains, how this host's namespace calls reach meta, and
    which data-plane transport it gets to each storage node (and why not the others)."""
    client = state().client()
    routing = client.routing_info()
    meta_calls = client.meta_call_status()
    transports = transport_dicts(client.data_plane_status())
    dashboards = _dashboards()
    if as_json:
        emit_json({**routing_dict(routing), "meta_calls": meta_calls, "data_plane": transports,
                   "dashboards": dashboards})
        return
    if dashboards:
        click.echo(f"dashboard: {dashboards[0]}/")
    print_routing(routing)
    click.echo()
    how = (f"framed, listener {meta_calls['listener']}" if meta_calls["namespace_calls"] == "framed"
           else f"gRPC ({meta_calls['why_not']})")
    click.echo(f"namespace calls to meta {meta_calls['meta']}: {how}")
    click.echo()
    click.echo(table([[t["data_address"], t["transport"] + (f" ({t['lanes']})" if t["lanes"] else ""),
                       t["channel"] + ("+tls" if t["tls"] else ""),
                       "; ".join(f"{k}: {v}" for k, v in t["not_chosen"].items())] for t in transports],
                     ["DATA PLANE", "TRANSPORT", "CHANNEL", "NOT CHOSEN"]))
