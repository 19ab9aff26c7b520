"""Chain tables: group targets into replication chains so that load spreads evenly when a node fails.

When a node fails, each chain it was in loses one replica, and the reads it served move to the chain's
other members. The load spreads evenly over the surviving nodes when every pair of nodes shares the same
number of chains, which makes the table a balanced incomplete block design (as 3FS poses it). This
module builds one greedily: each new chain takes, among the nodes with the most targets left, those that
have shared the fewest chains with the ones already chosen, and heads rotate over nodes so writes spread
too. Pure functions over ids.
"""

from __future__ import annotations

import random
from collections import defaultdict
from itertools import combinations


def plan_chains(free: dict[int, list[int]], replicas: int, *, seed: int = 0, effort: int = 60) -> list[list[int]]:
    """Chains of ``replicas`` targets on ``replicas`` distinct nodes, from ``free`` (node id -> its
    targets not yet in a chain). Targets that cannot be placed on enough distinct nodes stay free.

    A greedy first placement is improved by local search (swapping nodes between chains while that
    evens out how many chains each pair of nodes shares), then heads are assigned so that every node
    heads about as many chains as any other. ``effort`` bounds the search: that many tries per chain."""
    if replicas < 1:
        raise ValueError("replicas must be at least 1")
    left = {node: list(targets) for node, targets in sorted(free.items()) if targets}
    pairs: dict[tuple[int, int], int] = defaultdict(int)
    layout: list[list[int]] = []  # chains as node ids
    counts = {n: len(t) for n, t in left.items()}
    while sum(1 for c in counts.values() if c) >= replicas:
        chosen = _choose(counts, pairs, replicas)
        for a, b in combinations(sorted(chosen), 2):
            pairs[(a, b)] += 1
        layout.append(chosen)
        for n in chosen:
            counts[n] -= 1
    if replicas > 1:
        _even_out(layout, pairs, random.Random(seed), min(300_000, max(20_000, effort * len(layout))))
    _assign_heads(layout)
    return [[left[n].pop(0) for n in chain] for chain in layout]


def _choose(counts: dict[int, int], pairs, replicas: int) -> list[int]:
    def shared(a: int, b: int) -> int:
        return pairs[(a, b) if a < b else (b, a)]

    available = [n for n, c in counts.items() if c]
    chosen = [max(available, key=lambda n: (counts[n], -n))]
    while len(chosen) < replicas:
        candidates = [n for n in available if n not in chosen]
        # The nodes with the most targets left must be placed first (or they end up unplaceable);
        # among those, the least shared with the chain so far.
        most = max(counts[n] for n in candidates)
        chosen.append(min(candidates, key=lambda n: (
            counts[n] < most - 1, max(shared(n, c) for c in chosen), sum(shared(n, c) for c in chosen), n,
        )))
    return chosen


def _even_out(layout: list[list[int]], pairs, rng: random.Random, tries: int) -> None:
    """Swap nodes between chains while the sum of squared pair counts does not grow (so the counts
    flatten); each node keeps its number of chains."""
    def key(a: int, b: int) -> tuple[int, int]:
        return (a, b) if a < b else (b, a)

    n = len(layout)
    if n < 2:
        return
    for _ in range(tries):
        i, j = rng.randrange(n), rng.randrange(n)
        if i == j:
            continue
        ci, cj = layout[i], layout[j]
        p, q = rng.randrange(len(ci)), rng.randrange(len(cj))
        a, b = ci[p], cj[q]
        if a == b or a in cj or b in ci:
            continue
        delta: dict[tuple[int, int], int] = defaultdict(int)
        for c in ci:
            if c != a:
                delta[key(a, c)] -= 1
                delta[key(b, c)] += 1
        for c in cj:
            if c != b:
                delta[key(b, c)] -= 1
                delta[key(a, c)] += 1
        change = sum((pairs[k] + d) ** 2 - pairs[k] ** 2 for k, d in delta.items() if d)
        if change <= 0:
            ci[p], cj[q] = b, a
            for k, d in delta.items():
                pairs[k] += d


def _assign_heads(layout: list[list[int]]) -> None:
    """Give each chain the head that evens out how many chains each node heads (writes spread too):
    a first pick of the least loaded member, then passes that hand a chain's head to a member heading
    at least two fewer chains."""
    heads: dict[int, int] = defaultdict(int)
    for chain in layout:
        head = min(chain, key=lambda n: (heads[n], n))
        chain.remove(head)
        chain.insert(0, head)
        heads[head] += 1
    for _ in range(10):
        moved = False
        for chain in layout:
            other = min(chain[1:], key=lambda n: (heads[n], n), default=None)
            if other is not None and heads[other] + 1 < heads[chain[0]]:
                heads[chain[0]] -= 1
                heads[other] += 1
                chain.remove(other)
                chain.insert(0, other)
                moved = True
        if not moved:
            break


def balance(chains: list[list[int]]) -> dict:
    """How evenly a table (chains given as node ids, head first) spreads load: chains per node, heads
    per node, chains shared per pair of nodes, and, for each node's failure, how unevenly its read load
    lands on the others (1.0 is perfectly even)."""
    nodes = sorted({n for c in chains for n in c})
    per_node = {n: 0 for n in nodes}
    heads = {n: 0 for n in nodes}
    shared: dict[tuple[int, int], int] = {pair: 0 for pair in combinations(nodes, 2)}
    for chain in chains:
        heads[chain[0]] += 1
        for n in chain:
            per_node[n] += 1
        for a, b in combinations(sorted(chain), 2):
            shared[(a, b)] += 1
    # When a node fails, the reads its replica served in each of its chains move to that chain's other
    # members. Ideally they spread evenly over as many nodes as possible: over all the others when every
    # pair shares chains, else over 2 distinct nodes per chain. The spread is the most any one node takes
    # over that ideal share (1.0: perfectly even).
    worst = 1.0
    for failed in nodes:
        extra = defaultdict(float)
        load = 0.0
        for chain in chains:
            if failed in chain and len(chain) > 1:
                load += 1
                for n in chain:
                    if n != failed:
                        extra[n] += 1 / (len(chain) - 1)
        if load:
            reach = min(len(nodes) - 1, sum(len(c) - 1 for c in chains if failed in c))
            worst = max(worst, max(extra.values()) / (load / reach))
    values = list(shared.values()) or [0]
    return {
        "nodes": len(nodes), "chains": len(chains),
        "chains_per_node": [min(per_node.values()), max(per_node.values())],
        "heads_per_node": [min(heads.values()), max(heads.values())],
        "shared_per_pair": [min(values), max(values)],
        "failure_spread": round(worst, 3),
    }
