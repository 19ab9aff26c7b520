"""fs3 meta: the namespace and the cluster manager, stateless over a transactional KV store."""

from __future__ import annotations

from ._chain_table import balance, plan_chains
from ._server import MetaConfig, MetaServer, serve

__all__ = ["MetaConfig", "MetaServer", "balance", "plan_chains", "serve"]
