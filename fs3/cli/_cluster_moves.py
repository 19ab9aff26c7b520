"""`fs3 cluster drain | grow | remove | moves`: move replicas between targets (meta/_chain_moves.py)."""

from __future__ import annotations

import sys
import time

import click

from fs3._errors import Unavailable
from fs3.proto import cluster_pb2

from ._cluster import cluster
from ._common import ID32, emit_json, state, table
from ._local import move_dict

_WAIT = click.option("--wait/--no-wait", default=True, show_default=True,
                     help="Wait until the moves are done (a new replica syncs every chunk of its chain first).")
_TIMEOUT = click.option("--timeout", type=click.FloatRange(1, 7 * 86400), default=3600.0, show_default=True,
                        help="Seconds to wait for the moves.")


def _say(text: str, as_json: bool) -> None:
    if not as_json:
        click.echo(text)


def _describe(moves, chains=()) -> list[str]:
    lines = [f"chain {m.chain_id}: replica on target {m.from_target} -> target {m.to_target}" for m in moves]
    lines += [f"new chain {c.id or '(after the moves)'}: targets {', '.join(map(str, c.targets))}" for c in chains]
    return lines


def _await_moves(client, chains: set[int], timeout: float, as_json: bool) -> None:
    """Wait until no move of ``chains`` is left, showing each syncing target's progress."""
    deadline = time.monotonic() + timeout
    show = sys.stderr.isatty() and not as_json
    last = ""
    while True:
        routing = client.routing_info()
        left = [m for m in routing.moves if m.chain_id in chains]
        if not left:
            if show:
                click.echo("\r" + " " * len(last) + "\r", nl=False, err=True)
            return
        if time.monotonic() > deadline:
            raise Unavailable(f"{len(left)} replica moves not done after {timeout:.0f} s (they go on; "
                              "`fs3 cluster moves` shows them)")
        if show:
            by_id = {t.id: t for t in routing.targets}
            parts = []
            for m in left:
                t = by_id.get(m.to_target)
                state_name = cluster_pb2.PublicState.Name(t.public_state).lower() if t else "?"
                parts.append(f"chain {m.chain_id} -> target {m.to_target}: {state_name}"
                             + (f" {t.sync_percent}%" if t and t.sync_percent else ""))
            text = f"moving {len(left)} replicas: " + "; ".join(parts)
            click.echo("\r" + text.ljust(len(last)), nl=False, err=True)
            last = text
        time.sleep(0.5)


@cluster.command()
@click.argument("node_id", type=ID32)
@click.option("--dry-run", is_flag=True, help="Say what would move; change nothing.")
@click.option("--keep", is_flag=True, help="Keep the node in the cluster once drained (do not remove it).")
@_WAIT
@_TIMEOUT
@click.option("--json", "as_json", is_flag=True)
def drain(node_id, dry_run, keep, wait, timeout, as_json):
    """Move every replica of storage node NODE_ID to free targets of other nodes, under load (each new
    replica syncs and serves before the old one leaves), then remove the node from the cluster; its
    storage service stops. Add a node first if no other node has a free target."""
    client = state().client()
    reply = client.drain_node(node_id, dry_run=dry_run)
    moves = list(reply.moves)
    out = {"node": node_id, "dry_run": dry_run, "moves": [move_dict(m) for m in moves], "removed": False}
    for line in _describe(moves):
        _say(("would move " if dry_run else "moving ") + line, as_json)
    if not dry_run and wait:
        _await_moves(client, {m.chain_id for m in moves}, timeout, as_json)
        if not keep:
            removed = client.remove_node(node_id)
            out["removed"] = True
            out["removed_targets"] = list(removed.target_ids)
    if as_json:
        emit_json(out)
    elif not dry_run:
        click.echo(f"node {node_id}: {len(moves)} replicas moved" if wait else
                   f"node {node_id} is draining: {len(moves)} replicas moving (`fs3 cluster moves`)")
        if out["removed"]:
            click.echo(f"node {node_id} removed from the cluster")


@cluster.command()
@click.option("--dry-run", is_flag=True, help="Say what would change; change nothing.")
@_WAIT
@_TIMEOUT
@click.option("--json", "as_json", is_flag=True)
def grow(dry_run, wait, timeout, as_json):
    """Give targets in no chain (a node added to a running cluster) chains: new chains where free targets
    span enough nodes, else as few replicas as it takes moved onto them from the busiest nodes."""
    out = grow_all(state().client(), dry_run=dry_run, wait=wait, timeout=timeout, as_json=as_json)
    if as_json:
        emit_json(out)
    elif not out["moves"] and not out["new_chains"]:
        click.echo("nothing to grow: no free target that a chain could take")
    else:
        click.echo(f"{len(out['new_chains'])} new chains, {len(out['moves'])} replicas moved"
                   + ("" if wait or dry_run else " (moving now: `fs3 cluster moves`)"))


def grow_all(client, *, dry_run: bool, wait: bool, timeout: float, as_json: bool) -> dict:
    """Grow, and with ``wait`` grow again after each round of moves (chains that need targets those
    moves free come then) until nothing moves."""
    out: dict = {"dry_run": dry_run, "moves": [], "new_chains": []}
    while True:
        reply = client.grow_chains(dry_run=dry_run)
        out["moves"] += [move_dict(m) for m in reply.moves]
        out["new_chains"] += [{"id": c.id, "targets": list(c.targets)} for c in reply.chains]
        for line in _describe(reply.moves, reply.chains):
            _say(("would: " if dry_run else "") + line, as_json)
        if dry_run or not wait or not reply.moves:
            return out
        _await_moves(client, {m.chain_id for m in reply.moves}, timeout, as_json)


def await_node(client, address: str, timeout: float) -> int:
    """The id of the storage node serving at ``address``, once it registered and beats."""
    deadline = time.monotonic() + timeout
    while True:
        for n in client.routing_info().nodes:
            if n.address == address and n.state == cluster_pb2.NODE_UP:
                return n.id
        if time.monotonic() > deadline:
            raise Unavailable(f"the storage node at {address} did not register in {timeout:.0f} s")
        time.sleep(0.2)


@cluster.command()
@click.argument("node_id", type=ID32)
@click.option("--json", "as_json", is_flag=True)
def remove(node_id, as_json):
    """Forget a drained storage node and its targets (refused while it holds a replica). Its storage
    service stops, and may not register again under this id."""
    reply = state().client().remove_node(node_id)
    if as_json:
        emit_json({"node": node_id, "targets": list(reply.target_ids)})
    else:
        click.echo(f"node {node_id} ({reply.node.address}) removed with targets "
                   f"{', '.join(map(str, reply.target_ids)) or '-'}")


@cluster.command()
@click.option("--json", "as_json", is_flag=True)
def moves(as_json):
    """Replica moves under way (drain, grow): the chain, the target leaving, the one syncing to replace it."""
    routing = state().client().routing_info()
    by_id = {t.id: t for t in routing.targets}
    rows = []
    for m in routing.moves:
        d = move_dict(m)
        t = by_id.get(m.to_target)
        d["to_state"] = cluster_pb2.PublicState.Name(t.public_state).lower() if t else "?"
        d["sync_percent"] = t.sync_percent if t else 0
        rows.append(d)
    if as_json:
        emit_json(rows)
    elif not rows:
        click.echo("no replica is moving")
    else:
        click.echo(table([[r["chain"], r["from_target"], r["to_target"], r["to_state"],
                           f"{r['sync_percent']}%" if r["sync_percent"] else "-", r["why"]] for r in rows],
                         ["CHAIN", "FROM", "TO", "STATE", "SYNC", "WHY"]))
