"""Deciding which documents to keep: exact duplicates by 128-bit content hash, near duplicates by MinHash
LSH, clustered with union-find; the first document of a cluster (in input order) is kept."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ._minhash import MinHashParams, candidate_pairs


@dataclass
class DedupResult:
    keep: np.ndarray                    # bool per document
    exact_removed: int = 0
    near_removed: int = 0
    # clusters of two or more documents: (kind, [doc ids]), first id kept
    clusters: list[tuple[str, list[int]]] = field(default_factory=list)

    def stats(self, total: int) -> dict:
        return {"documents_in": total, "exact_duplicates_removed": self.exact_removed,
                "near_duplicates_removed": self.near_removed, "documents_kept": int(self.keep.sum()),
                "exact_clusters": sum(1 for k, _ in self.clusters if k == "exact"),
                "near_clusters": sum(1 for k, _ in self.clusters if k == "near")}


class _UnionFind:
    def __init__(self, n: int):
        self.parent = np.arange(n)

    def find(self, x: int) -> int:
        root = x
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[x] != root:
            self.parent[x], x = root, self.parent[x]
        return int(root)

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:  # the smaller id (earlier document) stays the root
            self.parent[max(ra, rb)] = min(ra, rb)


def deduplicate(hashes: list[bytes], signatures: np.ndarray | None, groups: list[int],
                params: MinHashParams | None, *, exact: bool = True) -> DedupResult:
    """``hashes``/``signatures``/``groups``: one per document in input order; ``groups`` scopes dedup
    (documents of different groups are never duplicates). ``params`` None: exact dedup only."""
    n = len(hashes)
    keep = np.ones(n, dtype=bool)
    result = DedupResult(keep)
    first: dict[tuple[int, bytes], int] = {}
    exact_members: dict[int, list[int]] = {}
    if exact:
        for i, (g, h) in enumerate(zip(groups, hashes, strict=True)):
            j = first.setdefault((g, h), i)
            if j != i:
                keep[i] = False
                exact_members.setdefault(j, [j]).append(i)
        result.exact_removed = int(n - keep.sum())
        result.clusters += [("exact", m) for m in exact_members.values()]
    if params is None or signatures is None or n == 0:
        return result
    live = np.nonzero(keep)[0]
    pairs = candidate_pairs(signatures[live], params, np.asarray(groups)[live])
    uf = _UnionFind(len(live))
    for a, b in pairs:
        uf.union(a, b)
    members: dict[int, list[int]] = {}
    for k in range(len(live)):
        root = uf.find(k)
        if root != k:
            keep[live[k]] = False
            members.setdefault(root, [int(live[root])]).append(int(live[k]))
    result.near_removed = sum(len(m) - 1 for m in members.values())
    result.clusters += [("near", m) for m in members.values()]
    return result
