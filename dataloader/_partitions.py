"""A build's whole-corpus decisions taken a partition at a time, so no process holds the corpus's
records: exact duplicates (records partitioned by their hash, in the coordinating process) and LSH
buckets (per band, records partitioned by their band key, a band a worker task). Records go to files in
a local scratch directory as the parts are read, then each partition is sorted alone. Equal keys always
fall in the same partition, so the result is the one a single sort gives, whatever the number of
partitions. The buckets stay in files: the components of the candidate graph are found a file at a time,
and each group of components gets its buckets in a file of its own, for the worker that judges it."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator

import numpy as np

from . import _files
from ._dedup import candidate_components, group_components, runs_by_second_member
from ._minhash import Buckets, MinHashParams, band_keys

PARTITION_DOCS = 1 << 20  # documents a partition holds, about (32 MB of exact records, 16 MB a band's)
MAX_SPANS = 16  # tasks a sort (a band, the exact duplicates) at most: each reads all of its columns

_EXACT = np.dtype([("h0", "<u8"), ("h1", "<u8"), ("g", "<i8"), ("i", "<i8")])
_BAND = np.dtype([("k", "<u8"), ("i", "<i8")])
_MEMBER = np.dtype([("b", "<i8"), ("i", "<i8")])


def partitions_for(documents: int, per_partition: int = PARTITION_DOCS) -> int:
    return max(1, -(-documents // max(1, per_partition)))


class _Spill:
    """Records appended to one file per partition: of ``partitions`` (by key), those of ``span``
    (``[first, last)``, all by default)."""

    def __init__(self, scratch: str, name: str, partitions: int, dtype: np.dtype,
                 span: tuple[int, int] | None = None):
        self.count = partitions
        self.first, self.last = span if span is not None else (0, partitions)
        self.paths = [os.path.join(scratch, f"{name}-{q:05d}") for q in range(self.first, self.last)]
        self.dtype = dtype
        for path in self.paths:
            open(path, "wb").close()

    @property
    def partitions(self) -> range:
        return range(self.first, self.last)

    def add_keyed(self, keys: np.ndarray, records: np.ndarray) -> None:
        """Add the records whose key (``keys``, one a record) falls in the span's partitions."""
        q = (keys % np.uint64(self.count)).astype(np.int64)
        if len(self.paths) < self.count:
            mine = (q >= self.first) & (q < self.last)
            records, q = records[mine], q[mine]
        self.add(q, records)

    def add(self, partition: np.ndarray, records: np.ndarray) -> None:
        if len(self.paths) == 1:
            with open(self.paths[0], "ab") as f:
                records.tofile(f)
            return
        order = np.argsort(partition, kind="stable")  # (ids stay ascending within a partition)
        bounds = np.searchsorted(partition[order], np.arange(self.first, self.last + 1))
        for j, path in enumerate(self.paths):
            if bounds[j + 1] > bounds[j]:
                with open(path, "ab") as f:
                    records[order[bounds[j]:bounds[j + 1]]].tofile(f)

    def take(self, q: int) -> np.ndarray:
        path = self.paths[q - self.first]
        out = np.fromfile(path, dtype=self.dtype)
        os.unlink(path)
        return out


def exact_duplicates_partitioned(parts: Iterable[tuple[int, np.ndarray, np.ndarray]], partitions: int,
                                 scratch: str, span: tuple[int, int] | None = None
                                 ) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray]]:
    """``parts``: (first document id, 16-byte hashes, groups) in order. Returns the ids of the documents that
    are not the first of their (group, hash), ascending, and the clusters of two or more (ids ascending),
    ordered by their second member, as ``exact_duplicates`` gives them: (sizes, members). With ``span``
    (``[first, last)``), only of the hashes of those partitions: ``merge_exact`` joins spans' results."""
    spill = _Spill(scratch, "exact", partitions, _EXACT, span)
    for start, hashes, groups in parts:
        words = np.frombuffer(np.ascontiguousarray(hashes).tobytes(), dtype="<u8").reshape(-1, 2)
        rec = np.empty(len(hashes), dtype=_EXACT)
        rec["h0"], rec["h1"], rec["g"] = words[:, 0], words[:, 1], groups
        rec["i"] = np.arange(start, start + len(hashes))
        spill.add_keyed(rec["h0"], rec)
    results = []
    for q in spill.partitions:
        r = spill.take(q)
        order = np.lexsort((r["i"], r["h1"], r["h0"], r["g"]))
        r = r[order]
        lead = np.ones(len(r), dtype=bool)
        lead[1:] = (r["g"][1:] != r["g"][:-1]) | (r["h0"][1:] != r["h0"][:-1]) | (r["h1"][1:] != r["h1"][:-1])
        starts = np.nonzero(lead)[0]
        results.append((r["i"][~lead], runs_by_second_member(starts, np.diff(np.r_[starts, len(r)]), r["i"])))
    return merge_exact(results)


def merge_exact(results: list[tuple[np.ndarray, tuple[np.ndarray, np.ndarray]]]
                ) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray]]:
    """The removed ids and clusters of several partitions' (or spans') ``exact_duplicates_partitioned``
    as one: ids ascending, clusters in the order of their second members."""
    empty = np.zeros(0, np.int64)
    gone = np.sort(np.concatenate([g for g, _ in results])) if results else empty
    sizes = np.concatenate([c[0] for _, c in results]) if results else empty
    members = np.concatenate([c[1] for _, c in results]) if results else empty
    offsets = np.r_[0, np.cumsum(sizes)]
    return gone, runs_by_second_member(offsets[:-1], sizes, members)


def partition_spans(ways: int, partitions: int, width: int) -> list[tuple[int, int]]:
    """How the key partitions of each of ``ways`` sorts (the LSH bands; 1 for the exact duplicates) are
    cut among tasks, as runs of whole partitions ``[first, last)``: about two tasks a worker in all,
    however few the sorts are next to the workers (21 bands would leave most of a large cluster idle),
    and at most ``MAX_SPANS`` a sort. Each task reads the sort's columns of every part and keeps its
    partitions' share: more tasks, more reading, the same result."""
    spans = min(partitions, MAX_SPANS, max(1, -(-2 * width // max(1, ways))))
    cuts = [partitions * s // spans for s in range(spans + 1)]
    return [(cuts[s], cuts[s + 1]) for s in range(spans)]


def band_buckets_of(records: Iterable[tuple[int, np.ndarray, np.ndarray, np.ndarray]], params: MinHashParams,
                    partitions: int, scratch: str, name: str,
                    span: tuple[int, int] | None = None) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
    """One band's LSH buckets of two or more, as ``band_buckets`` finds them (members as document ids,
    ascending within a bucket), from ``records``: per part in order, (first document id, the band's
    columns, groups, the indices of the documents that take part). Yields (partition, sizes, members) for
    each partition of ``span`` (``[first, last)``, all of them by default) that has any, after sorting it
    alone in ``scratch``."""
    p = params.resolved()
    spill = _Spill(scratch, name, partitions, _BAND, span)
    for start, cols, groups, live in records:
        rec = np.empty(len(live), dtype=_BAND)
        rec["k"] = band_keys(cols, groups, live, p)
        rec["i"] = start + live
        spill.add_keyed(rec["k"], rec)
    for q in spill.partitions:
        r = spill.take(q)
        order = np.argsort(r["k"], kind="stable")  # stable: members stay ascending within a bucket
        keys = r["k"][order]
        starts = np.nonzero(np.r_[True, keys[1:] != keys[:-1]])[0] if len(keys) else np.zeros(0, np.int64)
        lengths = np.diff(np.r_[starts, len(keys)])
        shared = np.repeat(lengths > 1, lengths)
        if shared.any():
            yield q, lengths[lengths > 1], r["i"][order[shared]]


class LiveBuckets:
    """The buckets the band tasks wrote (``bands/`` beside the stage manifest), a file at a time, with the
    documents ``keep`` drops (exact duplicates) taken out and the buckets left with fewer than two
    dropped: what banding only the kept documents gives. Called, it gives them as ``Buckets``."""

    def __init__(self, urls: list[str], keep: np.ndarray):
        self.urls, self.keep = urls, keep

    def __call__(self) -> Iterator[Buckets]:
        for url in self.urls:
            with _files.open_read(url) as f:
                z = np.load(f)
                sizes, members = z["sizes"], z["members"]
            bucket = np.repeat(np.arange(len(sizes), dtype=np.int64), sizes)
            alive = self.keep[members]
            bucket, members = bucket[alive], members[alive]
            counts = np.bincount(bucket, minlength=len(sizes))
            shared = (counts > 1)[bucket]
            offsets = np.zeros(int((counts > 1).sum()) + 1, dtype=np.int64)
            np.cumsum(counts[counts > 1], out=offsets[1:])
            yield Buckets(offsets, members[shared])


class SpilledGroups:
    """The candidates cut into groups of whole components (``group_components``) from buckets in files, a
    group's buckets spilled to a file of its own: ``groups[g]`` gives group *g*'s candidates (ascending)
    and buckets, one group in memory at a time. Holds three 8-byte numbers a candidate."""

    def __init__(self, buckets: Callable[[], Iterable[Buckets]], target: int | Callable[[int], int], scratch: str):
        """``target``: candidates a group, or a function of the number of candidates giving it."""
        self.candidates, label = candidate_components(buckets)
        self.group = group_components(label, target(len(label)) if callable(target) else target)
        del label
        self.count = int(self.group.max()) + 1 if len(self.group) else 0
        self._spill = _Spill(scratch, "group", max(1, self.count), _MEMBER)
        serial = 0  # buckets numbered across files, so a group's keep their order and their bounds
        for chunk in buckets():
            sizes = np.diff(chunk.offsets)
            rec = np.empty(len(chunk.members), dtype=_MEMBER)
            rec["b"] = np.repeat(np.arange(serial, serial + len(chunk), dtype=np.int64), sizes)
            rec["i"] = chunk.members
            serial += len(chunk)
            first = chunk.members[chunk.offsets[:-1]]
            self._spill.add(np.repeat(self.group[np.searchsorted(self.candidates, first)], sizes), rec)

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, g: int) -> tuple[np.ndarray, Buckets]:
        r = self._spill.take(g)
        starts = np.nonzero(np.r_[True, r["b"][1:] != r["b"][:-1]])[0] if len(r) else np.zeros(0, np.int64)
        offsets = np.r_[starts, len(r)].astype(np.int64)
        return self.candidates[self.group == g], Buckets(offsets, np.ascontiguousarray(r["i"]))
