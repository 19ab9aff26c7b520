"""Local clusters: every fs3 process on one machine, on 127.0.0.x addresses (what `fs3 up` runs)."""

from __future__ import annotations

from ._certs import ensure_ca, ensure_server_cert
from ._cluster import LocalCluster, LocalClusterConfig, ProcessRecord
from ._hosts import REGISTRY as HOSTS_REGISTRY
from ._hosts import Host, Hosts, need_tools, sweep_stale
from ._topology import Topology, load_topology

__all__ = ["HOSTS_REGISTRY", "Host", "Hosts", "LocalCluster", "LocalClusterConfig", "ProcessRecord", "Topology",
           "ensure_ca", "ensure_server_cert", "load_topology", "need_tools", "sweep_stale"]
