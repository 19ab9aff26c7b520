"""MinHash signatures and LSH banding for near-duplicate detection.

A signature holds, per permutation *i*, the minimum of ``h_i(x) = ((a_i * x + b_i) mod 2^64) >> 32`` over a
document's 32-bit shingle ids (multiply-add-shift hashing with random 64-bit ``a_i`` (odd), ``b_i``). Two
signatures agree at a position with probability equal to the Jaccard similarity of the shingle sets.
Banding (``bands`` x ``rows`` = the positions used) makes a pair a candidate when all rows of any band
agree: probability ``1 - (1 - J^rows)^bands``, an S-curve around the threshold.
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


def _integral(f, lo: float, hi: float, steps: int = 200) -> float:
    x = np.linspace(lo, hi, steps)
    return float(np.trapezoid(f(x), x)) if hasattr(np, "trapezoid") else float(np.trapz(f(x), x))


def optimal_bands(threshold: float, num_perm: int, fp_weight: float = 0.2) -> tuple[int, int]:
    """(bands, rows) minimizing the weighted areas of false positives below and false negatives above
    the threshold (datasketch's MinHashLSH criterion). Candidates are verified against the estimated
    similarity afterwards, so a false positive costs only a comparison: missed duplicates weigh more."""
    best, best_err = (1, num_perm), float("inf")
    for b in range(1, num_perm + 1):
        for r in range(1, num_perm // b + 1):
            fp = _integral(lambda s, b=b, r=r: 1 - (1 - s ** r) ** b, 0.0, threshold)
            fn = _integral(lambda s, b=b, r=r: (1 - s ** r) ** b, threshold, 1.0)
            err = fp_weight * fp + (1 - fp_weight) * fn
            if err < best_err:
                best, best_err = (b, r), err
    return best


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


def candidate_pairs(signatures: np.ndarray, params: MinHashParams, groups=None,
                    max_bucket: int = 512) -> set[tuple[int, int]]:
    """Pairs (i < j) whose signatures agree on every row of some band and whose estimated similarity
    reaches the threshold. ``groups`` (one label per signature) keeps pairs within a group. A bucket of
    more than ``max_bucket`` members links each member to its first only, so cost stays linear."""
    p = params.resolved()
    n = len(signatures)
    groups = np.zeros(n, dtype=np.int64) if groups is None else np.asarray(groups)
    empty = np.all(signatures == EMPTY, axis=1) if n else np.zeros(0, bool)
    pairs: set[tuple[int, int]] = set()
    live = np.nonzero(~empty)[0]
    mult = np.random.Generator(np.random.PCG64(7)).integers(1, 1 << 63, p.rows + 1, dtype=np.uint64) | np.uint64(1)
    for band in range(p.bands):
        cols = signatures[live, band * p.rows:(band + 1) * p.rows].astype(np.uint64)
        with np.errstate(over="ignore"):  # a 64-bit key per (group, band content); equal content, equal key
            keys = (cols * mult[:p.rows]).sum(axis=1) + groups[live].astype(np.uint64) * mult[p.rows]
        order = np.argsort(keys, kind="stable")
        sorted_keys = keys[order]
        starts = np.nonzero(np.r_[True, sorted_keys[1:] != sorted_keys[:-1]])[0]
        ends = np.r_[starts[1:], len(order)]
        buckets = (live[order[s:e]] for s, e in zip(starts, ends, strict=True) if e - s > 1)
        for m in buckets:
            if len(m) > max_bucket:
                sims = np.mean(signatures[m[1:]] == signatures[m[0]], axis=1)
                pairs.update((int(m[0]), int(j)) for j in m[1:][sims >= p.threshold])
                continue
            sig = signatures[m]
            sims = (sig[:, None, :] == sig[None, :, :]).mean(axis=2)
            ii, jj = np.nonzero(np.triu(sims >= p.threshold, k=1))
            pairs.update((int(m[a]), int(m[b])) for a, b in zip(ii, jj, strict=True))
    return pairs
