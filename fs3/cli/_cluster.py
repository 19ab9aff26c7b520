"""`fs3 cluster ...`: administer nodes, targets and chains."""

from __future__ import annotations

import time

import click

from fs3._errors import NotFound
from fs3.proto import cluster_pb2

from ._common import ID32, Number, emit_json, state, table
from ._local import routing_dict


@click.group()
def cluster():
    """Inspect and administer the cluster (nodes, targets, chains)."""


def _show(kind: str, headers: list[str], row, as_json: bool) -> None:
    routing = state().client().routing_info(history=kind == "targets")
    d = routing_dict(routing)
    if kind == "targets":
        for t, info in zip(d["targets"], routing.targets, strict=True):
            t["history"] = _history(info)
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
    """List targets with their public and local state, recovery progress, repairs and lost chunks (damaged
    on every replica: their reads fail with EIO; restore those files from elsewhere)."""
    _show("targets", ["TARGET", "NODE", "CHAIN", "PUBLIC", "LOCAL", "RECOVERY", "CORRUPT", "REPAIRED", "LOST", "PATH"],
          lambda t: [t["id"], t["node"], t["chain"] or "-",
                     "retired" if t["retired"] and not t["chain"] else
                     t["public_state"] + (" (admin)" if t["admin_offline"] else ""),
                     t["local_state"], f"{t['sync_percent']}%" if t["sync_percent"] else "-", t["corruptions"],
                     t["repairs"], t["lost_chunks"], t["path"]], as_json)


def _history(info: cluster_pb2.TargetInfo) -> list[dict]:
    """A target's recorded public-state changes, oldest first (local state None: it registered new)."""
    return [{"public_state": cluster_pb2.PublicState.Name(h.public_state).lower(),
             "local_state": _LOCAL_NAMES.get(h.local_state), "chain_version": h.chain_version,
             "time_ns": h.time_ns} for h in info.history]


_LOCAL_NAMES = {cluster_pb2.UPTODATE: "up-to-date", cluster_pb2.ONLINE: "online", cluster_pb2.LOCAL_OFFLINE: "offline"}


def _when(ns: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ns / 1e9)) + f".{ns // 1_000_000 % 1000:03d}"


@cluster.command()
@click.argument("target_ids", nargs=-1, type=ID32)
@click.option("--chain", "chain_id", type=ID32, help="Only the targets of this chain.")
@click.option("--json", "as_json", is_flag=True)
def history(target_ids, chain_id, as_json):
    """Show the targets' last public-state changes as one timeline: when, the state entered, the local
    state the manager judged by (offline: its node went silent, was restarted or taken offline) and the
    chain version it made."""
    routing = state().client().routing_info(history=True)
    unknown = sorted(set(target_ids) - {t.id for t in routing.targets})
    if unknown:
        raise NotFound(f"No such target: {', '.join(map(str, unknown))} (`fs3 cluster targets` lists them)")
    if chain_id is not None and chain_id not in {c.id for c in routing.chains}:
        raise NotFound(f"No such chain: {chain_id} (`fs3 cluster chains` lists them)")
    rows = [{"target": t.id, "chain": t.chain_id, **h} for t in routing.targets
            if (not target_ids or t.id in target_ids) and (chain_id is None or t.chain_id == chain_id)
            for h in _history(t)]
    rows.sort(key=lambda r: (r["time_ns"], r["target"]))
    if as_json:
        emit_json(rows)
        return
    click.echo(table([[_when(r["time_ns"]), r["target"], r["chain"] or "-", r["public_state"],
                       r["local_state"] or "(new)", r["chain_version"] or "-"] for r in rows],
                     ["TIME", "TARGET", "CHAIN", "PUBLIC", "LOCAL", "CHAIN VERSION"]))


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


def _set_offline(target_ids, offline: bool, as_json: bool) -> None:
    client = state().client()
    out = []
    for target_id in target_ids:
        info = client.set_target_offline(target_id, offline)
        out.append({"target": info.id, "admin_offline": info.admin_offline})
    if as_json:
        emit_json(out)
    else:
        for o in out:
            click.echo(f"target {o['target']}: " + ("taken offline (its chains go on without it)" if offline
                                                     else "back online (it rejoins, syncs, then serves)"))


@cluster.command()
@click.argument("target_ids", nargs=-1, type=ID32, required=True)
@click.option("--json", "as_json", is_flag=True)
def offline(target_ids, as_json):
    """Take targets out of service: their chains move them to the end and go on without them."""
    _set_offline(target_ids, True, as_json)


@cluster.command()
@click.argument("target_ids", nargs=-1, type=ID32, required=True)
@click.option("--json", "as_json", is_flag=True)
def online(target_ids, as_json):
    """Let targets taken offline back in: they wait, recover from their chain, then serve."""
    _set_offline(target_ids, False, as_json)


@cluster.command()
@click.option("--nodes", type=Number(int, 1, 10_000), required=True, help="Storage nodes.")
@click.option("--targets", "per_node", type=Number(int, 1, 1_000), required=True, help="Targets per node.")
@click.option("--replicas", type=Number(int, 1, 100), default=3, show_default=True)
@click.option("--json", "as_json", is_flag=True)
def plan(nodes, per_node, replicas, as_json):
    """Show how evenly a chain table for a cluster of this shape spreads load (no cluster needed)."""
    from fs3._errors import InvalidArgument
    from fs3.meta import balance, plan_chains

    if nodes < replicas or per_node < 1:
        raise InvalidArgument(f"Invalid argument: need at least {replicas} nodes and 1 target per node")
    free = {n: [n * 100_000 + i for i in range(per_node)] for n in range(nodes)}
    report = balance([[t // 100_000 for t in c] for c in plan_chains(free, replicas)])
    if as_json:
        emit_json(report)
        return
    click.echo(f"{report['chains']} chains of {replicas} over {nodes} nodes x {per_node} targets")
    click.echo(f"  chains per node   {report['chains_per_node'][0]}..{report['chains_per_node'][1]}")
    click.echo(f"  heads per node    {report['heads_per_node'][0]}..{report['heads_per_node'][1]}")
    click.echo(f"  chains per pair   {report['shared_per_pair'][0]}..{report['shared_per_pair'][1]}")
    click.echo(f"  failure spread    {report['failure_spread']} (1.0: a failed node's reads spread perfectly evenly)")


@cluster.command("create-chains")
@click.option("--replicas", default=1, show_default=True, type=Number(int, 1, 100), help="Targets per chain.")
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


def _scrub_dict(reply: cluster_pb2.ScrubReply) -> dict:
    return {"seconds": round(reply.seconds, 3), "chains": [
        {"chain": c.chain_id, "version": c.chain_version, "targets": list(c.targets), "chunks": c.chunks,
         "restored": c.restored, "removed": c.removed, "pending": c.pending, "undecided": c.undecided,
         "failed": c.failed, "skipped": c.skipped,
         "repairs": [{"inode": r.inode, "index": r.index, "action": r.action, "targets": list(r.targets),
                      "detail": r.detail} for r in c.repairs]}
        for c in reply.chains]}


@cluster.command()
@click.option("--chain", "chain_id", type=ID32, default=0, help="Only this chain (default: every chain).")
@click.option("--json", "as_json", is_flag=True)
def scrub(chain_id, as_json):
    """Scrub now: each chain's serving replicas compare their chunk lists, and a chunk that some lack or
    hold differently is restored from the authoritative copy, or removed from all when its file is gone.
    Says what it found and repaired; exits 1 when a chunk could not be repaired."""
    reply = state().client().scrub(chain_id)
    report = _scrub_dict(reply)
    failed = sum(c["failed"] for c in report["chains"])
    if as_json:
        emit_json(report)
    else:
        for c in report["chains"]:
            members = ",".join(map(str, c["targets"])) or "-"
            if c["skipped"]:
                click.echo(f"chain {c['chain']} v{c['version']} (targets {members}): not scrubbed: {c['skipped']}")
                if not c["chunks"]:
                    continue
            click.echo(f"chain {c['chain']} v{c['version']} (targets {members}): {c['chunks']} chunks compared, "
                       f"{c['restored']} restored, {c['removed']} removed"
                       + (f", {c['failed']} failed" if c["failed"] else "")
                       + (f", {c['pending']} with a write in flight" if c["pending"] else "")
                       + (f", {c['undecided']} left to the collector" if c["undecided"] else ""))
            for r in c["repairs"]:
                where = f" on targets {','.join(map(str, r['targets']))}" if r["targets"] else ""
                click.echo(f"  {r['action']} chunk {r['inode']}:{r['index']}{where}"
                           + (f" ({r['detail']})" if r["detail"] else ""))
        chains = report["chains"]
        click.echo(f"scrub: {len(chains)} chains, {sum(c['chunks'] for c in chains)} chunks compared, "
                   f"{sum(c['restored'] for c in chains)} restored, {sum(c['removed'] for c in chains)} removed, "
                   f"{failed} failed in {report['seconds']:.1f} s")
    if failed:
        raise click.exceptions.Exit(1)
