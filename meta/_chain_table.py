"""Chain planning: group free targets into replication chains. Pure functions over ids."""

from __future__ import annotations


def plan_chains(free: dict[int, list[int]], replicas: int) -> list[list[int]]:
    """Chains of ``replicas`` targets on ``replicas`` distinct nodes, from ``free`` (node id -> its
    targets not yet in a chain). Nodes with the most free targets go first and the head rotates over
    nodes, so consecutive chains (which is how a file's stripe takes them) land on different nodes.
    Targets that cannot be placed on enough distinct nodes stay free."""
    if replicas < 1:
        raise ValueError("replicas must be at least 1")
    left = {node: list(targets) for node, targets in sorted(free.items()) if targets}
    nodes = sorted(left)
    chains: list[list[int]] = []
    turn = 0
    while len(left) >= replicas:
        order = sorted(left, key=lambda n: (-len(left[n]), (nodes.index(n) - turn) % len(nodes)))
        chosen = order[:replicas]
        chains.append([left[n].pop(0) for n in chosen])
        for n in chosen:
            if not left[n]:
                del left[n]
        turn += 1
    return chains
