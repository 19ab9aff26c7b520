"""Benchmarks over a running cluster, each printed beside a baseline measured in the same run on the same
machine (local O_DIRECT I/O of the same pattern and concurrency). Used by ``fs3 bench``.

``loader`` (the data loader beside numpy.memmap), ``meta`` (namespace calls beside the KV store's own
rate) and ``checkpoint`` (torch.save / torch.load beside the local disk) load on first use: they pull in
the data loader, the KV backends and PyTorch; so do ``smallfiles`` (many 16 KiB files beside the local
disk), ``mountbench`` (reads and metadata through a mount beside the local disk) and ``scale`` (aggregate
reads against 1, 2, 4, ... storage hosts beside N times one host) and ``transport`` (UCX beside framed
TCP between hosts) and ``build`` (shard builds at two corpus sizes and worker counts). ``Mount`` holds a
mount for a benchmark and always unmounts it."""

from __future__ import annotations

from . import _baseline as baseline
from . import _workloads as workloads
from ._mount import Mount, fuse_available, mounted_under, unmount
from ._stats import Comparison, Measurement, as_dict, combine

__all__ = ["Comparison", "Measurement", "Mount", "as_dict", "baseline", "build", "checkpoint", "combine", "fuse_available",
           "loader", "meta", "mountbench", "mounted_under", "scale", "smallfiles", "transport", "unmount",
           "workloads"]


def __getattr__(name: str):
    if name in ("build", "checkpoint", "loader", "meta", "mountbench", "scale", "smallfiles", "transport"):
        import importlib

        return importlib.import_module(f"{__name__}._{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
