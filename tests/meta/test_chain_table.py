"""Chain tables spread a failed node's load evenly (a balanced incomplete block design where one exists)
for a few cluster sizes."""

from __future__ import annotations

import pytest

from fs3.meta._chain_table import balance, plan_chains


def table(nodes: int, targets: int, replicas: int = 3):
    free = {n: [n * 1000 + i for i in range(targets)] for n in range(nodes)}
    chains = plan_chains(free, replicas)
    assert sorted(t for c in chains for t in c) == sorted(t for ts in free.values() for t in ts)
    as_nodes = [[t // 1000 for t in c] for c in chains]
    assert all(len(set(c)) == replicas for c in as_nodes)  # replicas on distinct nodes
    return balance(as_nodes)


@pytest.mark.parametrize("nodes, targets", [(3, 4), (6, 5), (7, 3), (12, 11)])
def test_every_pair_of_nodes_shares_as_many_chains(nodes, targets):
    # targets * (replicas - 1) / (nodes - 1) is a whole number: a perfect design exists.
    b = table(nodes, targets)
    lo, hi = b["shared_per_pair"]
    assert lo == hi == targets * 2 // (nodes - 1)
    assert b["failure_spread"] == 1.0
    assert b["heads_per_node"][1] - b["heads_per_node"][0] <= 1


@pytest.mark.parametrize("targets", [6, 12])
def test_180_nodes_spread_a_failure_over_distinct_nodes(targets):
    b = table(180, targets)
    assert b["shared_per_pair"] == [0, 1]  # no two nodes share two chains: a failure spreads over 2*T nodes
    assert b["failure_spread"] == 1.0
    assert b["chains_per_node"] == [targets, targets]
    assert b["heads_per_node"][1] - b["heads_per_node"][0] <= 2


def test_one_replica_and_leftovers():
    assert [len(c) for c in plan_chains({1: [10, 11], 2: [20]}, 1)] == [1, 1, 1]
    assert plan_chains({1: [10, 11]}, 2) == []  # one node cannot hold two replicas of a chain
