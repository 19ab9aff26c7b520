"""Replica moves in the KV store: start them (drain a node, grow the chain table), finish them (the
manager's scan, once a new member serves), and remove a drained node. What to move is planned by
meta/_chain_moves.py; this module applies it in one transaction each.

A move is recorded as MOVE<chain> and takes effect at once: the new target joins the chain at its tail as
waiting (the state table makes it syncing, its predecessor streams it every chunk, it serves), and the
chain's version bumps so writes reach it from then on. The manager's scan finishes the move when the new
target serves: the old one leaves the chain (a new version) and is retired.
"""

from __future__ import annotations

import logging

from fs3._errors import InvalidArgument, NotFound
from fs3.proto import cluster_pb2

from . import _keys as keys
from ._chain_moves import Layout, Move, plan_drain, plan_growth

log = logging.getLogger(__name__)


def _scan(txn, prefix: bytes, message):
    begin, end = keys.prefix_range(prefix)
    return [message.FromString(v) for _, v in txn.get_range(begin, end)]


def current_moves(txn) -> list[cluster_pb2.ReplicaMove]:
    return _scan(txn, keys.MOVE, cluster_pb2.ReplicaMove)


def _layout(txn) -> tuple[Layout, dict, dict, dict]:
    nodes = {n.id: n for n in _scan(txn, keys.NODE, cluster_pb2.NodeInfo)}
    targets = {t.id: t for t in _scan(txn, keys.TARGET, cluster_pb2.TargetInfo)}
    chains = {c.id: c for c in _scan(txn, keys.CHAIN, cluster_pb2.ChainInfo)}
    moving = {m.chain_id for m in current_moves(txn)}
    layout = Layout(
        chains={cid: list(c.targets) for cid, c in chains.items()},
        node_of={t.id: t.node_id for t in targets.values()},
        free=sorted(t.id for t in targets.values() if not t.chain_id and not t.admin_offline),
        clean={t.id for t in targets.values() if not t.retired},
        draining={n.id for n in nodes.values() if n.draining},
        moving=moving,
    )
    return layout, nodes, targets, chains


def _start(txn, move: Move, targets: dict, chains: dict, why: str, now_ns: int) -> cluster_pb2.ReplicaMove:
    from ._cluster import record_transition

    chain = chains[move.chain]
    new = targets[move.to_target]
    chain.version += 1
    chain.targets.append(new.id)
    new.chain_id = chain.id
    new.public_state = cluster_pb2.WAITING  # (a retired one's old chunks go as it syncs)
    new.retired = False
    record_transition(new, cluster_pb2.WAITING, new.local_state, chain.version, now_ns)
    txn.set(keys.chain(chain.id), chain.SerializeToString())
    txn.set(keys.target(new.id), new.SerializeToString())
    record = cluster_pb2.ReplicaMove(chain_id=chain.id, from_target=move.from_target, to_target=new.id,
                                     started_ns=now_ns, why=why)
    txn.set(keys.move(chain.id), record.SerializeToString())
    log.info("chain %d v%d: replica of target %d moves to target %d (%s)", chain.id, chain.version,
             move.from_target, new.id, why)
    return record


def drain(txn, node_id: int, dry_run: bool, now_ns: int, bump) -> cluster_pb2.ReplicaMovesReply:
    layout, nodes, targets, chains = _layout(txn)
    node = nodes.get(node_id)
    if node is None:
        raise NotFound(f"No such storage node: {node_id} (`fs3 cluster nodes` lists them)")
    moves = plan_drain(layout, node_id)
    reply = cluster_pb2.ReplicaMovesReply()
    why = f"drain node {node_id}"
    if dry_run:
        reply.moves.extend(cluster_pb2.ReplicaMove(chain_id=m.chain, from_target=m.from_target,
                                                   to_target=m.to_target, why=why) for m in moves)
        return reply
    node.draining = True
    txn.set(keys.node(node_id), node.SerializeToString())
    for m in moves:
        reply.moves.append(_start(txn, m, targets, chains, why, now_ns))
    bump(txn)
    return reply


def grow(txn, table_id: int, dry_run: bool, now_ns: int, bump, next_id) -> cluster_pb2.ReplicaMovesReply:
    raw = txn.get(keys.chain_table(table_id))
    if raw is None:
        raise NotFound(f"No chain table {table_id}: create the chains first (`fs3 cluster create-chains`)")
    table = cluster_pb2.ChainTable.FromString(raw)
    layout, _nodes, targets, chains = _layout(txn)
    planned, moves = plan_growth(layout, table.replicas)
    reply = cluster_pb2.ReplicaMovesReply()
    leaving = {m.from_target for m in moves}
    # A chain that needs a target still in another chain (freed when its move is done) waits for the
    # next growth: `fs3 cluster grow` runs again once the moves are done.
    ready = [c for c in planned if not leaving.intersection(c)]
    if dry_run:
        reply.moves.extend(cluster_pb2.ReplicaMove(chain_id=m.chain, from_target=m.from_target,
                                                   to_target=m.to_target, why="grow") for m in moves)
        reply.chains.extend(cluster_pb2.ChainInfo(targets=c) for c in planned)
        reply.table.CopyFrom(table)
        return reply
    from ._cluster import record_transition

    for members in ready:
        chain = cluster_pb2.ChainInfo(id=next_id(txn, "chain"), version=1, targets=members)
        txn.set(keys.chain(chain.id), chain.SerializeToString())
        for tid in members:
            t = targets[tid]
            t.chain_id = chain.id
            if t.retired:  # it may hold a former chain's chunks: it syncs from the clean head first
                t.public_state = cluster_pb2.WAITING
                t.retired = False
                record_transition(t, cluster_pb2.WAITING, t.local_state, chain.version, now_ns)
            else:
                t.public_state = cluster_pb2.SERVING
            txn.set(keys.target(tid), t.SerializeToString())
        table.chains.append(chain.id)
        reply.chains.append(chain)
        log.info("chain %d created from free targets %s", chain.id, members)
    for m in moves:
        reply.moves.append(_start(txn, m, targets, chains, "grow", now_ns))
    if ready:
        table.version += 1
        txn.set(keys.chain_table(table_id), table.SerializeToString())
    if ready or moves:
        bump(txn)
    reply.table.CopyFrom(table)
    return reply


def finish(txn, chains: dict, targets: dict, now_ns: int) -> int:
    """Finish the moves whose new target serves (the manager's scan, before it judges the chains):
    the old target leaves the chain and is retired. Moves of chains or targets gone are dropped.
    Returns how many chains changed."""
    from ._cluster import record_transition

    changed = 0
    for m in current_moves(txn):
        chain = chains.get(m.chain_id)
        new, old = targets.get(m.to_target), targets.get(m.from_target)
        if chain is None or new is None or new.id not in chain.targets:
            txn.clear(keys.move(m.chain_id))
            continue
        if old is None or old.id not in chain.targets:
            txn.clear(keys.move(m.chain_id))
            continue
        if new.public_state != cluster_pb2.SERVING:
            continue
        chain.version += 1
        chain.targets.remove(old.id)
        txn.set(keys.chain(chain.id), chain.SerializeToString())
        old.chain_id = 0
        old.retired = True
        old.public_state = cluster_pb2.OFFLINE
        record_transition(old, cluster_pb2.OFFLINE, old.local_state, chain.version, now_ns)
        txn.set(keys.target(old.id), old.SerializeToString())
        txn.clear(keys.move(m.chain_id))
        log.info("chain %d v%d: target %d serves; target %d left the chain (%s)", chain.id, chain.version,
                 new.id, old.id, m.why)
        changed += 1
    return changed


def remove_node(txn, node_id: int, now_ns: int, bump) -> cluster_pb2.RemoveNodeReply:
    raw = txn.get(keys.node(node_id))
    if raw is None:
        raise NotFound(f"No such storage node: {node_id}")
    node = cluster_pb2.NodeInfo.FromString(raw)
    mine = [t for t in _scan(txn, keys.TARGET, cluster_pb2.TargetInfo) if t.node_id == node_id]
    held = sorted(t.chain_id for t in mine if t.chain_id)
    if held:
        raise InvalidArgument(
            f"node {node_id} still holds replicas of chains {', '.join(map(str, held))}: drain it first "
            f"(`fs3 cluster drain {node_id}`) and wait until its moves are done")
    for t in mine:
        txn.clear(keys.target(t.id))
    txn.clear(keys.node(node_id))
    txn.clear(keys.heartbeat(node_id))
    txn.set(keys.removed_node(node_id), keys.u64(now_ns))
    bump(txn)
    log.info("node %d (%s) removed from the cluster with targets %s", node_id, node.address, [t.id for t in mine])
    return cluster_pb2.RemoveNodeReply(node=node, target_ids=[t.id for t in mine])
