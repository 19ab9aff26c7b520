"""node: the processes of a local cluster one by one (list, stop, start, restart), recorded where `fs3 up`
records them, so that `fs3 down` stops whatever these started."""

from __future__ import annotations

from pathlib import Path

import click

from fs3._errors import AlreadyExists, NotFound

from ._common import emit_json, table
from ._local import _cluster_dir

_DATA_DIR = click.option("--data-dir", type=click.Path(path_type=Path), help="The cluster's data directory "
                         "(default $FS3_DATA_DIR, else the most recent `fs3 up`).")


@click.group()
def node() -> None:
    """Stop, start and restart the processes of a local cluster (`fs3 up`): storage-N, meta-N, etcd-N."""


def _cluster(data_dir):
    from fs3.local import LocalCluster

    return LocalCluster.load(_cluster_dir(data_dir))


def _record(cluster, name: str):
    """The process ``name`` names: its name (storage-2) or, for a storage node, its number (2)."""
    wanted = f"storage-{name}" if name.isdigit() else name
    for p in cluster.processes:
        if p.name == wanted:
            return p
    names = ", ".join(p.name for p in cluster.processes)
    raise NotFound(f"No such process in the cluster at {cluster.data_dir}: {name!r} (it has {names})")


@node.command("list")
@_DATA_DIR
@click.option("--json", "as_json", is_flag=True)
def list_(data_dir, as_json):
    """The cluster's processes: name, role, state, pid, address."""
    cluster = _cluster(data_dir)
    rows = [{"name": p.name, "role": p.role, "state": "running" if p.alive() else "stopped",
             "pid": p.pid, "address": p.address, "log": p.log} for p in cluster.processes]
    if as_json:
        emit_json(rows)
        return
    click.echo(table([[r["name"], r["role"], r["state"], r["pid"] if r["state"] == "running" else "-",
                       r["address"]] for r in rows], ["NAME", "ROLE", "STATE", "PID", "ADDRESS"]))


@node.command()
@_DATA_DIR
@click.option("--timeout", type=click.FloatRange(0.1, 3600), default=15.0, show_default=True,
              help="Seconds to wait after SIGTERM before SIGKILL.")
@click.argument("name")
def stop(data_dir, timeout, name):
    """Stop one process (SIGTERM, then SIGKILL after --timeout). A storage node's targets go offline
    and its chains go on without it; `fs3 node start` brings it back, syncing."""
    cluster = _cluster(data_dir)
    p = _record(cluster, name)
    if not cluster.stop_one(p.name, timeout):
        click.echo(f"{p.name} was not running")
        return
    click.echo(f"stopped {p.name} (pid {p.pid})")


@node.command()
@_DATA_DIR
@click.option("--timeout", type=click.FloatRange(0.1, 3600), default=60.0, show_default=True,
              help="Seconds to wait for it to serve.")
@click.argument("name")
def start(data_dir, timeout, name):
    """Start a stopped process again with the arguments it was first started with."""
    cluster = _cluster(data_dir)
    p = _record(cluster, name)
    if p.alive():
        raise AlreadyExists(f"{p.name} is already running (pid {p.pid}); `fs3 node restart {p.name}` restarts it")
    cluster.restart(p.name, timeout)
    click.echo(f"started {p.name} (pid {p.pid}) at {p.address}")


@node.command()
@_DATA_DIR
@click.option("--timeout", type=click.FloatRange(0.1, 3600), default=60.0, show_default=True,
              help="Seconds to wait for it to stop, and then to serve.")
@click.argument("name")
def restart(data_dir, timeout, name):
    """Stop one process (if it runs) and start it again."""
    cluster = _cluster(data_dir)
    p = _record(cluster, name)
    cluster.stop_one(p.name, timeout)
    cluster.restart(p.name, timeout)
    click.echo(f"restarted {p.name} (pid {p.pid}) at {p.address}")



@node.command()
@_DATA_DIR
@click.option("--targets", type=click.IntRange(1, 64), default=1, show_default=True,
              help="Targets (directories) of the new node.")
@click.option("--grow/--no-grow", default=True, show_default=True,
              help="Give its targets chains at once (`fs3 cluster grow`), moving as few replicas as it takes.")
@click.option("--timeout", type=click.FloatRange(0.1, 7 * 86400), default=600.0, show_default=True,
              help="Seconds to wait for it to serve and for its new replicas to sync.")
def add(data_dir, targets, grow, timeout):
    """Add a storage node to a running local cluster (storage-N+1, on the next address) and, unless
    --no-grow, give its targets chains."""
    from fs3._auth import TOKEN_FILE, read_token_file
    from fs3.client import connect

    from ._cluster_moves import await_node, grow_all

    cluster = _cluster(data_dir)
    p = cluster.add_storage_node(targets, timeout)
    click.echo(f"started {p.name} (pid {p.pid}) at {p.address} with {targets} targets")
    with connect(cluster.meta[0], token=read_token_file(cluster.data_dir / TOKEN_FILE),
                 tls_ca=cluster.tls_ca or None) as client:
        node_id = await_node(client, p.address, timeout)
        if not grow:
            click.echo(f"node {node_id}: its targets are free until `fs3 cluster grow`")
            return
        out = grow_all(client, dry_run=False, wait=True, timeout=timeout, as_json=False)
    click.echo(f"node {node_id}: {len(out['new_chains'])} new chains, {len(out['moves'])} replicas moved")
