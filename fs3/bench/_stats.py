"""What a benchmark run measured: throughput, IOPS and latency percentiles."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass
class Measurement:
    ops: int
    bytes: int
    seconds: float
    latencies: list[float]  # seconds per I/O (a batched I/O takes its batch's time)

    @property
    def throughput(self) -> float:
        """Bytes per second."""
        return self.bytes / self.seconds if self.seconds else 0.0

    @property
    def iops(self) -> float:
        return self.ops / self.seconds if self.seconds else 0.0

    def percentile(self, p: float) -> float:
        if not self.latencies:
            return 0.0
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]

    def summary(self) -> dict:
        return {
            "ops": self.ops, "bytes": self.bytes, "seconds": round(self.seconds, 3),
            "throughput_MBps": round(self.throughput / 1e6, 1), "iops": round(self.iops),
            "latency_ms": {f"p{p}": round(self.percentile(p) * 1e3, 3) for p in (50, 90, 99)},
        }


def combine(parts: list[Measurement]) -> Measurement:
    """One measurement from several rounds of the same workload (totals over total time)."""
    return Measurement(
        sum(p.ops for p in parts), sum(p.bytes for p in parts), sum(p.seconds for p in parts),
        [x for p in parts for x in p.latencies],
    )


@dataclass
class Comparison:
    name: str
    fs3: Measurement
    baseline: Measurement | None
    params: dict
    metric: str = "throughput"  # what the ratio compares: "throughput" or "iops"
    target: float | None = None  # the ratio it should reach, when there is one

    @property
    def ratio(self) -> float | None:
        if self.baseline is None:
            return None
        base = getattr(self.baseline, self.metric)
        return getattr(self.fs3, self.metric) / base if base else None

    @property
    def meets_target(self) -> bool | None:
        if self.target is None or self.ratio is None:
            return None
        return self.ratio >= self.target

    def summary(self) -> dict:
        return {
            "name": self.name, "params": self.params, "metric": self.metric,
            "fs3": self.fs3.summary(), "baseline": self.baseline.summary() if self.baseline else None,
            "ratio": round(self.ratio, 3) if self.ratio is not None else None,
            "target": self.target, "meets_target": self.meets_target,
        }


def as_dict(obj) -> dict:
    return asdict(obj)
