"""MinHash signatures and LSH banding for near-duplicate detection.

A signature holds, per permutation *i*, the minimum of ``h_i(x) = ((a_i * x + b_i) mod 2^64) >> 32`` over a
document's 64-bit shingle ids (multiply-add-shift hashing with random 64-bit ``a_i`` (odd), ``b_i``). Two
signatures agree at a position with probability equal to the Jaccard similarity of the shingle sets.
Banding (``bands`` x ``rows`` = the positions used) makes a pair a candidate when all rows of any band
agree: probability ``1 - (1 - J^rows)^bands``, an S-curve around the threshold. Candidates are only
candidates: ``_dedup`` confirms each with the exact Jaccard similarity of the shingle sets.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fs3._errors import InvalidArgument

EMPTY = np.uint32(0xFFFFFFFF)


@dataclass(frozen=True)
class MinHashParams:
    num_perm: int = 128
    threshold: float = 0.8
    bands: int = 0  # 0: chosen from the threshold (see optimal_bands)
    rows: int = 0
    shingle_size: int = 5
    seed: int = 1

    def resolved(self) -> MinHashParams:
        if not 0.0 < self.threshold <= 1.0:
            raise InvalidArgument(f"near-dedup threshold must be in (0, 1], got {self.threshold}")
        if self.num_perm < 2 or self.shingle_size < 1:
            raise InvalidArgument("near dedup needs at least 2 permutations and shingles of 1+ words")
        b, r = self.bands, self.rows
        if not b or not r:
            b, r = optimal_bands(self.threshold, self.num_perm)
        if b * r > self.num_perm:
            raise InvalidArgument(f"bands x rows ({b} x {r}) exceeds the {self.num_perm} permutations")
        return MinHashParams(self.num_perm, self.threshold, b, r, self.shingle_size, self.seed)


def optimal_bands(threshold: float, num_perm: int, recall: float = 0.99) -> tuple[int, int]:
    """(bands, rows): the most rows per band (the fewest false candidates) with which a pair exactly at
    the threshold still becomes a candidate with probability ``recall``; as many bands as fit. Every
    candidate is confirmed by its exact similarity afterwards, so a false candidate costs a comparison
    and a missed one a duplicate left in: at 0.8 this gives 21 x 6 (0.998 at 0.8, 0.28 at 0.5)."""
    for rows in range(num_perm, 0, -1):
        bands = num_perm // rows
        if 1.0 - (1.0 - threshold ** rows) ** bands >= recall:
            return bands, rows
    return num_perm, 1


class MinHasher:
    def __init__(self, params: MinHashParams):
        self.params = params
        rng = np.random.Generator(np.random.PCG64(params.seed))
        self.a = rng.integers(0, 1 << 63, params.num_perm, dtype=np.uint64) * np.uint64(2) + np.uint64(1)
        self.b = rng.integers(0, 1 << 63, params.num_perm, dtype=np.uint64)

    def signature(self, shingle_ids: np.ndarray) -> np.ndarray:
        """uint32[num_perm]; all ``EMPTY`` for a document without shingles."""
        out = np.full(self.params.num_perm, EMPTY, dtype=np.uint32)
        x = np.asarray(shingle_ids, dtype=np.uint64)
        with np.errstate(over="ignore"):
            for start in range(0, len(x), 4096):
                part = x[start:start + 4096, None]
                h = ((part * self.a + self.b) >> np.uint64(32)).astype(np.uint32)
                np.minimum(out, h.min(axis=0), out=out)
        return out


def estimate(sig_a: np.ndarray, sig_b: np.ndarray) -> float:
    return float(np.mean(sig_a == sig_b))


@dataclass
class Buckets:
    """LSH buckets of two or more documents, flat: bucket *k* holds ``members[offsets[k]:offsets[k + 1]]``
    (ascending signature indices). A document sits in at most one bucket per band."""

    offsets: np.ndarray  # int64, buckets + 1
    members: np.ndarray  # int64

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def of_documents(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """The inverse, also flat: document *i* is in buckets ``ids[ptr[i]:ptr[i + 1]]``."""
        bucket = np.repeat(np.arange(len(self), dtype=np.int64), np.diff(self.offsets))
        order = np.argsort(self.members, kind="stable")
        ptr = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(np.bincount(self.members, minlength=n), out=ptr[1:])
        return ptr, bucket[order]


def band_keys(cols: np.ndarray, groups: np.ndarray, live: np.ndarray, params: MinHashParams) -> np.ndarray:
    """A 64-bit key per document ``live`` (indices into ``cols``, its band's columns, and ``groups``): equal
    band content in the same group, equal key."""
    p = params.resolved()
    mult = np.random.Generator(np.random.PCG64(7)).integers(1, 1 << 63, p.rows + 1, dtype=np.uint64) | np.uint64(1)
    with np.errstate(over="ignore"):
        keys = groups[live].astype(np.uint64) * mult[p.rows]
        for r in range(p.rows):  # a column at a time: 8 bytes a document of temporaries, not 8 x rows
            keys += cols[live, r].astype(np.uint64) * mult[r]
    return keys


def band_buckets(signatures: np.ndarray, params: MinHashParams, groups=None, live=None) -> Buckets:
    """The documents whose signatures agree on every row of some band, per (band, content): the LSH
    candidates, all in memory (a build finds them a partition at a time: ``_partitions``). ``signatures``:
    (n, num_perm). ``groups`` (one label per signature) keeps buckets within a
    group; ``live``: the ascending indices to bucket (default: every document with shingles; documents
    without any are in none). The similarity of a candidate pair is not judged here."""
    p = params.resolved()
    n = len(signatures)
    groups = np.zeros(n, dtype=np.int64) if groups is None else np.asarray(groups)
    if live is None:
        empty = np.all(signatures == EMPTY, axis=1) if n else np.zeros(0, bool)
        live = np.nonzero(~empty)[0]
    sizes, parts = [], []
    for band in range(p.bands):
        keys = band_keys(signatures[:, band * p.rows:(band + 1) * p.rows], groups, live, p)
        order = np.argsort(keys, kind="stable")  # stable: members stay ascending within a bucket
        sorted_keys = keys[order]
        starts = np.nonzero(np.r_[True, sorted_keys[1:] != sorted_keys[:-1]])[0]
        lengths = np.diff(np.r_[starts, len(order)])
        shared = np.repeat(lengths > 1, lengths)
        sizes.append(lengths[lengths > 1])
        parts.append(live[order[shared]])
    sizes_all = np.concatenate(sizes) if sizes else np.zeros(0, np.int64)
    offsets = np.zeros(len(sizes_all) + 1, dtype=np.int64)
    np.cumsum(sizes_all, out=offsets[1:])
    members = np.concatenate(parts).astype(np.int64) if parts else np.zeros(0, np.int64)
    return Buckets(offsets, members)
