"""Replica moves: which replicas to move when a node is drained or new targets join, as pure functions
over ids (the cluster manager applies them, meta/_cluster.py and meta/_manager.py).

A move replaces one member of a chain by a free target: the new target joins at the chain's tail and
syncs like a returning member (3FS's recovery), and the old one leaves only once the new one serves, so
a chain never has fewer serving replicas than before. A chain moves one replica at a time.

Draining a node moves each of its replicas to a free target on a node its chain does not use yet. Growth
gives free targets chains while moving as little as it can: free targets that span ``replicas`` nodes
form new chains with no move at all; a clean target (one that never held data) that cannot, because its
node alone has free targets, takes a member's place in an existing chain, and the member it frees may
then form a new chain with other free targets. A new chain always has a clean member to serve at once;
retired members (which may hold a former chain's chunks) join it by syncing, which removes those chunks.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from fs3._errors import InvalidArgument

from ._chain_table import plan_chains


@dataclass(frozen=True)
class Move:
    chain: int
    from_target: int
    to_target: int


@dataclass
class Layout:
    """What the planners read: chains (id -> members, head first), each target's node, the targets in
    no chain, which of those never held data, nodes being drained, and chains already moving a replica."""
    chains: dict[int, list[int]]
    node_of: dict[int, int]
    free: list[int]
    clean: set[int]
    draining: set[int]
    moving: set[int]

    def load(self) -> Counter:
        """Chain memberships per node (every node with a target counts, even with none)."""
        n = Counter({node: 0 for node in self.node_of.values()})
        for members in self.chains.values():
            n.update(self.node_of[t] for t in members)
        return n


def plan_drain(layout: Layout, node: int) -> list[Move]:
    """A move for each replica on ``node``, to a free target on a node its chain does not use (clean
    targets first, then the least loaded nodes). Refused, with what is missing, when a replica has
    nowhere to go or its chain is already moving one."""
    load = layout.load()
    free = [t for t in layout.free if layout.node_of[t] != node and layout.node_of[t] not in layout.draining]
    moves, stuck = [], []
    for cid, members in sorted(layout.chains.items()):
        leaving = [t for t in members if layout.node_of[t] == node]
        if not leaving:
            continue
        if cid in layout.moving:
            raise InvalidArgument(f"chain {cid} is already moving a replica; drain node {node} once it is done "
                                  "(`fs3 cluster targets` shows the move)")
        for old in leaving:
            used = {layout.node_of[t] for t in members if t != old}
            options = [t for t in free if layout.node_of[t] not in used]
            if not options:
                stuck.append(f"chain {cid} (nodes {', '.join(map(str, sorted(used)))})")
                continue
            new = min(options, key=lambda t: (t not in layout.clean, load[layout.node_of[t]], t))
            free.remove(new)
            load[layout.node_of[new]] += 1
            moves.append(Move(cid, old, new))
    if stuck:
        raise InvalidArgument(
            f"cannot drain node {node}: no free target on another node for " + "; ".join(stuck)
            + ". Add a storage node (or targets) first: its targets take these replicas")
    return moves


def plan_growth(layout: Layout, replicas: int) -> tuple[list[list[int]], list[Move]]:
    """New chains and moves that put every clean free target to work, moving as few replicas as it takes.
    Returns (new chains as member lists, head first, clean members first; moves)."""
    load = layout.load()
    pool = [t for t in layout.free if layout.node_of[t] not in layout.draining]
    busy = set(layout.moving)
    members_of = {cid: list(m) for cid, m in layout.chains.items()}
    new_chains: list[list[int]] = []
    moves: list[Move] = []
    while any(t in layout.clean for t in pool):
        formed = _chains_with_a_clean_member(pool, layout, replicas)
        if formed:
            for chain in formed:
                new_chains.append(chain)
                for t in chain:
                    pool.remove(t)
                    load[layout.node_of[t]] += 1
            continue
        move = _best_move(pool, layout, members_of, busy, load)
        if move is None:
            break  # no chain can take this node's targets (every chain already uses it, or is moving)
        moves.append(move)
        busy.add(move.chain)
        pool.remove(move.to_target)
        pool.append(move.from_target)  # freed once the move is done: may form a new chain now
        members_of[move.chain] = [move.to_target if t == move.from_target else t for t in members_of[move.chain]]
        load[layout.node_of[move.to_target]] += 1
        load[layout.node_of[move.from_target]] -= 1
    return new_chains, moves


def _chains_with_a_clean_member(pool: list[int], layout: Layout, replicas: int) -> list[list[int]]:
    by_node: dict[int, list[int]] = {}
    for t in sorted(pool, key=lambda t: (t not in layout.clean, t)):  # clean ones placed first
        by_node.setdefault(layout.node_of[t], []).append(t)
    planned = plan_chains(by_node, replicas)
    keep = [c for c in planned if any(t in layout.clean for t in c)]
    return [sorted(c, key=lambda t: (t not in layout.clean, c.index(t))) for c in keep]


def _best_move(pool: list[int], layout: Layout, members_of: dict[int, list[int]], busy: set[int],
               load: Counter) -> Move | None:
    """A clean free target takes the place of a member on the busiest node, in a chain that does not use
    the target's node yet and moves nothing else now."""
    best = None
    for new in sorted(t for t in pool if t in layout.clean):
        home = layout.node_of[new]
        for cid, members in sorted(members_of.items()):
            if cid in busy or any(layout.node_of[t] == home for t in members):
                continue
            for old in members:
                node = layout.node_of[old]
                if node in layout.draining:
                    continue
                key = (-load[node], cid, old)
                if best is None or key < best[0]:
                    best = (key, Move(cid, old, new))
        if best is not None:
            return best[1]
    return None
