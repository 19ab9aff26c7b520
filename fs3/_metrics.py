"""Operation counters with latency histograms, kept cumulative (as Prometheus expects) by storage nodes
(reported in heartbeats) and meta servers (per gRPC method)."""

from __future__ import annotations

import bisect
import threading
from dataclasses import dataclass, field

LATENCY_BOUNDS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0)


@dataclass
class OpCounter:
    count: int = 0      # items (a read frame may carry many reads)
    frames: int = 0     # requests timed
    errors: int = 0
    bytes: int = 0
    seconds: float = 0.0
    buckets: list[int] = field(default_factory=lambda: [0] * len(LATENCY_BOUNDS))  # not cumulative here

    def observe(self, seconds: float, items: int = 1) -> None:
        self.frames += 1
        self.count += items
        self.seconds += seconds
        i = bisect.bisect_left(LATENCY_BOUNDS, seconds)
        if i < len(self.buckets):
            self.buckets[i] += 1

    def cumulative(self) -> list[int]:
        out, total = [], 0
        for b in self.buckets:
            total += b
            out.append(total)
        return out


class OpCounters:
    """Counters by operation name; safe to update from several threads."""

    def __init__(self):
        self._lock = threading.Lock()
        self.ops: dict[str, OpCounter] = {}

    def get(self, op: str) -> OpCounter:
        c = self.ops.get(op)
        if c is None:
            with self._lock:
                c = self.ops.setdefault(op, OpCounter())
        return c

    def observe(self, op: str, seconds: float, items: int = 1, *, error: bool = False) -> None:
        with self._lock:
            c = self.ops.get(op) or self.ops.setdefault(op, OpCounter())
            c.observe(seconds, items)
            if error:
                c.errors += 1

    def snapshot(self) -> dict[str, OpCounter]:
        with self._lock:
            return {k: OpCounter(v.count, v.frames, v.errors, v.bytes, v.seconds, list(v.buckets))
                    for k, v in self.ops.items()}
