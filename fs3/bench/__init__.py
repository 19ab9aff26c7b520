"""Benchmarks over a running cluster, each printed beside a baseline measured in the same run on the same
machine (local O_DIRECT I/O of the same pattern and concurrency). Used by ``fs3 bench``."""

from __future__ import annotations

from . import _baseline as baseline
from . import _workloads as workloads
from ._stats import Comparison, Measurement

__all__ = ["Comparison", "Measurement", "baseline", "workloads"]
