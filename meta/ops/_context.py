"""What an operation runs with: the KV store, inode ids, chunk reclamation on storage, the cluster's
targets, the namespace's settings and a clock (``OpContext``); one is made per meta server."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from fs3._capability import CapabilityKeys
from fs3._layout import DEFAULT_CHUNK_SIZE, DEFAULT_STRIPE
from fs3.proto import cluster_pb2, meta_pb2

from ..kv import KVStore


@dataclass
class NamespaceConfig:
    """The namespace's settings: the root's layout, page sizes and how long things are kept."""

    chunk_size: int = DEFAULT_CHUNK_SIZE  # default layout of the root directory
    stripe: int = DEFAULT_STRIPE
    readdir_page: int = 1000              # entries per ReadDir page when the caller names no limit
    session_ttl: float = 60.0             # a write session not renewed for this long is pruned
    trash_expiry: float = 7 * 86400.0     # seconds an entry stays in /.trash before it is removed
    request_ttl: float = 600.0            # how long a mutation's reply is kept for retries


class ChunkReclaimer:
    """Removes or shortens a file's chunks on storage (implemented by the server over gRPC)."""

    def remove_chunks(self, inode: meta_pb2.Inode, from_index: int) -> None:
        raise NotImplementedError

    def truncate_chunk(self, inode: meta_pb2.Inode, index: int, length: int) -> None:
        raise NotImplementedError


def no_targets() -> Iterable[cluster_pb2.TargetInfo]:
    """A namespace without a cluster (tests): no storage targets to report."""
    return ()


@dataclass
class OpContext:
    """What an operation needs: the store, inode ids, chunk reclamation, the storage targets' last
    reports (for StatFs; the cluster manager's routing info on a server), a clock and the keys that
    sign data-plane capabilities."""

    kv: KVStore
    alloc_inode: Callable[[], int]
    chunks: ChunkReclaimer
    config: NamespaceConfig = field(default_factory=NamespaceConfig)
    clock: Callable[[], int] = time.time_ns
    targets: Callable[[], Iterable[cluster_pb2.TargetInfo]] = no_targets
    capabilities: CapabilityKeys | None = None  # signs data-plane capabilities (None: issues none)
