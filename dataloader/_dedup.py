"""Deciding which documents to keep.

Exact duplicates: same 128-bit content hash (within a group); the first in input order is kept.

Near duplicates: MinHash LSH proposes candidates (documents sharing a band bucket); each candidate is
then judged by the exact Jaccard similarity of its shingle set with the documents already kept. Documents
are taken in input order and one is removed only when a kept document of one of its buckets reaches the
threshold with it, so every removal has a kept partner at or above the threshold (no chains through
removed documents). A candidate is compared with its kept partners likeliest first (by MinHash
agreement), at most ``max_comparisons`` of them, so a large family of similar but distinct documents
costs a bounded number of comparisons each. Shingle sets are needed only for candidates, one at a time,
and a kept set is held only until its last bucket partner has been judged. The outcome depends on the
input order alone.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from ._minhash import EMPTY, Buckets, MinHashParams, band_buckets
from ._text import jaccard


@dataclass
class DedupResult:
    keep: np.ndarray                    # bool per document
    exact_removed: int = 0
    near_removed: int = 0
    near_candidates: int = 0            # documents that shared an LSH bucket with another
    comparisons: int = 0                # exact Jaccard similarities computed
    capped: int = 0                     # candidates with more kept partners than were compared
    # clusters of two or more documents: (kind, [doc ids]), first id kept
    clusters: list[tuple[str, list[int]]] = field(default_factory=list)

    def stats(self, total: int) -> dict:
        return {"documents_in": total, "exact_duplicates_removed": self.exact_removed,
                "near_duplicates_removed": self.near_removed, "documents_kept": int(self.keep.sum()),
                "exact_clusters": sum(1 for k, _ in self.clusters if k == "exact"),
                "near_clusters": sum(1 for k, _ in self.clusters if k == "near"),
                "near_candidates": self.near_candidates, "near_comparisons": self.comparisons,
                "near_comparisons_capped": self.capped}


def exact_duplicates(hashes: Sequence[bytes], groups: Sequence[int], *, exact: bool = True) -> DedupResult:
    """Keep the first document of each (group, hash); ``exact`` False keeps all."""
    n = len(hashes)
    keep = np.ones(n, dtype=bool)
    result = DedupResult(keep)
    if not exact or n == 0:
        return result
    groups = np.asarray(groups, dtype=np.int64)
    if len(groups) != n:
        raise ValueError("one group per hash")
    # sorted by (group, hash, input order): runs of equal (group, hash), each led by its first document
    _, key = np.unique(np.asarray(hashes), return_inverse=True)
    order = np.lexsort((np.arange(n), key.reshape(-1), groups))
    g, k = groups[order], key.reshape(-1)[order]
    lead = np.ones(n, dtype=bool)
    lead[1:] = (g[1:] != g[:-1]) | (k[1:] != k[:-1])
    keep[order[~lead]] = False
    result.exact_removed = int(n - keep.sum())
    starts = np.nonzero(lead)[0]
    sizes = np.diff(np.r_[starts, n])
    # clusters of two or more, in the order their first duplicate appears in the input
    clusters = [order[s:s + z].tolist() for s, z in zip(starts[sizes > 1].tolist(), sizes[sizes > 1].tolist(),
                                                        strict=True)]
    clusters.sort(key=lambda m: m[1])
    result.clusters += [("exact", m) for m in clusters]
    return result


class NearDedup:
    """The near-duplicate decision over ``result.keep``'s documents. Offer every candidate, in ascending
    order, with its shingle set (``offer``); then ``finish``."""

    def __init__(self, result: DedupResult, signatures, params: MinHashParams,
                 groups: Sequence[int] | None = None, max_comparisons: int = 64, empty: np.ndarray | None = None,
                 buckets: Buckets | None = None):
        """``signatures``: (n, num_perm) array, or, with ``buckets`` (the LSH buckets already found,
        members as document ids), a store whose ``rows_of(ids)`` gives those documents' banded columns;
        ``empty``: the documents without shingles (default: those whose signature is all ``EMPTY``).
        Memory grows with the candidates, not with the documents."""
        p = params.resolved()
        self.result, self.threshold = result, p.threshold
        self.max_comparisons = max_comparisons
        n = len(result.keep)
        if buckets is None:
            if empty is None:
                empty = np.all(signatures == EMPTY, axis=1) if n else np.zeros(0, bool)
            live = np.nonzero(result.keep & ~empty)[0]
            groups = np.zeros(n, np.int64) if groups is None else np.asarray(groups)
            buckets = band_buckets(signatures, params, groups, live=live)  # members: document ids
        # the candidates (ascending document ids), and every per-candidate table indexed by their rank
        self._members = np.unique(buckets.members)
        rank = np.searchsorted(self._members, buckets.members)
        self._ptr, self._ids = Buckets(buckets.offsets, rank).of_documents(len(self._members))
        # the last document sharing a bucket with each one: a kept set is dropped once that one is judged
        last_of_bucket = buckets.members[buckets.offsets[1:] - 1] if len(buckets) else np.zeros(0, np.int64)
        self._last = np.full(len(self._members), -1, dtype=np.int64)
        bucket_of = np.repeat(np.arange(len(buckets)), np.diff(buckets.offsets))
        np.maximum.at(self._last, rank, last_of_bucket[bucket_of])
        self._n = n
        self._kept_in: dict[int, list[int]] = {}   # bucket -> kept documents, ascending
        self._sets: dict[int, np.ndarray] = {}     # kept candidates' shingle sets still needed
        self._expiry: list[tuple[int, int]] = []    # (last partner, document)
        self._removed: dict[int, list[int]] = {}   # kept -> the documents removed as its duplicates
        self._next = 0
        # the candidates' signatures (their banded columns: the same whether the signatures are in memory or
        # read back from disk), to try a document's likeliest partners first
        banded = p.bands * p.rows
        self._signatures = signatures.rows_of(self._members) if hasattr(signatures, "rows_of") else \
            np.asarray(signatures[self._members])[:, :banded]
        result.near_candidates = len(self._members)

    @property
    def candidate_ids(self) -> np.ndarray:
        """The candidates' document ids, ascending."""
        return self._members

    @property
    def candidates(self) -> np.ndarray:
        """A bool per document: whether it is a candidate."""
        out = np.zeros(self._n, dtype=bool)
        out[self._members] = True
        return out

    def offer(self, doc: int, shingle_set: np.ndarray) -> int:
        """Judge candidate ``doc``: the kept document it duplicates (it is then removed), or -1 (kept)."""
        c = int(np.searchsorted(self._members, doc))
        if doc < self._next or c == len(self._members) or self._members[c] != doc:
            raise ValueError(f"document {doc} offered out of order or not a candidate")
        self._next = doc + 1
        while self._expiry and self._expiry[0][0] < doc:
            self._sets.pop(heapq.heappop(self._expiry)[1], None)
        bucket_ids = self._ids[self._ptr[c]:self._ptr[c + 1]]
        partners = np.array(sorted({p for b in bucket_ids for p in self._kept_in.get(int(b), ())}), dtype=np.int64)
        if len(partners) > 1:  # the highest estimated similarity first, then the earliest
            mine = self._signatures[c]
            agree = (self._signatures[np.searchsorted(self._members, partners)] == mine).sum(axis=1)
            partners = partners[np.lexsort((partners, -agree))]
            if len(partners) > self.max_comparisons:  # a large family of similar documents
                self.result.capped += 1
                partners = partners[:self.max_comparisons]
        for p in partners.tolist():
            self.result.comparisons += 1
            if jaccard(self._sets[p], shingle_set) >= self.threshold:
                self.result.keep[doc] = False
                self._removed.setdefault(p, [p]).append(doc)
                return p
        for b in bucket_ids:
            self._kept_in.setdefault(int(b), []).append(doc)
        if self._last[c] > doc:
            self._sets[doc] = shingle_set
            heapq.heappush(self._expiry, (int(self._last[c]), doc))
        return -1

    def finish(self) -> DedupResult:
        self.result.near_removed = sum(len(m) - 1 for m in self._removed.values())
        self.result.clusters += [("near", m) for _, m in sorted(self._removed.items())]
        self._sets.clear()
        self._signatures = self._signatures[:0]
        return self.result


def deduplicate(hashes: Sequence[bytes], signatures: np.ndarray | None, groups: Sequence[int],
                params: MinHashParams | None, shingle_sets: Sequence[np.ndarray] | None = None, *,
                exact: bool = True) -> DedupResult:
    """Both steps in memory. ``hashes``/``signatures``/``groups``/``shingle_sets``: one per document in
    input order; ``groups`` scopes dedup (documents of different groups are never duplicates).
    ``params`` None: exact dedup only."""
    result = exact_duplicates(hashes, groups, exact=exact)
    if params is None or signatures is None or shingle_sets is None or len(hashes) == 0:
        return result
    near = NearDedup(result, signatures, params, groups)
    for doc in near.candidate_ids:
        near.offer(int(doc), shingle_sets[doc])
    return near.finish()
