"""fs3 storage: chunk-storage services over local target directories."""

from __future__ import annotations

from ._chunk_store import ChunkStore
from ._server import StorageConfig, StorageNode, serve
from ._target import Target

__all__ = ["ChunkStore", "StorageConfig", "StorageNode", "Target", "serve"]
