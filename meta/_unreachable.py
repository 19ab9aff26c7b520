"""Storage nodes that clients cannot reach though meta hears from them (one-way partitions).

A node whose heartbeats reach meta is alive to the manager, yet clients may be cut off from it: its
chains would wait on it forever. Clients report such a node (ReportUnreachable, rate-limited by each
client while it keeps failing); the reports live in the KV store (UNRP<node><reporter>: the last
report's time), so whichever meta server holds the manager lease sees them all. A node is **suspected**
while at least ``quorum`` distinct reporters (user and client id) reported it within ``window``
seconds; the manager then treats its targets as offline, as it treats a node whose heartbeats stopped,
so their chains move on without them. It never takes the last serving replica of a chain: a chain that
would be left with none keeps its target (its clients fail with a clear error instead, after their
own bound). When the reports stop (the partition healed, or nobody needs the node now), the node is
let back in after ``window`` and recovery brings its targets up to date, as after a restart.

One client alone cannot take nodes out of service unless the cluster allows it (``quorum`` 1): the
default asks two clients to agree, so that one cut-off client (or one that lies) makes only its own
writes fail over or fail.
"""

from __future__ import annotations

from fs3._errors import NotFound
from fs3.proto import cluster_pb2

from . import _keys as keys
from .kv import KVStore, Transaction

QUORUM = 2        # distinct reporters that must agree
WINDOW = 30.0     # seconds a report counts


def report(kv: KVStore, address: str, reporter: str, now_ns: int, quorum: int = QUORUM,
           window: float = WINDOW) -> bool:
    """Record that ``reporter`` cannot reach the node whose data plane is at ``address``; whether the
    node is suspected now."""

    def run(txn: Transaction) -> bool:
        for _, raw in txn.get_range(*keys.prefix_range(keys.NODE)):
            node = cluster_pb2.NodeInfo.FromString(raw)
            if node.data_address == address or node.address == address:
                txn.set(keys.unreachable(node.id, reporter), keys.u64(now_ns))
                return node.id in suspected(txn, now_ns, quorum, window, prune=False)
        raise NotFound(f"No storage node at {address}")

    return kv.transact(run)


def suspected(txn: Transaction, now_ns: int, quorum: int = QUORUM, window: float = WINDOW, *,
              prune: bool = True) -> set[int]:
    """The nodes enough reporters agree on now; reports older than ``window`` are removed (``prune``)."""
    counts: dict[int, int] = {}
    horizon = now_ns - int(window * 1e9)
    for key, raw in txn.get_range(*keys.prefix_range(keys.UNREACHABLE)):
        if keys.read_u64(raw) < horizon:
            if prune:
                txn.clear(key)
            continue
        node = keys.unreachable_node(key)
        counts[node] = counts.get(node, 0) + 1
    return {node for node, n in counts.items() if n >= max(1, quorum)}
