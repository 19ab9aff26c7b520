"""The work of a shard build that runs in workers, one part of the inputs at a time: hash every document,
shingle the near-duplicate candidates, tokenize and write the kept ones. Each task reads its part from
the inputs and writes its output under the build's work directory (or its shards into the shard set)
itself, local or on fs3, and returns only counts: the engine (local processes or Ray) moves no text.

Functions here are module-level and take (context, task), so any engine can call them by name."""

from __future__ import annotations

import io
from dataclasses import asdict, dataclass

import numpy as np

from fs3._checksum import crc32c
from fs3._errors import FS3Error

from . import _files
from ._dedup import DedupResult, NearDedup
from ._format import ShardInfo, encode_index
from ._inputs import InputFile
from ._minhash import EMPTY, Buckets, MinHasher, MinHashParams
from ._partitions import band_buckets_of, exact_duplicates_partitioned
from ._parts import Part, part_documents
from ._scratch import Scratch
from ._text import fingerprint, normalize, shingles


@dataclass
class BuildContext:
    """What every task needs; sent to each worker once."""

    files: list[InputFile]
    text_field: str
    params: MinHashParams | None
    tokenizer: object
    work: str                 # the build's work directory (local or fs3 URL)
    out: str | None           # the shard set (None: a dry run)
    dtype: str
    shard_tokens: int


def part_file(work: str, stage: str, number: int, ext: str = "npz") -> str:
    return _files.join(_files.join(work, stage), f"part-{number:05d}.{ext}")


def save_arrays(url: str, **arrays) -> None:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    with _files.open_write(url) as f:
        f.write(buf.getbuffer())


_hashers: dict = {}


def _hasher(params: MinHashParams) -> MinHasher:
    h = _hashers.get(params)
    if h is None:
        h = _hashers[params] = MinHasher(params)
    return h


def hash_part(ctx: BuildContext, part: Part) -> dict:
    """Per document: its content hash, whether it has text and shingles, where it is; its signature's
    banded columns, band by band. Written to ``hash/part-N.npz``."""
    p = ctx.params
    shingle = p.shingle_size if p is not None else 5
    hasher = _hasher(p) if p is not None else None
    hashes, nonempty, piece, place, sigs = [], [], [], [], []
    lines: list[int] = []
    empty_sig = np.full(p.num_perm if p is not None else 1, EMPTY, dtype=np.uint32)
    for k, where, raw in part_documents(ctx.files, part, ctx.text_field, lines):
        text = normalize(raw)
        key, shingle_set = fingerprint(text, shingle)
        hashes.append(key)
        nonempty.append(bool(text))
        piece.append(k)
        place.append(where)
        if hasher is not None:
            sigs.append(hasher.signature(shingle_set) if text else empty_sig)
    n = len(hashes)
    arrays = {"hash": np.array(hashes, dtype="S16").reshape(n), "nonempty": np.array(nonempty, dtype=bool),
              "piece": np.array(piece, dtype=np.int32), "place": np.array(place, dtype=np.int64)}
    if p is not None:
        sig = np.stack(sigs) if sigs else np.zeros((0, p.num_perm), np.uint32)
        arrays["no_shingles"] = np.all(sig == EMPTY, axis=1)
        for b in range(p.bands):
            arrays[f"band_{b}"] = np.ascontiguousarray(sig[:, b * p.rows:(b + 1) * p.rows])
    save_arrays(part_file(ctx.work, "hash", part.number), **arrays)
    return {"part": part.number, "documents": n, "lines": lines, "bytes": part.size}


def shingle_part(ctx: BuildContext, task: tuple[Part, np.ndarray]) -> dict:
    """The shingle sets of a part's candidates (their indices in the part, ascending), flat: ``ids`` with
    ``offsets``. Written to ``shingles/part-N.npz``."""
    part, wanted = task
    sets, at = [], 0
    for i, (_k, _where, raw) in enumerate(part_documents(ctx.files, part, ctx.text_field)):
        if at < len(wanted) and wanted[at] == i:
            sets.append(shingles(normalize(raw), ctx.params.shingle_size))
            at += 1
    offsets = np.zeros(len(sets) + 1, dtype=np.int64)
    np.cumsum([len(s) for s in sets], out=offsets[1:])
    ids = np.concatenate(sets) if sets else np.zeros(0, np.uint64)
    save_arrays(part_file(ctx.work, "shingles", part.number), ids=ids, offsets=offsets)
    return {"part": part.number, "documents": len(sets), "bytes": part.size}


class CandidateSignatures:
    """Candidates' signature columns, read back from the hash stage's part files (``NearDedup`` orders a
    candidate's partners by them). ``starts``: each part's first document id, then the total."""

    def __init__(self, work: str, numbers: list[int], starts: np.ndarray, params: MinHashParams):
        self.work, self.numbers, self.starts, self.params = work, numbers, starts, params

    def rows_of(self, docs: np.ndarray) -> np.ndarray:
        r = self.params.rows
        out = np.empty((len(docs), self.params.bands * r), dtype=np.uint32)
        owner = np.searchsorted(self.starts, docs, side="right") - 1
        for k in np.unique(owner).tolist():
            sel = owner == k
            with _files.open_read(part_file(self.work, "hash", self.numbers[k])) as f:
                z = np.load(f)
                local = docs[sel] - self.starts[k]
                out[sel] = np.concatenate([z[f"band_{b}"][local] for b in range(self.params.bands)], axis=1)
        return out


@dataclass
class ExactTask:
    """The exact duplicates among the documents whose hashes fall in a run of key partitions
    (``partition_spans``): every part's hashes read, the run's share sorted a partition at a time
    in the worker's local scratch; the removed ids and the clusters go to ``exact/`` beside the stage
    manifest, a file a task (``merge_exact`` joins them)."""

    number: int
    partitions: int
    span: tuple[int, int]
    numbers: list[int]                 # part numbers, by part index
    starts: np.ndarray                 # each part's first document id, then the total
    piece_groups: list[np.ndarray]     # per part: the dedup group of each of its pieces

    @property
    def size(self) -> int:
        return int(self.starts[-1])


def exact_file(work: str, number: int) -> str:
    return _files.join(_files.join(work, "exact"), f"span-{number:05d}.npz")


def find_exact(ctx: BuildContext, task: ExactTask) -> dict:
    """Find the exact duplicates of one run of partitions (``ExactTask``)."""
    with Scratch("exact") as scratch:
        def parts():
            for k, number in enumerate(task.numbers):
                with _files.open_read(part_file(ctx.work, "hash", number)) as f:
                    z = np.load(f)
                    hashes, piece = z["hash"], z["piece"]
                yield int(task.starts[k]), hashes, task.piece_groups[k][piece]

        gone, (sizes, members) = exact_duplicates_partitioned(parts(), task.partitions, scratch, task.span)
    save_arrays(exact_file(ctx.work, task.number), gone=gone, sizes=sizes, members=members)
    return {"span": task.number, "removed": len(gone), "bytes": task.size}


@dataclass
class BandTask:
    """One LSH band over the whole corpus, or a run of its key partitions (``partition_spans``): its keys
    from every part's hash file, sorted a partition at a time in the worker's local scratch space; the
    buckets of two or more go to ``bands/`` beside the stage manifest, a file a partition. Every document with shingles takes part (the coordinator drops exact
    duplicates from the buckets as it reads them: the same buckets as banding only the live ones)."""

    band: int
    partitions: int
    numbers: list[int]                 # part numbers, by part index
    starts: np.ndarray                 # each part's first document id, then the total
    piece_groups: list[np.ndarray]     # per part: the dedup group of each of its pieces
    span: tuple[int, int] | None = None  # the partitions [first, last) this task sorts (None: all)

    @property
    def size(self) -> int:
        return int(self.starts[-1])


def band_file(work: str, band: int, partition: int) -> str:
    return _files.join(_files.join(work, "bands"), f"band-{band:03d}-{partition:05d}.npz")


def bucket_band(ctx: BuildContext, task: BandTask) -> dict:
    """Find one band's buckets (``BandTask``); returns the partitions that have any."""
    p, b = ctx.params, task.band
    with Scratch("band") as scratch:
        def records():
            for k, number in enumerate(task.numbers):
                with _files.open_read(part_file(ctx.work, "hash", number)) as f:
                    z = np.load(f)
                    cols, piece = z[f"band_{b}"], z["piece"]
                    live = np.nonzero(z["nonempty"].astype(bool) & ~z["no_shingles"].astype(bool))[0]
                yield int(task.starts[k]), cols, task.piece_groups[k][piece], live

        written = []
        for q, sizes, members in band_buckets_of(records(), p, task.partitions, scratch, f"band-{b:03d}",
                                                  task.span):
            save_arrays(band_file(ctx.work, b, q), sizes=sizes, members=members)
            written.append(q)
    return {"band": b, "partitions": written, "bytes": task.size}


@dataclass
class JudgeTask:
    """Whole components of the candidate graph, judged in one worker: the candidates (document ids,
    ascending), their buckets, and where each candidate's shingle set is (the shingles stage wrote a
    part's candidates in order: the candidate's place among its part's)."""

    number: int
    docs: np.ndarray
    buckets: Buckets
    slots: np.ndarray        # per candidate: its index in its part's shingles file
    numbers: list[int]       # part numbers, by part index
    starts: np.ndarray       # each part's first document id, then the total

    @property
    def size(self) -> int:
        return len(self.docs)


def judge_group(ctx: BuildContext, task: JudgeTask) -> dict:
    """Judge a group's candidates in input order (``NearDedup``); one part's shingle sets are held at a
    time (the candidates come in part order), and a kept set only until its last partner is judged.
    Writes the removals, (kept, removed) pairs, to ``compare/part-N.npz``; returns the counts."""
    result = DedupResult(np.ones(0, dtype=bool))
    near = NearDedup(result, CandidateSignatures(ctx.work, task.numbers, task.starts, ctx.params), ctx.params,
                     buckets=task.buckets)
    owner = np.searchsorted(task.starts, task.docs, side="right") - 1
    held, ids, offsets = -1, None, None
    for doc, k, slot in zip(task.docs.tolist(), owner.tolist(), task.slots.tolist(), strict=True):
        if k != held:
            with _files.open_read(part_file(ctx.work, "shingles", task.numbers[k])) as f:
                z = np.load(f)
                ids, offsets, held = z["ids"], z["offsets"], k
        near.offer(doc, ids[offsets[slot]:offsets[slot + 1]].copy())  # (a copy: the part's arrays go)
    kept, removed = near.removals()
    save_arrays(part_file(ctx.work, "compare", task.number), kept=kept, removed=removed,
                counts=np.array([result.comparisons, result.capped], dtype=np.int64))
    return {"group": task.number, "bytes": len(task.docs), "removed": len(removed)}


class ShardWriter:
    """Documents' tokens to ``NAME-KKKKK.bin/.idx`` shards of about ``shard_tokens`` tokens."""

    def __init__(self, out: str, prefix: str, dtype: np.dtype, shard_tokens: int, eod_id: int):
        self.out, self.prefix, self.dtype, self.shard_tokens, self.eod = out, prefix, dtype, shard_tokens, eod_id
        self.shards: list[ShardInfo] = []
        self._file = None

    def _open(self) -> None:
        self.name = f"{self.prefix}-{len(self.shards):05d}"
        self._file = _files.open_write(_files.join(self.out, self.name + ".bin"))
        self._lengths: list[int] = []
        self._crc = 0
        self._tokens = 0

    def add(self, tokens: np.ndarray) -> None:
        if self._file is None:
            self._open()
        data = np.empty(len(tokens) + 1, dtype=self.dtype)
        data[:-1] = tokens
        data[-1] = self.eod
        raw = data.tobytes()
        self._file.write(raw)
        self._crc = crc32c(raw, self._crc)
        self._lengths.append(len(data))
        self._tokens += len(data)
        if self._tokens >= self.shard_tokens:
            self._finish()

    def _finish(self) -> None:
        self._file.close()
        self._file = None
        index = encode_index(self.dtype, np.asarray(self._lengths))
        with _files.open_write(_files.join(self.out, self.name + ".idx")) as f:
            f.write(index)
        self.shards.append(ShardInfo(self.name, len(self._lengths), self._tokens, self._crc, crc32c(index)))

    def close(self) -> list[ShardInfo]:
        if self._file is not None:
            self._finish()
        return self.shards


def write_part(ctx: BuildContext, task: tuple[Part, np.ndarray]) -> dict:
    """Tokenize a part's kept documents (a bool per document of the part) and write its shards
    (``shard-PPPPP-KKKKK``) into the shard set."""
    part, keep = task
    tok = ctx.tokenizer
    writer = ShardWriter(ctx.out, f"shard-{part.number:05d}", np.dtype(ctx.dtype), ctx.shard_tokens, tok.eod_id)
    for i, (_k, _where, raw) in enumerate(part_documents(ctx.files, part, ctx.text_field)):
        if keep[i]:
            tokens = tok.encode(normalize(raw))
            if len(tokens) and (tokens.min() < 0 or tokens.max() >= tok.vocab_size):
                raise FS3Error("the tokenizer produced ids outside its vocabulary")
            writer.add(tokens)
    return {"part": part.number, "shards": [asdict(s) for s in writer.close()], "documents": int(keep.sum()),
            "bytes": part.size}


TASKS = {f.__name__: f for f in (hash_part, find_exact, shingle_part, bucket_band, judge_group, write_part)}
