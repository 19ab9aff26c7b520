"""`fs3 demo --existing` makes chains on a cluster that has none (fs3/cli/_demo.py ``_ensure_chains``),
against a fake client: no waiting (each case is decided on its first look)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from fs3._errors import FS3Error
from fs3.cli._demo import _ensure_chains


class FakeClient:
    def __init__(self, nodes: int, chains: int = 0):
        self.nodes, self.chains, self.created = nodes, chains, []

    def routing_info(self):
        return SimpleNamespace(nodes=[object()] * self.nodes, chains=[object()] * self.chains)

    def create_chains(self, replicas: int) -> None:
        self.created.append(replicas)


def test_chains_are_made_once_enough_nodes_registered():
    client, said = FakeClient(nodes=3), []
    _ensure_chains(client, 3, said.append)
    assert client.created == [3] and said == ["created chains of 3 replicas on 3 storage nodes"]


def test_a_cluster_with_chains_is_left_alone():
    client = FakeClient(nodes=1, chains=4)
    _ensure_chains(client, 3, print)
    assert client.created == []


def test_too_few_nodes_in_time_is_a_clear_error():
    client = FakeClient(nodes=2)
    with pytest.raises(FS3Error, match="only 2 storage nodes registered after 0s; chains of 3 replicas need 3"):
        _ensure_chains(client, 3, print, timeout=0.0)
    assert client.created == []
