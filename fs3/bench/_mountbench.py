"""`fs3 bench mount`: through an fs3 mount, ``depth`` threads of O_DIRECT random reads (4 KiB and 1 MiB)
on a preallocated file, and creates, stats and unlinks of many files in one directory; the same on the
local disk in the same run, with the ratios. Read rounds alternate between the two sides, so a disk whose
speed drifts weighs on both alike."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from . import _baseline as baseline
from ._stats import Measurement, combine

READ_TARGETS = {4096: 0.3, 1 << 20: 0.7}
META_TARGETS = {"create": 0.1, "stat": 0.3, "unlink": 0.1}


@dataclass
class Row:
    name: str
    unit: str                # "IOPS", "MB/s" or "/s"
    fs3: float
    local: float
    target: float
    ratio: float = 0.0
    meets_target: bool = False
    detail: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.ratio = self.fs3 / self.local if self.local else 0.0
        self.meets_target = self.ratio >= self.target


@dataclass
class MountBenchResult:
    file_size: int
    depth: int
    seconds: float
    files: int
    rows: list[Row] = field(default_factory=list)


def metadata(directory: Path, files: int) -> dict[str, float]:
    """Creates (open O_CREAT + close), stats and unlinks per second of ``files`` files in one directory,
    one after another, each phase over all files before the next; the directory is removed after."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = [str(directory / f"m{i:06d}") for i in range(files)]
    rates = {}
    try:
        start = time.perf_counter()
        for p in paths:
            os.close(os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))
        rates["create"] = files / (time.perf_counter() - start)
        start = time.perf_counter()
        for p in paths:
            os.stat(p)
        rates["stat"] = files / (time.perf_counter() - start)
        start = time.perf_counter()
        for p in paths:
            os.unlink(p)
        rates["unlink"] = files / (time.perf_counter() - start)
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    return rates


def _reads(fs3_file: Path, local_file: Path, size: int, block: int, depth: int, seconds: float,
           rounds: int) -> tuple[Measurement, Measurement]:
    each = seconds / rounds
    fs3_parts, local_parts = [], []
    for r in range(rounds):
        order = [(fs3_parts, fs3_file), (local_parts, local_file)]
        for parts, path in order if r % 2 == 0 else order[::-1]:
            parts.append(baseline.read([path], size, block, depth, each, seed=r))
    return combine(fs3_parts), combine(local_parts)


def run(*, mountpoint: Path, fs3_dir: str, local_dir: Path, prepare: Callable[[str, int], None], file_size: int,
        depth: int, seconds: float, files: int, rounds: int = 2, say: Callable[[str], None] = lambda _m: None,
        on_row: Callable[[Row], None] = lambda _r: None) -> MountBenchResult:
    """``prepare(path, size)`` writes the fs3 test file (through the client: faster than the mount, and
    not what is measured); the mount at ``mountpoint`` shows it under ``fs3_dir``."""
    result = MountBenchResult(file_size, depth, seconds, files)
    name = f"mount-read-{file_size}"
    say(f"preparing a {file_size >> 20} MiB file in fs3 and on the local disk")
    prepare(f"{fs3_dir.rstrip('/')}/{name}", file_size)
    (local,) = baseline.make_files(local_dir, 1, file_size)
    via_mount = mountpoint / fs3_dir.strip("/") / name
    for block, label in ((4096, "4 KiB"), (1 << 20, "1 MiB")):
        say(f"random O_DIRECT reads of {label}, {depth} threads, {seconds:g} s a side")
        fs3_m, local_m = _reads(via_mount, local, file_size, block, depth, seconds, rounds)
        small = block < (64 << 10)
        unit = "IOPS" if small else "MB/s"
        value = (lambda m: m.iops) if small else (lambda m: m.throughput / 1e6)
        row = Row(f"random read {label} x{depth}", unit, value(fs3_m), value(local_m), READ_TARGETS[block],
                  detail={"fs3": fs3_m.summary(), "local": local_m.summary()})
        result.rows.append(row)
        on_row(row)
    say(f"creates, stats and unlinks of {files} files in one directory")
    mine = f"meta-{os.getpid()}"
    fs3_rates = metadata(mountpoint / fs3_dir.strip("/") / mine, files)
    local_rates = metadata(local_dir / mine, files)
    for op in ("create", "stat", "unlink"):
        row = Row(f"{op} ({files} files, one directory)", "/s", fs3_rates[op], local_rates[op], META_TARGETS[op])
        result.rows.append(row)
        on_row(row)
    return result


def describe(row: Row) -> str:
    """One line of `fs3 bench mount`'s table."""
    return (f"  {row.name:<36} mount {row.fs3:10.0f} {row.unit:<5} local {row.local:10.0f} {row.unit:<5} "
            f"ratio {ratio_text(row.ratio)}  {'ok' if row.meets_target else 'MISSED'} (target >= {row.target}x)")


def ratio_text(ratio: float) -> str:
    """A ratio for a table: two decimals, three below 0.1 (where 0.00x would hide a tenfold difference)."""
    return f"{ratio:5.2f}x" if ratio >= 0.1 else f"{ratio:5.3f}x"
