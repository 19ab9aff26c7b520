"""`fs3 bench checkpoint`: torch.save and torch.load of a state dict on fs3 (through fsspec, the way
docs/checkpoints.md shows, atomic rename included) beside the same on a local disk in the same run: the
local save is fsynced and renamed into place too, and the local load reads with the file's pages dropped
from the page cache first, so both sides read and write the device."""

from __future__ import annotations

import os
import statistics
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


@dataclass
class CheckpointResult:
    bytes: int                 # of tensor data in the state dict
    tensors: int
    rounds: int
    fs3_save_gbps: float = 0.0
    local_save_gbps: float = 0.0
    save_ratio: float = 0.0
    fs3_load_gbps: float = 0.0
    local_load_gbps: float = 0.0  # page cache dropped before each load
    load_ratio: float = 0.0
    local_dir: str = ""
    notes: list[str] = field(default_factory=list)


def state_dict(total: int, tensors: int, seed: int = 0) -> dict:
    """``tensors`` float32 tensors of random values, ``total`` bytes in all (a model's weights, roughly)."""
    import torch

    rng = np.random.default_rng(seed)
    each = max(4, total // tensors // 4 * 4)
    return {f"layer{i}.weight": torch.from_numpy(rng.standard_normal(each // 4, dtype=np.float32))
            for i in range(tensors)} | {"step": 1000}


def _drop_cache(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def _save_local(state: dict, path: Path) -> None:
    import torch

    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as f:
        torch.save(state, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _load_local(path: Path) -> dict:
    import torch

    return torch.load(path, weights_only=True)


def run(*, total: int, tensors: int, rounds: int, fs, fs3_dir: str, local_dir: Path,
        say: Callable[[str], None] = lambda m: None) -> CheckpointResult:
    """Save and load the same state dict ``rounds`` times on each side, alternating; medians in GB/s.
    ``fs``: an ``FS3FileSystem``; ``fs3_dir`` and ``local_dir``: where the checkpoints go (removed after)."""
    import torch

    say(f"making a state dict of {tensors} tensors, {total / 2**30:.2f} GiB")
    state = state_dict(total, tensors)
    data = sum(t.numel() * t.element_size() for t in state.values() if isinstance(t, torch.Tensor))
    result = CheckpointResult(bytes=data, tensors=tensors, rounds=rounds, local_dir=str(local_dir))
    name = f"ckpt-{uuid.uuid4().hex[:8]}.pt"
    remote = f"{fs3_dir.rstrip('/')}/{name}"
    local = local_dir / name
    local_dir.mkdir(parents=True, exist_ok=True)
    fs.makedirs(fs3_dir, exist_ok=True)
    times: dict[str, list[float]] = {"fs3_save": [], "local_save": [], "fs3_load": [], "local_load": []}

    def timed(key: str, fn) -> object:
        began = time.perf_counter()
        out = fn()
        times[key].append(time.perf_counter() - began)
        return out

    def save_fs3() -> None:
        with fs.open(remote, "wb", block_size=64 << 20) as f:
            torch.save(state, f)

    def load_fs3() -> dict:
        with fs.open(remote, "rb") as f:
            return torch.load(f, weights_only=True)

    try:
        for r in range(rounds):
            say(f"round {r + 1}/{rounds}: save")
            timed("fs3_save", save_fs3)
            timed("local_save", lambda: _save_local(state, local))
            say(f"round {r + 1}/{rounds}: load")
            back = timed("fs3_load", load_fs3)
            _drop_cache(local)
            timed("local_load", lambda: _load_local(local))
            if r == 0:
                assert isinstance(back, dict) and torch.equal(back["layer0.weight"], state["layer0.weight"])
    finally:
        local.unlink(missing_ok=True)
        try:
            fs.rm_file(remote)
        except FileNotFoundError:
            pass

    def gbps(key: str) -> float:
        return data / statistics.median(times[key]) / 1e9

    result.fs3_save_gbps, result.local_save_gbps = gbps("fs3_save"), gbps("local_save")
    result.fs3_load_gbps, result.local_load_gbps = gbps("fs3_load"), gbps("local_load")
    result.save_ratio = result.fs3_save_gbps / result.local_save_gbps
    result.load_ratio = result.fs3_load_gbps / result.local_load_gbps
    return result


def describe(r: CheckpointResult) -> list[str]:
    """The lines `fs3 bench checkpoint` prints."""
    return [
        f"checkpoint: torch.save / torch.load of {r.tensors} tensors, {r.bytes / 2**30:.2f} GiB, median of "
        f"{r.rounds} rounds (local disk: {r.local_dir}):",
        f"  save  fs3 {r.fs3_save_gbps:6.2f} GB/s   local disk {r.local_save_gbps:6.2f} GB/s (fsync, rename)"
        f"   ratio {r.save_ratio:.2f}x",
        f"  load  fs3 {r.fs3_load_gbps:6.2f} GB/s   local disk {r.local_load_gbps:6.2f} GB/s (page cache dropped)"
        f"   ratio {r.load_ratio:.2f}x",
    ]


__all__ = ["CheckpointResult", "describe", "run", "state_dict"]
