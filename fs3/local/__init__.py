"""Local clusters: every fs3 process on one machine, on 127.0.0.x addresses (what `fs3 up` runs)."""

from __future__ import annotations

from ._certs import ensure_ca, ensure_server_cert
from ._cluster import LocalCluster, LocalClusterConfig, ProcessRecord
from ._topology import Topology, load_topology

__all__ = ["LocalCluster", "LocalClusterConfig", "ProcessRecord", "Topology", "ensure_ca", "ensure_server_cert",
           "load_topology"]
