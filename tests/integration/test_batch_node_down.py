"""A batch whose reads span every storage node while one node is down: what the others hold is read,
and the reads of the lost node fail with a clear error (replication factor 1: no other replica)."""

from __future__ import annotations

import os
import signal

import numpy as np
import pytest

import fs3
from fs3.local import LocalCluster, LocalClusterConfig

CHUNK = 64 << 10


def test_batch_with_a_node_down(tmp_path):
    cluster = LocalCluster.start(LocalClusterConfig(data_dir=tmp_path, chunk_size=CHUNK, stripe=3, replicas=1), timeout=90)
    try:
        with fs3.connect(cluster.meta[0], retry_timeout=3) as client:
            data = os.urandom(12 * CHUNK)
            client.write("/f", data)
            st = client.stat("/f")
            routing = client.routing_info()
            node_of_chain = {c.id: next(t.node_id for t in routing.targets if t.id == c.targets[0])
                             for c in routing.chains}
            victim = cluster.process("storage-2")
            victim_node = next(n.id for n in routing.nodes if n.address == victim.address)
            cluster.kill("storage-2", signal.SIGKILL)

            reqs = [(st, i * CHUNK + 7, 100) for i in range(12)]
            arr = np.zeros(1200, dtype=np.uint8)
            with pytest.raises(fs3.Unavailable) as info:
                client.read_batch(reqs, arr)
            assert "storage node" in str(info.value)
            for i in range(12):
                on_victim = node_of_chain[st.chains[i % st.stripe]] == victim_node
                got = arr[i * 100 : (i + 1) * 100].tobytes()
                if not on_victim:  # the healthy nodes' reads completed
                    assert got == data[i * CHUNK + 7 : i * CHUNK + 107]
            cluster.restart("storage-2")
            arr[:] = 0
            assert client.read_batch(reqs, arr) == [100] * 12
            assert arr.tobytes() == b"".join(data[i * CHUNK + 7 : i * CHUNK + 107] for i in range(12))
    finally:
        cluster.stop()
