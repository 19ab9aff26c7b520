"""`fs3 cluster ...`: administer nodes, targets and chains."""

from __future__ import annotations

import click

from ._common import emit_json, state, table
from ._local import routing_dict


@click.group()
def cluster():
    """Inspect and administer the cluster (nodes, targets, chains)."""


def _show(kind: str, headers: list[str], row, as_json: bool) -> None:
    d = routing_dict(state().client().routing_info())
    if as_json:
        emit_json(d[kind])
    else:
        click.echo(table([row(x) for x in d[kind]], headers))


@cluster.command()
@click.option("--json", "as_json", is_flag=True)
def nodes(as_json):
    """List storage nodes."""
    _show("nodes", ["NODE", "ADDRESS", "STATE", "PID"], lambda n: [n["id"], n["address"], n["state"], n["pid"]], as_json)


@cluster.command()
@click.option("--json", "as_json", is_flag=True)
def targets(as_json):
    """List targets with their public and local state."""
    _show("targets", ["TARGET", "NODE", "CHAIN", "PUBLIC", "LOCAL", "PATH"],
          lambda t: [t["id"], t["node"], t["chain"] or "-", t["public_state"], t["local_state"], t["path"]], as_json)


@cluster.command()
@click.option("--json", "as_json", is_flag=True)
def chains(as_json):
    """List chains with their version and members (head first)."""
    _show("chains", ["CHAIN", "VERSION", "TARGETS"],
          lambda c: [c["id"], c["version"], ",".join(map(str, c["targets"]))], as_json)


@cluster.command("chain-table")
@click.option("--json", "as_json", is_flag=True)
def chain_table(as_json):
    """Show the chain table."""
    _show("chain_tables", ["TABLE", "VERSION", "REPLICAS", "CHAINS"],
          lambda t: [t["id"], t["version"], t["replicas"], ",".join(map(str, t["chains"]))], as_json)


@cluster.command("create-chains")
@click.option("--replicas", default=1, show_default=True, help="Targets per chain.")
@click.option("--json", "as_json", is_flag=True)
def create_chains(replicas, as_json):
    """Group targets that are in no chain yet into chains and add them to the chain table."""
    reply = state().client().create_chains(replicas)
    if as_json:
        emit_json({"table": {"id": reply.table.id, "version": reply.table.version},
                   "new_chains": [{"id": c.id, "targets": list(c.targets)} for c in reply.chains]})
    else:
        click.echo(f"created {len(reply.chains)} chains; chain table {reply.table.id} is at version "
                   f"{reply.table.version} with {len(reply.table.chains)} chains")
