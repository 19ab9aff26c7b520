"""What a storage node's data plane works with: the node's parts it reaches (targets, routing, buffers,
replicator), its statistics, and a request as received from a connection."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from fs3 import _wire
from fs3._capability import CapabilityKeys
from fs3._errors import FS3Error, Status
from fs3._metrics import OpCounters

from ._buffers import BufferPool
from ._replication import Replicator
from ._routing import READ, NodeRouting
from ._target import Target


@dataclass
class DataPlaneStats:
    """Counters of the node's data plane, shown by ``fs3 status`` and the metrics."""

    connections: int = 0
    refused: int = 0
    reads: int = 0
    read_bytes: int = 0
    writes: int = 0
    write_bytes: int = 0
    accept_errors: int = 0    # failed accepts (EMFILE...: each retry of the listener counts)
    write_pauses: int = 0     # times a connection stopped reading because its peer was not reading replies
    tls_failures: int = 0     # TLS handshakes that failed or ran out of time (with TLS on)
    errors: dict[str, int] = field(default_factory=dict)
    ops: OpCounters = field(default_factory=OpCounters)  # per frame type: latency, items, bytes, errors
    started_ns: int = field(default_factory=time.time_ns)

    def count_error(self, status: int, op: str = "") -> None:
        name = Status(status).name if status in Status._value2member_map_ else str(status)
        self.errors[name] = self.errors.get(name, 0) + 1
        if op:
            self.ops.get(op).errors += 1


@dataclass
class DataPlaneContext:
    """What the data plane needs from the node."""

    targets: dict[int, Target]
    routing: NodeRouting
    secret: Callable[[], bytes]        # the cluster secret (empty until registered)
    node_id: Callable[[], int]
    executor: ThreadPoolExecutor
    buffers: BufferPool
    replicator: Replicator | None = None
    main_loop: asyncio.AbstractEventLoop | None = None  # where chain updates run (their locks live there)
    fenced: Callable[[], bool] = lambda: False  # True while the node's lease with the manager has lapsed
    shm_enabled: bool = True
    stats: DataPlaneStats = field(default_factory=DataPlaneStats)
    read_latency: float = 0.0  # moving average of seconds per read item, measured on every READ frame
    pooled_frames: int = 0     # small READ frames sent to the thread pool because the disk was slow
    sessions: set = field(default_factory=set)  # the connections open now (ClientSession), on any loop
    # chain and version -> target, as checked at routing version _read_targets_at: a read resolves its
    # target once per routing version (emptied when that changes, so old chain versions do not pile up)
    _read_targets: dict[tuple[int, int], Target] = field(default_factory=dict, init=False, repr=False)
    _read_targets_at: int = field(default=-1, init=False, repr=False)
    capability_keys: CapabilityKeys = field(init=False, repr=False)  # checks the clients' capabilities

    def __post_init__(self):
        self.capability_keys = CapabilityKeys(self.secret)

    def target(self, chain_id: int, chain_version: int, *, role: str = READ, fenced_checked: bool = False) -> Target:
        """This node's target of the chain, if it serves ``role`` there at that chain version; else the
        FS3Error the requester is answered with."""
        if not fenced_checked and self.fenced():
            raise FS3Error("this storage node has lost contact with the cluster manager and serves nothing "
                           "until it is back", status=Status.TARGET_NOT_SERVING)
        if role == READ:
            if self._read_targets_at != self.routing.version:
                self._read_targets = {}
                self._read_targets_at = self.routing.version
            cached = self._read_targets.get((chain_id, chain_version))
            if cached is not None:
                return cached
            checked_at = self._read_targets_at
        target_id = self.routing.local_target(chain_id, chain_version, role=role)
        target = self.targets.get(target_id)
        if target is None:
            raise FS3Error(f"target {target_id} is not on this node", status=Status.TARGET_NOT_FOUND)
        if role == READ and checked_at == self.routing.version:  # (not if routing changed meanwhile)
            self._read_targets[(chain_id, chain_version)] = target
        return target


class Request:
    """A request frame as received: its header and payload (bytes, or a view of the pooled buffer a large
    payload was received into, which ``pooled`` then holds and which is released once it is served)."""

    __slots__ = ("header", "payload", "pooled")

    def __init__(self, header: _wire.Header, payload, pooled=None):
        self.header = header
        self.payload = payload
        self.pooled = pooled

    def release(self, buffers: BufferPool) -> None:
        if self.pooled is not None:
            self.payload.release()
            buffers.release(self.pooled)
            self.pooled = None
