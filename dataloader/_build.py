"""``build_shards``: text inputs (JSONL, Parquet, plain text; local or on fs3) to deduplicated,
tokenized Megatron-format shards with a manifest.

The inputs are cut into parts (``_parts``); a build runs in stages, each recorded when it finishes in a
stage manifest under ``OUT/.fs3-build`` (a killed build run again with the same settings goes on from
the last finished stage):

1. ``hash`` (workers, a part a task): every document's content hash and MinHash signature, written
   beside the stage manifest band by band;
2. ``exact`` (workers, a run of the hashes' key partitions a task): the exact duplicates, sorted a
   partition at a time in the worker; removed ids and clusters written beside the stage manifest;
3. ``bands`` (workers, an LSH band, or a run of its key partitions, a task): the band's keys of every
   document, sorted a partition at a time in the worker; buckets of two or more written there too;
4. ``shingles`` (workers): the shingle sets of the near-duplicate candidates, which this process finds
   from the buckets, less the exact duplicates;
5. ``compare`` (workers, whole components of the candidate graph a task): the candidates judged in
   input order by exact Jaccard similarity with the documents kept before them (``_dedup``); documents
   that never share a bucket, even through others, never meet there, so components are judged apart;
6. ``write`` (workers): each part's kept documents tokenized into its own shards
   (``shard-PART-K.bin/.idx``);
7. the manifest, listing the shards in part order.

Workers read inputs and write their outputs themselves, local or on fs3, through local processes or Ray
(``_engines``); the components are found here, from the bucket files a file at a time; parts depend
on the inputs alone, so a build is the same for any number of workers and either engine. This process keeps numbers per document and per candidate (numpy arrays), never text, shingle
sets, signatures or buckets.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from fs3._errors import AlreadyExists, InvalidArgument

from . import _files
from ._build_tasks import (
    BandTask,
    BuildContext,
    ExactTask,
    JudgeTask,
    band_file,
    bucket_band,
    exact_file,
    find_exact,
    hash_part,
    judge_group,
    part_file,
    shingle_part,
    write_part,
)
from ._dedup import DedupResult, clusters_of_pairs
from ._engines import make_engine
from ._format import MANIFEST_NAME, Manifest, ShardInfo, fitting_dtype
from ._inputs import document_name, input_files
from ._minhash import MinHashParams
from ._partitions import (
    PARTITION_DOCS,
    LiveBuckets,
    SpilledGroups,
    merge_exact,
    partition_spans,
    partitions_for,
)
from ._parts import PART_SIZE, Part, plan_parts
from ._scratch import Scratch
from ._text import DEDUP_KEY, NORMALIZATION
from ._tokenize import ByteTokenizer, HFTokenizer

Progress = Callable[[str, int, int | None], None]  # (stage, done, total): input bytes; "compare": documents

WORK_NAME = ".fs3-build"
STAGES_NAME = "stages.json"
JUDGE_CANDIDATES = 1 << 18  # candidates a judgement task takes, about (a larger component is one task)


@dataclass
class BuildReport:
    manifest: Manifest
    dedup: DedupResult
    names: _PartNames                 # document names in input order (path, path:line, path#row)
    seconds: dict[str, float] = field(default_factory=dict)
    dry_run: bool = False

    def duplicate_clusters(self, limit: int | None = None) -> list[dict]:
        """Clusters largest first: kind, the document kept, the ones removed."""
        ordered = self.dedup.clusters.largest(limit)
        return [{"kind": k, "kept": self.names[m[0]], "removed": [self.names[i] for i in m[1:]]}
                for k, m in ordered]

class _Stages:
    """The stage manifest of a build: its settings and the stages finished, with what they returned."""

    def __init__(self, work: str, settings: dict):
        self.url, self.settings = _files.join(work, STAGES_NAME), settings
        self.done: dict[str, object] = {}

    def load(self) -> bool:
        """True when an unfinished build with these settings is there to go on with."""
        if not _files.exists(self.url):
            return False
        try:
            state = json.loads(_files.read_bytes(self.url))
        except ValueError:
            return False
        if state.get("settings") != self.settings:
            return False
        self.done = state.get("done", {})
        return True

    def finish(self, stage: str, result: object = None) -> None:
        self.done[stage] = result
        _files.write_atomic(self.url, json.dumps({"settings": self.settings, "done": self.done}).encode())
        if os.environ.get("FS3_TEST_PAUSE_AFTER_STAGE") == stage:  # tests kill a build here, at a known point
            time.sleep(3600)


def _settings(inputs, files, parts, text_field, dedup_scope, exact_dedup, params, tok, shard_tokens,
              part_size) -> dict:
    """What a build's result depends on: an unfinished build goes on only when these are the same."""
    return {"version": 1, "inputs": inputs, "files": [[f.url, _files.file_size(f.url)] for f in files],
            "parts": len(parts), "part_size": part_size, "text_field": text_field, "scope": dedup_scope,
            "exact": exact_dedup, "minhash": None if params is None else
            [params.num_perm, params.threshold, params.bands, params.rows, params.shingle_size, params.seed],
            "tokenizer": tok.spec(), "shard_tokens": shard_tokens}


def _each(work: str, parts: list[Part], names: tuple[str, ...]):
    """(part index, {name: array}) of the hash stage's per-document arrays ``names``, a part at a time."""
    for k, part in enumerate(parts):
        with _files.open_read(part_file(work, "hash", part.number)) as f:
            z = np.load(f)
            arrays = {n: z[n] for n in names}
        yield k, arrays


_NAME = np.dtype([("f", "<i8"), ("p", "<i8")])


class _PartNames:
    """``names[i]``: document *i*'s name, made when asked from its part's stage files (one part's places
    held at a time): a build's coordinator keeps no name, nor a number for a name, per document."""

    def __init__(self, files, work: str, parts: list[Part], counts: list[int], lines: list[list[int]]):
        self.files, self.work, self.parts = files, work, parts
        self.starts = np.r_[0, np.cumsum(counts)].astype(np.int64)
        # a JSONL piece numbers its lines from its start: add the lines of the file's pieces before it
        self._base: list[np.ndarray] = []
        seen: dict[int, int] = {}
        for k, part in enumerate(parts):
            base = []
            for j, pc in enumerate(part.pieces):
                base.append(seen.get(pc.file, 0) if files[pc.file].kind == "jsonl" else 0)
                seen[pc.file] = seen.get(pc.file, 0) + (lines[k][j] if j < len(lines[k]) else 0)
            self._base.append(np.asarray(base, dtype=np.int64))
        self._held: tuple[int, np.ndarray, np.ndarray] | None = None
        self._map: np.ndarray | None = None

    def detach(self) -> None:
        """Copy every document's (file, place) into a local file mapped here and unlinked at once, so the
        names outlive the build's stage files without being held in memory."""
        fd, path = tempfile.mkstemp(prefix="fs3-build-names-")
        try:
            with os.fdopen(fd, "wb") as f:
                for k in range(len(self.parts)):
                    file_no, place = self._part(k)
                    rec = np.empty(len(file_no), dtype=_NAME)
                    rec["f"], rec["p"] = file_no, place
                    rec.tofile(f)
            self._map = np.memmap(path, dtype=_NAME, mode="r", shape=(len(self),)) if len(self) else \
                np.zeros(0, dtype=_NAME)
        finally:
            os.unlink(path)
        self._held = None

    def __len__(self) -> int:
        return int(self.starts[-1])

    def _part(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        if self._map is not None:
            m = self._map[self.starts[k]:self.starts[k + 1]]
            return m["f"], m["p"]
        if self._held is None or self._held[0] != k:
            _, z = next(_each(self.work, self.parts[k:k + 1], ("piece", "place")))
            piece = z["piece"].astype(np.int64)
            file_no = np.asarray([pc.file for pc in self.parts[k].pieces], dtype=np.int64)[piece] \
                if len(piece) else np.zeros(0, np.int64)
            place = z["place"] + (self._base[k][piece] if len(piece) else 0)
            self._held = (k, file_no, place)
        return self._held[1], self._held[2]

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        i = int(i) + (len(self) if i < 0 else 0)
        if not 0 <= i < len(self):
            raise IndexError(i)
        k = int(np.searchsorted(self.starts, i, side="right") - 1)
        file_no, place = self._part(k)
        j = i - int(self.starts[k])
        return document_name(self.files[int(file_no[j])], int(place[j]))

    def __iter__(self):
        for k in range(len(self.parts)):
            file_no, place = self._part(k)
            for f, pl in zip(file_no.tolist(), place.tolist(), strict=True):
                yield document_name(self.files[f], pl)

    def __eq__(self, other) -> bool:
        return list(self) == list(other)


def build_shards(inputs: list[str] | str, out: str | None, *, text_field: str = "text",
                 pattern: str | None = None, dedup_scope: str = "global", exact_dedup: bool = True,
                 near_dedup: bool = True, minhash: MinHashParams | None = None,
                 tokenizer: str | None = None, eod_token: str | None = None,
                 shard_tokens: int = 1 << 26, processes: int | None = None, dry_run: bool = False,
                 overwrite: bool = False, progress: Progress | None = None, engine: str = "local",
                 ray_address: str | None = None, part_size: int = PART_SIZE,
                 partition_docs: int = PARTITION_DOCS) -> BuildReport:
    """Build a shard set at ``out`` (a local directory or ``fs3://`` URL) from ``inputs`` (files or
    directories, local or on fs3). Returns what was kept and removed; ``dry_run`` writes nothing.
    ``engine``: ``local`` (``processes`` worker processes) or ``ray`` (the cluster at ``ray_address``, or
    one started here with ``processes`` CPUs). ``part_size``: input bytes a task takes; ``partition_docs``:
    documents this process sorts at a time, and candidates it hands to a judgement task at most (its
    memory, past a few bytes per document and per candidate, is bounded by it and by the largest group of
    similar documents, not by the corpus). A build of the
    same inputs with the same settings that was stopped goes on from its last finished stage."""
    inputs = [inputs] if isinstance(inputs, str) else list(inputs)
    if not inputs:
        raise InvalidArgument("no inputs given")
    if dedup_scope not in ("global", "input"):
        raise InvalidArgument(f"dedup scope must be 'global' or 'input', not {dedup_scope!r}")
    if shard_tokens < 1:
        raise InvalidArgument("shard size must be at least one token")
    if part_size < 1:
        raise InvalidArgument("part size must be at least one byte")
    if partition_docs < 1:
        raise InvalidArgument("a partition must hold at least one document")
    if out is None and not dry_run:
        raise InvalidArgument("an output location is needed (or a dry run)")
    params = (minhash or MinHashParams()).resolved() if near_dedup else None
    tok = ByteTokenizer()
    if tokenizer is not None:
        tok = HFTokenizer(_files.read_bytes(tokenizer).decode(), eod_token=eod_token,
                          name=os.path.basename(tokenizer))
    if not dry_run and _files.exists(_files.join(out, MANIFEST_NAME)) and not overwrite:
        raise AlreadyExists("File exists: a shard set is already there (pass --overwrite to replace it)", path=out)
    processes = max(1, processes if processes is not None else (os.cpu_count() or 1))
    report_progress = progress or (lambda stage, done, total: None)
    seconds: dict[str, float] = {}
    dtype = fitting_dtype(tok.vocab_size)

    files = input_files(inputs, pattern)
    parts = plan_parts(files, part_size)
    settings = _settings(inputs, files, parts, text_field, dedup_scope, exact_dedup, params, tok, shard_tokens,
                         part_size)
    scratch = Scratch("dry-run") if dry_run else None
    work = scratch.path if scratch is not None else _files.join(out, WORK_NAME)
    stages = _Stages(work, settings)
    if not dry_run:
        if overwrite and _files.exists(out):
            _files.remove_tree(out)
        elif not stages.load() and _files.exists(stages.url):
            raise InvalidArgument(f"an unfinished build with other inputs or settings is at {out} (run the same "
                                  "command to finish it, or pass --overwrite to start again)")
        _files.make_dirs(work)
    ctx = BuildContext(files, text_field, params, tok, work, None if dry_run else out, dtype.name, shard_tokens)
    runner = None
    spill: Scratch | None = None

    def engine_of_build():
        nonlocal runner
        if runner is None:
            runner = make_engine(engine, ctx, processes, ray_address)
        return runner

    def run(stage: str, fn, tasks, size: int | None = None) -> list:
        """Results of ``fn`` over ``tasks`` (a list, or an iterable with their total ``size``)."""
        runner = engine_of_build()
        _files.make_dirs(_files.join(work, stage))
        t0, done, results = time.monotonic(), 0, []
        if size is None:
            size = sum((t[0] if isinstance(t, tuple) else t).size for t in tasks)
        for r in runner.map(fn, tasks):
            results.append(r)
            done += r["bytes"]
            report_progress(stage, done, size)
        seconds[stage] = seconds.get(stage, 0.0) + time.monotonic() - t0
        return results

    try:
        # 1. hash
        if "hash" not in stages.done:
            results = run("hash", hash_part, parts)
            stages.finish("hash", {"documents": [r["documents"] for r in results],
                                   "lines": [r["lines"] for r in results]})
        counts, lines = stages.done["hash"]["documents"], stages.done["hash"]["lines"]
        if not sum(counts):
            raise InvalidArgument("the inputs hold no documents")
        t0 = time.monotonic()
        n = int(sum(counts))
        starts = np.r_[0, np.cumsum(counts)].astype(np.int64)
        names = _PartNames(files, work, parts, counts, lines)
        file_groups = np.array([f.group if dedup_scope == "input" else 0 for f in files], dtype=np.int64)
        # per part, the dedup group of each of its pieces (documents of different groups are never duplicates)
        piece_groups = [file_groups[np.asarray([pc.file for pc in part.pieces], dtype=np.int64)] for part in parts]

        # exact duplicates and empty documents, then LSH buckets: a partition of the records at a time
        keep = np.ones(n, dtype=bool)
        dedup = DedupResult(keep)
        partitions = partitions_for(n, partition_docs)
        spill = Scratch("partitions")  # (removed as the build ends)
        buckets = None
        numbers = [p.number for p in parts]
        if exact_dedup:  # in the workers, a run of the hashes' partitions a task
            if "exact" not in stages.done:
                spans = partition_spans(1, partitions, engine_of_build().width)
                timed = seconds.get("exact", 0.0)
                results = run("exact", find_exact, [ExactTask(s, partitions, span, numbers, starts, piece_groups)
                                                    for s, span in enumerate(spans)])
                t0 += seconds["exact"] - timed  # (the coordinator's own time is timed apart)
                stages.finish("exact", len(results))
            found = []
            for s in range(stages.done["exact"]):
                with _files.open_read(exact_file(work, s)) as f:
                    z = np.load(f)
                    found.append((z["gone"], (z["sizes"], z["members"])))
            gone, clusters = merge_exact(found)
            del found
            keep[gone] = False
            dedup.exact_removed = len(gone)
            dedup.clusters.add("exact", *clusters)
            del gone, clusters
        empties = 0
        for k, z in _each(work, parts, ("nonempty",)):
            nonempty = z["nonempty"].astype(bool)
            empties += int((~nonempty).sum())
            keep[starts[k]:starts[k + 1]] &= nonempty
        seconds["dedup"] = time.monotonic() - t0  # (this process's own work; the stages' runs are timed apart)
        if params is not None:  # LSH in the workers; exact duplicates dropped as read here
            if "bands" not in stages.done:
                spans = partition_spans(params.bands, partitions, engine_of_build().width)
                results = run("bands", bucket_band, [BandTask(b, partitions, numbers, starts, piece_groups, span)
                                                     for b in range(params.bands) for span in spans])
                stages.finish("bands", [[r["band"], r["partitions"]] for r in results])
            buckets = LiveBuckets([band_file(work, b, q) for b, qs in stages.done["bands"] for q in qs], keep)

        # 2. shingles of the candidates, 3. their judgement in input order, whole components of the
        # candidate graph (documents that share a bucket, transitively) a task
        if buckets is not None:
            # groups of about JUDGE_CANDIDATES (or partition_docs: a group's task is in this process's
            # memory as it is handed out), and at least two a worker when there are few candidates
            t0 = time.monotonic()
            groups = SpilledGroups(buckets, lambda candidates: max(1, min(
                JUDGE_CANDIDATES, partition_docs, -(-candidates // (2 * processes)))), spill.path)
            cand = groups.candidates
            seconds["dedup"] += time.monotonic() - t0
            bounds = np.searchsorted(cand, starts)
            tasks = [(p, cand[bounds[k]:bounds[k + 1]] - starts[k]) for k, p in enumerate(parts)]
            tasks = [t for t in tasks if len(t[1])]
            if "shingles" not in stages.done:
                run("shingles", shingle_part, tasks)
                stages.finish("shingles")
            del tasks
            if "compare" not in stages.done:
                def judge_tasks():  # made as the engine takes them: one group's buckets in memory at a time
                    for g in range(len(groups)):
                        docs, sub = groups[g]
                        at = np.searchsorted(cand, docs)
                        owner = np.searchsorted(starts, docs, side="right") - 1
                        yield JudgeTask(g, docs, sub, at - bounds[owner], numbers, starts)

                run("compare", judge_group, judge_tasks(), size=len(cand))
                stages.finish("compare", {"groups": len(groups)})
            del groups
        if "compare" in stages.done:
            kept, removed, counts = [], [], np.zeros(2, np.int64)
            for g in range(stages.done["compare"]["groups"]):
                with _files.open_read(part_file(work, "compare", g)) as f:
                    z = np.load(f)
                    kept.append(z["kept"])
                    removed.append(z["removed"])
                    counts += z["counts"]
            kept = np.concatenate(kept) if kept else np.zeros(0, np.int64)
            removed = np.concatenate(removed) if removed else np.zeros(0, np.int64)
            order = np.lexsort((removed, kept))
            keep[removed] = False
            dedup.near_removed = len(removed)
            dedup.near_candidates = len(cand)
            dedup.comparisons, dedup.capped = int(counts[0]), int(counts[1])
            dedup.clusters.add("near", *clusters_of_pairs(kept[order], removed[order]))
        stats = dedup.stats(len(names)) | {"empty_documents_removed": empties}
        dedup_info = {
            "exact": exact_dedup, "near": near_dedup, "scope": dedup_scope, "key": DEDUP_KEY,
            "hash": "blake2b-128", "stats": stats,
            "minhash": None if params is None else {
                "num_perm": params.num_perm, "threshold": params.threshold, "bands": params.bands,
                "rows": params.rows, "shingle_size": params.shingle_size, "seed": params.seed,
                "confirmed_by": "exact Jaccard similarity of the 64-bit shingle-id sets"},
        }
        manifest = Manifest(dtype=dtype.name, vocab_size=tok.vocab_size, eod_id=tok.eod_id,
                            tokenizer=tok.spec(), normalization=NORMALIZATION, dedup=dedup_info,
                            inputs=inputs, created=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
        report = BuildReport(manifest, dedup, names, seconds, dry_run)
        if dry_run:
            names.detach()
            return report

        # 4. tokenize and write, a part a task
        if "write" not in stages.done:
            if isinstance(tok, HFTokenizer):  # the set carries its tokenizer; the manifest, its SHA-256
                with _files.open_write(_files.join(out, tok.spec()["file"])) as f:
                    f.write(tok.data)
            keep = dedup.keep
            results = run("tokenize", write_part, [(p, keep[starts[k]:starts[k + 1]]) for k, p in enumerate(parts)])
            stages.finish("write", [r["shards"] for r in results])
        manifest.shards = [ShardInfo(**s) for shards in stages.done["write"] for s in shards]
        manifest.documents = sum(s.documents for s in manifest.shards)
        manifest.tokens = sum(s.tokens for s in manifest.shards)
        with _files.open_write(_files.join(out, MANIFEST_NAME)) as f:
            f.write(manifest.to_json().encode())
        names.detach()
        _files.remove_tree(work)
        return report
    finally:
        if runner is not None:
            runner.close()
        for made in (scratch, spill):
            if made is not None:
                made.close()
