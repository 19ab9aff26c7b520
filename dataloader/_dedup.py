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
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from ._minhash import EMPTY, Buckets, MinHashParams, band_buckets
from ._text import jaccard


class Clusters:
    """Duplicate clusters of two or more documents, flat: cluster *k* is ``(kind, members)``, its first
    member kept and the others removed as its duplicates. 8 bytes a member and 9 a cluster, no Python
    object per cluster (a corpus of a billion documents has tens of millions of clusters). Iterates
    and compares as a list of ``(kind, [ids])`` does."""

    KINDS = ("exact", "near")

    def __init__(self) -> None:
        self._kinds: list[np.ndarray] = []
        self._sizes: list[np.ndarray] = []
        self._members: list[np.ndarray] = []

    def add(self, kind: str, sizes: np.ndarray, members: np.ndarray) -> None:
        """Clusters of ``kind`` with these sizes, their members one after another."""
        if len(sizes):
            self._kinds.append(np.full(len(sizes), self.KINDS.index(kind), dtype=np.uint8))
            self._sizes.append(np.asarray(sizes, dtype=np.int64))
            self._members.append(np.asarray(members, dtype=np.int64))

    def _flat(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if len(self._sizes) != 1:
            self._kinds = [np.concatenate(self._kinds) if self._kinds else np.zeros(0, np.uint8)]
            self._sizes = [np.concatenate(self._sizes) if self._sizes else np.zeros(0, np.int64)]
            self._members = [np.concatenate(self._members) if self._members else np.zeros(0, np.int64)]
        offsets = np.zeros(len(self._sizes[0]) + 1, dtype=np.int64)
        np.cumsum(self._sizes[0], out=offsets[1:])
        return self._kinds[0], offsets, self._members[0]

    def __len__(self) -> int:
        return sum(len(k) for k in self._kinds)

    def count(self, kind: str) -> int:
        code = self.KINDS.index(kind)
        return sum(int((k == code).sum()) for k in self._kinds)

    def __iter__(self):
        kinds, offsets, members = self._flat()
        for k in range(len(kinds)):
            yield self.KINDS[kinds[k]], members[offsets[k]:offsets[k + 1]].tolist()

    def largest(self, limit: int | None = None) -> list[tuple[str, list[int]]]:
        """Clusters largest first (then by their kept document)."""
        kinds, offsets, members = self._flat()
        order = np.lexsort((members[offsets[:-1]], -np.diff(offsets)))[:limit]
        return [(self.KINDS[kinds[k]], members[offsets[k]:offsets[k + 1]].tolist()) for k in order.tolist()]

    def __eq__(self, other) -> bool:
        return list(self) == list(other)

    def __repr__(self) -> str:
        return f"Clusters({list(self)!r})"


def clusters_of_pairs(kept: np.ndarray, removed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(sizes, members) of the clusters that (kept, removed) pairs, sorted by kept then removed id, make:
    each kept document followed by the ones removed as its duplicates."""
    if not len(kept):
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    new = np.r_[True, kept[1:] != kept[:-1]]
    run = np.cumsum(new) - 1                          # cluster number of each pair
    starts = np.nonzero(new)[0]
    members = np.empty(len(kept) + len(starts), dtype=np.int64)
    members[starts + np.arange(len(starts))] = kept[starts]
    members[np.arange(len(kept)) + run + 1] = removed
    return np.diff(np.r_[starts, len(kept)]) + 1, members


@dataclass
class DedupResult:
    keep: np.ndarray                    # bool per document
    exact_removed: int = 0
    near_removed: int = 0
    near_candidates: int = 0            # documents that shared an LSH bucket with another
    comparisons: int = 0                # exact Jaccard similarities computed
    capped: int = 0                     # candidates with more kept partners than were compared
    clusters: Clusters = field(default_factory=Clusters)

    def stats(self, total: int) -> dict:
        return {"documents_in": total, "exact_duplicates_removed": self.exact_removed,
                "near_duplicates_removed": self.near_removed, "documents_kept": int(self.keep.sum()),
                "exact_clusters": self.clusters.count("exact"), "near_clusters": self.clusters.count("near"),
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
    result.clusters.add("exact", *runs_by_second_member(starts, sizes, order))
    return result


def runs_by_second_member(starts: np.ndarray, sizes: np.ndarray, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The runs ``ids[start:start + size]`` of two or more, as (sizes, members), in the order their
    second member (their first duplicate) appears in the input."""
    big = sizes > 1
    starts, sizes = starts[big], sizes[big]
    order = np.argsort(ids[starts + 1], kind="stable")
    starts, sizes = starts[order], sizes[order]
    offsets = np.r_[0, np.cumsum(sizes)]
    at = np.arange(int(offsets[-1]), dtype=np.int64) - np.repeat(offsets[:-1] - starts, sizes)
    return sizes, ids[at]


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
                self._removed.setdefault(p, [p]).append(doc)
                return p
        for b in bucket_ids:
            self._kept_in.setdefault(int(b), []).append(doc)
        if self._last[c] > doc:
            self._sets[doc] = shingle_set
            heapq.heappush(self._expiry, (int(self._last[c]), doc))
        return -1

    def removals(self) -> tuple[np.ndarray, np.ndarray]:
        """(kept, removed) document ids, a pair per document removed so far, by kept then removed id."""
        pairs = [(k, r) for k, m in sorted(self._removed.items()) for r in m[1:]]
        out = np.array(pairs, dtype=np.int64).reshape(-1, 2)
        return out[:, 0], out[:, 1]

    def finish(self) -> DedupResult:
        kept, removed = self.removals()
        self.result.keep[removed] = False
        self.result.near_removed = len(removed)
        self.result.clusters.add("near", *clusters_of_pairs(kept, removed))
        self._sets.clear()
        self._signatures = self._signatures[:0]
        return self.result


def _chunks_of(buckets) -> Callable[[], Iterable[Buckets]]:
    return (lambda: iter((buckets,))) if isinstance(buckets, Buckets) else buckets


def candidate_components(buckets: Buckets | Callable[[], Iterable[Buckets]]) -> tuple[np.ndarray, np.ndarray]:
    """The candidates (document ids, ascending) and, per candidate, its connected component in the graph
    where sharing a bucket is an edge, named by its smallest member's index among the candidates.
    Documents of different components never meet in ``NearDedup``: each component is judged alone.

    ``buckets``: the buckets, or a callable giving them in chunks of whole buckets (each chunk a
    ``Buckets``), called once a pass: memory is then two 8-byte numbers a candidate and one chunk."""
    chunks = _chunks_of(buckets)
    members, pending = np.zeros(0, np.int64), []
    for chunk in chunks():
        pending.append(np.unique(chunk.members))
        if sum(len(m) for m in pending) > max(len(members), 1 << 18):
            members, pending = np.unique(np.concatenate([members, *pending])), []
    members = np.unique(np.concatenate([members, *pending]))
    label = np.arange(len(members), dtype=np.int64)
    while True:  # each bucket's members take its smallest label; labels then jump to their labels' labels
        new = label.copy()
        for chunk in chunks():
            if len(chunk):
                rank = np.searchsorted(members, chunk.members)
                np.minimum.at(new, rank, np.repeat(np.minimum.reduceat(new[rank], chunk.offsets[:-1]),
                                                   np.diff(chunk.offsets)))
        while True:
            jumped = new[new]
            if np.array_equal(jumped, new):
                break
            new = jumped
        if np.array_equal(new, label):
            return members, label
        label = new


def group_components(label: np.ndarray, target: int) -> np.ndarray:
    """A group number per candidate: whole components (``label``, as ``candidate_components`` gives it),
    about ``target`` candidates a group (a larger component is a group of its own), numbered from 0 in
    the order of their first candidates."""
    if not len(label):
        return np.zeros(0, np.int64)
    first = np.unique(label)                       # components by their first candidate
    comp = np.searchsorted(first, label)           # component number per candidate
    size = np.bincount(comp)
    # a component goes to the group its first candidate's place in the run of all falls in
    _, group_of_comp = np.unique((np.cumsum(size) - size) // max(1, target), return_inverse=True)
    return group_of_comp.reshape(-1)[comp]


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
