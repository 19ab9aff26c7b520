"""host: the hosts of a local cluster started with `fs3 up --hosts N` (network namespaces on a bridge):
list them, run a command on one, cut one off from others and heal it (fs3/local/_hosts.py)."""

from __future__ import annotations

import os
import sys

import click

from fs3._errors import InvalidArgument

from ._common import emit_json, table
from ._node import _DATA_DIR, _cluster


@click.group()
def host() -> None:
    """The hosts of a local cluster made with `fs3 up --hosts N`: list, exec, cut, heal."""


def _hosts(data_dir):
    cluster = _cluster(data_dir)
    if cluster.hosts is None:
        raise InvalidArgument(f"Invalid argument: the cluster at {cluster.data_dir} runs on this machine's own "
                              "network (start one with `fs3 up --hosts N`)")
    return cluster, cluster.hosts


@host.command("list")
@_DATA_DIR
@click.option("--json", "as_json", is_flag=True)
def list_(data_dir, as_json):
    """Each host: name, role, address, namespace, and the processes on it."""
    cluster, hosts = _hosts(data_dir)
    rows = [{"name": h.name, "role": h.role, "address": h.address, "netns": h.netns,
             "processes": [p.name for p in cluster.processes if p.host == h.name]} for h in hosts.hosts]
    if as_json:
        emit_json({"bridge": hosts.bridge, "gateway": hosts.gateway, "nic": hosts.nic or None, "hosts": rows})
        return
    click.echo(f"bridge {hosts.bridge} {hosts.subnet}, meta on {hosts.gateway}"
               + (f", links shaped to {hosts.nic}" if hosts.nic else ""))
    click.echo(table([[r["name"], r["role"], r["address"], r["netns"], ", ".join(r["processes"]) or "-"]
                      for r in rows], ["HOST", "ROLE", "ADDRESS", "NETNS", "PROCESSES"]))


@host.command("exec", context_settings={"ignore_unknown_options": True})
@_DATA_DIR
@click.argument("name")
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
def exec_(data_dir, name, command):
    """Run COMMAND on host NAME (its network and /dev/shm), as a client there: `fs3 host exec h4 -- fs3 ls /`.
    fs3 commands and clients in it find the cluster through FS3_CLUSTER."""
    cluster, hosts = _hosts(data_dir)
    env = dict(os.environ, FS3_CLUSTER=str(cluster.data_dir))
    argv = [sys.executable, "-m", "fs3", *command[1:]] if command[0] == "fs3" else list(command)
    argv = hosts.command(name, argv)
    sys.stdout.flush()
    os.execvpe(argv[0], argv, env)  # (this process becomes it: its signals and exit status are the command's)


@host.command()
@_DATA_DIR
@click.argument("name")
@click.option("--from", "source", metavar="HOST", help="Cut off only this host (default: every other host and meta).")
@click.option("--one-way", is_flag=True, help="Only what comes in to NAME is dropped (its replies still leave).")
def cut(data_dir, name, source, one_way):
    """Partition host NAME with its own firewall (iptables in its namespace); `fs3 host heal` undoes it."""
    _cluster_, hosts = _hosts(data_dir)
    hosts.cut(name, source, inbound_only=one_way)
    click.echo(f"{name}: cut off from {source or 'every other host and meta'}" + (" (one way)" if one_way else ""))


@host.command()
@_DATA_DIR
@click.argument("name")
def heal(data_dir, name):
    """Remove the firewall rules `fs3 host cut` put on host NAME."""
    _cluster_, hosts = _hosts(data_dir)
    hosts.heal(name)
    click.echo(f"{name}: healed")
