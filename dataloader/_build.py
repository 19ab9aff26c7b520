"""``build_shards``: text inputs (JSONL, Parquet, plain text; local or on fs3) to deduplicated,
tokenized Megatron-format shards with a manifest.

Two passes over the inputs, each fanned out to worker processes in batches: the first normalizes and
hashes every document (exact key, MinHash signature), and this process removes exact duplicates and finds
the near-duplicate candidates (LSH buckets) over all of them; the second tokenizes the documents left and
returns the shingle sets of the candidates, and this process, in input order, confirms or rejects each
candidate by exact Jaccard similarity with the documents kept before it and appends the kept ones to the
shards. Every decision is taken here in input order, so a build is the same for any number of processes.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

import numpy as np

from fs3._checksum import crc32c
from fs3._errors import AlreadyExists, FS3Error, InvalidArgument

from . import _files
from ._dedup import DedupResult, NearDedup, exact_duplicates
from ._format import MANIFEST_NAME, Manifest, ShardInfo, encode_index, fitting_dtype
from ._inputs import Column, DocumentNames, documents, input_files
from ._minhash import EMPTY, MinHasher, MinHashParams
from ._spill import SignatureSpill
from ._text import DEDUP_KEY, NORMALIZATION, fingerprint, normalize, shingles
from ._tokenize import ByteTokenizer, HFTokenizer

Progress = Callable[[str, int, int | None], None]  # (stage, done, total or None)

BATCH = 64  # documents per task sent to a worker process
DEPTH = 4   # tasks per worker process in flight


@dataclass
class BuildReport:
    manifest: Manifest
    dedup: DedupResult
    names: DocumentNames              # document names in input order (path, path:line, path#row)
    seconds: dict[str, float] = field(default_factory=dict)
    dry_run: bool = False

    def duplicate_clusters(self, limit: int | None = None) -> list[dict]:
        """Clusters largest first: kind, the document kept, the ones removed."""
        ordered = sorted(self.dedup.clusters, key=lambda c: (-len(c[1]), c[1][0]))[:limit]
        return [{"kind": k, "kept": self.names[m[0]], "removed": [self.names[i] for i in m[1:]]}
                for k, m in ordered]


def _batched(docs: Iterator, size: int) -> Iterator[list]:
    batch = []
    for d in docs:
        batch.append(d)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


# -- work done in worker processes -------------------------------------------------------------------

_hasher: MinHasher | None = None
_tokenizer = None
_shingle = 5


def _init_worker(params: MinHashParams | None, tokenizer) -> None:
    global _hasher, _tokenizer, _shingle
    _hasher = MinHasher(params) if params is not None else None
    _shingle = params.shingle_size if params is not None else 5
    _tokenizer = tokenizer


def _analyze(texts: list[str]) -> list[tuple[bytes, np.ndarray | None, bool]]:
    out = []
    for raw in texts:
        text = normalize(raw)
        key, shingle_set = fingerprint(text, _shingle)
        sig = _hasher.signature(shingle_set) if _hasher is not None and text else None
        out.append((key, sig, bool(text)))
    return out


def _second(batch: list[tuple[str, bool, bool]]) -> list[tuple[np.ndarray | None, np.ndarray | None]]:
    """Per (text, wants shingles, wants tokens): the shingle set and the tokens asked for."""
    out = []
    for raw, want_shingles, want_tokens in batch:
        text = normalize(raw)
        out.append((shingles(text, _shingle) if want_shingles else None,
                    _tokenizer.encode(text) if want_tokens else None))
    return out


class _Pool:
    """A process pool, or the same functions inline for ``processes=1``."""

    def __init__(self, processes: int, params, tokenizer):
        self.pool = None
        self.processes = processes
        _init_worker(params, tokenizer)
        if processes > 1:
            # fork: workers only hash and tokenize, and scripts need no __main__ guard; but a forked copy
            # of a process that has used gRPC cannot use it, so then a fresh fork server
            ctx = multiprocessing.get_context("forkserver" if _files.has_clients() else "fork")
            self.pool = ctx.Pool(processes, initializer=_init_worker, initargs=(params, tokenizer))

    def map(self, fn, batches: Iterable) -> Iterator:
        """``fn`` of each batch, in order, with at most ``DEPTH`` batches per process handed out and not
        yet taken back (``Pool.imap`` would read every input ahead into memory)."""
        if self.pool is None:
            yield from map(fn, batches)
            return
        pending: deque = deque()
        for batch in batches:
            pending.append(self.pool.apply_async(fn, (batch,)))
            if len(pending) >= DEPTH * self.processes:
                yield pending.popleft().get()
        while pending:
            yield pending.popleft().get()

    def close(self) -> None:
        if self.pool is not None:
            self.pool.terminate()
            self.pool.join()


class _ShardWriter:
    def __init__(self, out: str, dtype: np.dtype, shard_tokens: int, eod_id: int):
        self.out, self.dtype, self.shard_tokens, self.eod = out, dtype, shard_tokens, eod_id
        self.shards: list[ShardInfo] = []
        self._file = None

    def _open(self) -> None:
        self.name = f"shard-{len(self.shards):05d}"
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


def build_shards(inputs: list[str] | str, out: str | None, *, text_field: str = "text",
                 pattern: str | None = None, dedup_scope: str = "global", exact_dedup: bool = True,
                 near_dedup: bool = True, minhash: MinHashParams | None = None,
                 tokenizer: str | None = None, eod_token: str | None = None,
                 shard_tokens: int = 1 << 26, processes: int | None = None, dry_run: bool = False,
                 overwrite: bool = False, progress: Progress | None = None) -> BuildReport:
    """Build a shard set at ``out`` (a local directory or ``fs3://`` URL) from ``inputs`` (files or
    directories, local or on fs3). Returns what was kept and removed; ``dry_run`` writes nothing."""
    inputs = [inputs] if isinstance(inputs, str) else list(inputs)
    if not inputs:
        raise InvalidArgument("no inputs given")
    if dedup_scope not in ("global", "input"):
        raise InvalidArgument(f"dedup scope must be 'global' or 'input', not {dedup_scope!r}")
    if shard_tokens < 1:
        raise InvalidArgument("shard size must be at least one token")
    if out is None and not dry_run:
        raise InvalidArgument("an output location is needed (or a dry run)")
    params = (minhash or MinHashParams()).resolved() if near_dedup else None
    tok = ByteTokenizer()
    if tokenizer is not None:
        tok = HFTokenizer(_files.read_bytes(tokenizer).decode(), eod_token=eod_token,
                          name=os.path.basename(tokenizer))
    if not dry_run:
        if _files.exists(_files.join(out, MANIFEST_NAME)) and not overwrite:
            raise AlreadyExists("File exists: a shard set is already there (pass --overwrite to replace it)",
                             path=out)
    processes = max(1, processes if processes is not None else (os.cpu_count() or 1))
    report_progress = progress or (lambda stage, done, total: None)
    per_input = dedup_scope == "input"
    seconds: dict[str, float] = {}

    pool = _Pool(processes, params, tok)
    spill = None
    try:
        # Pass 1: normalize and hash every document. Per document this process keeps numbers in numpy
        # arrays (file, place, hash, flags); the signatures go to disk band by band.
        t0 = time.monotonic()
        files = input_files(inputs, pattern)
        file_groups = np.array([f.group if per_input else 0 for f in files], dtype=np.int64)
        file_no, place = Column(np.int32), Column(np.int64)
        hashes, nonempty, no_shingles = Column("S16"), Column(bool), Column(bool)
        spill = SignatureSpill(params) if params is not None else None
        sent: deque[np.ndarray] = deque()  # (file, place) of the batches handed out, in order

        def batches():
            for batch in _batched(documents(files, text_field), BATCH):
                sent.append(np.array([(f, p) for f, p, _ in batch], dtype=np.int64).reshape(-1, 2))
                yield [t for _, _, t in batch]

        empty_sig = np.full(params.num_perm if params else 1, EMPTY, dtype=np.uint32)
        for results in pool.map(_analyze, batches()):
            where = sent.popleft()
            file_no.extend(where[:, 0])
            place.extend(where[:, 1])
            hashes.extend([h for h, _, _ in results])
            nonempty.extend([ok for _, _, ok in results])
            if spill is not None:
                sigs = np.stack([sig if sig is not None else empty_sig for _, sig, _ in results])
                spill.append(sigs)
                no_shingles.extend(np.all(sigs == EMPTY, axis=1))
            report_progress("hash", len(file_no), None)
        seconds["hash"] = time.monotonic() - t0
        names = DocumentNames(files, file_no.array(), place.array())
        if not len(names):
            raise InvalidArgument("the inputs hold no documents")
        groups = file_groups[names.file_no]
        hashes, nonempty = hashes.array(), nonempty.array()

        t0 = time.monotonic()
        dedup = exact_duplicates(hashes, groups, exact=exact_dedup)
        empties = ~np.asarray(nonempty)
        dedup.keep &= ~empties
        near = None
        if spill is not None:
            near = NearDedup(dedup, spill, params, groups, empty=no_shingles.array())
            spill.close()
            spill = None
        seconds["dedup"] = time.monotonic() - t0

        dtype = fitting_dtype(tok.vocab_size)
        dedup_info = {
            "exact": exact_dedup, "near": near_dedup, "scope": dedup_scope, "key": DEDUP_KEY,
            "hash": "blake2b-128",
            "minhash": None if params is None else {
                "num_perm": params.num_perm, "threshold": params.threshold, "bands": params.bands,
                "rows": params.rows, "shingle_size": params.shingle_size, "seed": params.seed,
                "confirmed_by": "exact Jaccard similarity of the 64-bit shingle-id sets"},
        }
        manifest = Manifest(dtype=dtype.name, vocab_size=tok.vocab_size, eod_id=tok.eod_id,
                            tokenizer=tok.spec(), normalization=NORMALIZATION, dedup=dedup_info,
                            inputs=inputs, created=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
        report = BuildReport(manifest, dedup, names, seconds, dry_run)

        # Pass 2: shingle sets of the near-duplicate candidates, tokens of what is left (unless a dry
        # run); the candidates are judged in input order, and what is kept is written.
        t0 = time.monotonic()
        writer = None
        if not dry_run:
            if _files.exists(out) and overwrite:
                _files.remove_tree(out)
            _files.make_dirs(out)
            if isinstance(tok, HFTokenizer):  # the set carries its tokenizer; the manifest, its SHA-256
                with _files.open_write(_files.join(out, tok.spec()["file"])) as f:
                    f.write(tok.data)
            writer = _ShardWriter(out, dtype, shard_tokens, tok.eod_id)
        keep = dedup.keep
        candidates = near.candidates if near is not None else np.zeros(len(keep), dtype=bool)
        wanted = keep if not dry_run else candidates
        order: deque[int] = deque()  # the documents sent and not yet answered, in order

        def second_batches():
            batch = []
            for i, (_f, _p, text) in enumerate(documents(files, text_field)):
                if wanted[i]:
                    order.append(i)
                    batch.append((text, bool(candidates[i]), not dry_run))
                    if len(batch) == BATCH:
                        yield batch
                        batch = []
            if batch:
                yield batch

        done, total = 0, int(wanted.sum())
        for results in pool.map(_second, second_batches()):
            for shingle_set, tokens in results:
                i = order.popleft()
                done += 1
                if candidates[i] and near is not None and near.offer(i, shingle_set) >= 0:
                    continue
                if writer is not None:
                    if len(tokens) and (tokens.min() < 0 or tokens.max() >= tok.vocab_size):
                        raise FS3Error("the tokenizer produced ids outside its vocabulary")
                    writer.add(tokens)
            report_progress("tokenize" if not dry_run else "compare", done, total)
        if near is not None:
            near.finish()
        stats = dedup.stats(len(names)) | {"empty_documents_removed": int(empties.sum())}
        dedup_info["stats"] = stats
        seconds["tokenize" if not dry_run else "compare"] = time.monotonic() - t0
        if writer is None:
            return report
        manifest.shards = writer.close()
        manifest.documents = sum(s.documents for s in manifest.shards)
        manifest.tokens = sum(s.tokens for s in manifest.shards)
        with _files.open_write(_files.join(out, MANIFEST_NAME)) as f:
            f.write(manifest.to_json().encode())
        return report
    finally:
        pool.close()
        if spill is not None:
            spill.close()
