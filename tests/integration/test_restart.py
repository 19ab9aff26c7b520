"""Acknowledged data survives restarts: of the whole cluster, of one storage node under a client, and of
the meta server under the storage nodes."""

from __future__ import annotations

import os
import signal
import time

import pytest
from _timing import wait_for

import fs3
from fs3.local import LocalCluster, LocalClusterConfig
from fs3.proto import cluster_pb2

KiB = 1 << 10


def start(data_dir):
    return LocalCluster.start(LocalClusterConfig(data_dir=data_dir, chunk_size=64 * KiB, stripe=3, replicas=1), timeout=90)


def test_data_survives_a_full_cluster_restart(tmp_path):
    cluster = start(tmp_path)
    files = {f"/r/f{i}": os.urandom(i * 40 * KiB) for i in range(8)}
    try:
        with fs3.connect(cluster.meta[0]) as client:
            client.mkdir("/r")
            for path, data in files.items():
                client.write(path, data)
            chains_before = [(c.id, list(c.targets)) for c in client.routing_info().chains]
    finally:
        cluster.stop()
    address = cluster.meta[0]
    cluster = start(tmp_path)
    assert cluster.meta[0] == address  # restarts keep the cluster's addresses
    try:
        with fs3.connect(cluster.meta[0]) as client:
            for path, data in files.items():
                assert client.read(path) == data
            assert [(c.id, list(c.targets)) for c in client.routing_info().chains] == chains_before
    finally:
        cluster.stop()


def test_client_rides_over_a_storage_node_restart(tmp_path):
    cluster = start(tmp_path)
    try:
        with fs3.connect(cluster.meta[0], retry_timeout=3) as client:
            data = os.urandom(600 * KiB)  # ten chunks over all three nodes
            client.write("/f", data)
            cluster.kill("storage-2", signal.SIGKILL)
            with pytest.raises(fs3.Unavailable):
                client.read("/f")  # RF 1: the node's chunks have no other copy while it is down
            cluster.restart("storage-2")
            assert client.read("/f") == data  # the client refreshed its routing and retried
            client.write("/g", data)
            assert client.read("/g") == data
    finally:
        cluster.stop()


def test_storage_nodes_follow_a_meta_restart(tmp_path):
    cluster = start(tmp_path)
    try:
        with fs3.connect(cluster.meta[0]) as client:
            client.write("/before", b"x" * 200_000)
        cluster.kill("meta-1", signal.SIGKILL)
        restarted_ns = time.time_ns()  # the meta server's clock: same machine
        cluster.restart("meta-1")
        with fs3.connect(cluster.meta[0]) as client:
            assert client.read("/before") == b"x" * 200_000
            client.write("/after", b"y" * 200_000)
            assert client.read("/after") == b"y" * 200_000
            # Heartbeats from before the kill are still in the KV store: wait until every node has
            # reached the new meta server (each one's last heartbeat came after the restart).
            wait_for(lambda: sum(n.last_heartbeat_ns > restarted_ns for n in client.routing_info().nodes) == 3,
                     what="every storage node to beat to the new meta server")
            nodes = client.routing_info().nodes
            assert [n.state for n in nodes] == [cluster_pb2.NODE_UP] * 3
            assert all(n.last_heartbeat_ns > restarted_ns for n in nodes)
    finally:
        cluster.stop()
