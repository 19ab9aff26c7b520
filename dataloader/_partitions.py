"""A build's whole-corpus decisions taken a partition at a time, so the coordinating process holds one
partition's records, not the corpus's: exact duplicates (records partitioned by their hash) and LSH
buckets (per band, records partitioned by their band key). Records go to files in a local scratch
directory as the parts are read, then each partition is sorted alone. Equal keys always fall in the same
partition, so the result is the one a single sort gives, whatever the number of partitions."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable

import numpy as np

from ._dedup import runs_by_second_member
from ._minhash import Buckets, MinHashParams, band_keys

PARTITION_DOCS = 1 << 20  # documents a partition holds, about (32 MB of exact records, 16 MB a band's)

_EXACT = np.dtype([("h0", "<u8"), ("h1", "<u8"), ("g", "<i8"), ("i", "<i8")])
_BAND = np.dtype([("k", "<u8"), ("i", "<i8")])


def partitions_for(documents: int, per_partition: int = PARTITION_DOCS) -> int:
    return max(1, -(-documents // max(1, per_partition)))


class _Spill:
    """Records appended to one file per partition."""

    def __init__(self, scratch: str, name: str, partitions: int, dtype: np.dtype):
        self.paths = [os.path.join(scratch, f"{name}-{q:05d}") for q in range(partitions)]
        self.dtype = dtype
        for path in self.paths:
            open(path, "wb").close()

    def add(self, partition: np.ndarray, records: np.ndarray) -> None:
        if len(self.paths) == 1:
            with open(self.paths[0], "ab") as f:
                records.tofile(f)
            return
        order = np.argsort(partition, kind="stable")  # (ids stay ascending within a partition)
        bounds = np.searchsorted(partition[order], np.arange(len(self.paths) + 1))
        for q, path in enumerate(self.paths):
            if bounds[q + 1] > bounds[q]:
                with open(path, "ab") as f:
                    records[order[bounds[q]:bounds[q + 1]]].tofile(f)

    def take(self, q: int) -> np.ndarray:
        out = np.fromfile(self.paths[q], dtype=self.dtype)
        os.unlink(self.paths[q])
        return out


def exact_duplicates_partitioned(parts: Iterable[tuple[int, np.ndarray, np.ndarray]], partitions: int,
                                 scratch: str) -> tuple[np.ndarray, list[list[int]]]:
    """``parts``: (first document id, 16-byte hashes, groups) in order. Returns the ids of the documents that
    are not the first of their (group, hash), ascending, and the clusters of two or more (ids ascending),
    ordered by their second member, as ``exact_duplicates`` gives them: (sizes, members)."""
    spill = _Spill(scratch, "exact", partitions, _EXACT)
    for start, hashes, groups in parts:
        words = np.frombuffer(np.ascontiguousarray(hashes).tobytes(), dtype="<u8").reshape(-1, 2)
        rec = np.empty(len(hashes), dtype=_EXACT)
        rec["h0"], rec["h1"], rec["g"] = words[:, 0], words[:, 1], groups
        rec["i"] = np.arange(start, start + len(hashes))
        spill.add(rec["h0"] % np.uint64(partitions), rec)
    removed, sizes_of, members_of = [], [], []
    for q in range(partitions):
        r = spill.take(q)
        order = np.lexsort((r["i"], r["h1"], r["h0"], r["g"]))
        r = r[order]
        lead = np.ones(len(r), dtype=bool)
        lead[1:] = (r["g"][1:] != r["g"][:-1]) | (r["h0"][1:] != r["h0"][:-1]) | (r["h1"][1:] != r["h1"][:-1])
        removed.append(r["i"][~lead])
        starts = np.nonzero(lead)[0]
        sizes, members = runs_by_second_member(starts, np.diff(np.r_[starts, len(r)]), r["i"])
        sizes_of.append(sizes)
        members_of.append(members)
    gone = np.sort(np.concatenate(removed)) if removed else np.zeros(0, np.int64)
    sizes = np.concatenate(sizes_of) if sizes_of else np.zeros(0, np.int64)
    members = np.concatenate(members_of) if members_of else np.zeros(0, np.int64)
    # the partitions' clusters merged in the order of their second members
    offsets = np.r_[0, np.cumsum(sizes)]
    return gone, runs_by_second_member(offsets[:-1], sizes, members)


def band_buckets_partitioned(band_parts: Callable[[int], Iterable[tuple[int, np.ndarray, np.ndarray, np.ndarray]]],
                             params: MinHashParams, partitions: int, scratch: str) -> Buckets:
    """LSH buckets, as ``band_buckets`` finds them (members as document ids, ascending within a bucket), from
    ``band_parts(b)``: per part in order, (first document id, the band's columns, groups, live local indices)."""
    p = params.resolved()
    sizes, members = [], []
    for band in range(p.bands):
        spill = _Spill(scratch, f"band-{band:03d}", partitions, _BAND)
        for start, cols, groups, live in band_parts(band):
            rec = np.empty(len(live), dtype=_BAND)
            rec["k"] = band_keys(cols, groups, live, p)
            rec["i"] = start + live
            spill.add(rec["k"] % np.uint64(partitions), rec)
        for q in range(partitions):
            r = spill.take(q)
            order = np.argsort(r["k"], kind="stable")  # stable: members stay ascending within a bucket
            keys = r["k"][order]
            starts = np.nonzero(np.r_[True, keys[1:] != keys[:-1]])[0] if len(keys) else np.zeros(0, np.int64)
            lengths = np.diff(np.r_[starts, len(keys)])
            shared = np.repeat(lengths > 1, lengths)
            sizes.append(lengths[lengths > 1])
            members.append(r["i"][order[shared]])
    sizes_all = np.concatenate(sizes) if sizes else np.zeros(0, np.int64)
    offsets = np.zeros(len(sizes_all) + 1, dtype=np.int64)
    np.cumsum(sizes_all, out=offsets[1:])
    return Buckets(offsets, np.concatenate(members).astype(np.int64) if members else np.zeros(0, np.int64))
