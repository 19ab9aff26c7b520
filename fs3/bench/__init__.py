"""Benchmarks over a running cluster, each printed beside a baseline measured in the same run on the same
machine (local O_DIRECT I/O of the same pattern and concurrency). Used by ``fs3 bench``.

``loader`` (the data loader beside numpy.memmap) and ``meta`` (namespace calls beside the KV store's own
rate) load on first use: they pull in the data loader and the KV backends."""

from __future__ import annotations

from . import _baseline as baseline
from . import _workloads as workloads
from ._stats import Comparison, Measurement, as_dict, combine

__all__ = ["Comparison", "Measurement", "as_dict", "baseline", "combine", "loader", "meta", "workloads"]


def __getattr__(name: str):
    if name in ("loader", "meta"):
        import importlib

        return importlib.import_module(f"{__name__}._{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
