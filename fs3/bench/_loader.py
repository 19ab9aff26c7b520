"""`fs3 bench loader`: tokens/s of shuffled samples streamed from fs3 by ``TokenDataset``, beside a
local ``numpy.memmap`` reader of the same ``.bin`` files in the same sample order, through the same
loader with the same workers, measured in the same run; the time the workers take to deliver their first
batch; and the time to the first batch of a shard set of many shards.

Each round reads one epoch's prefix on fs3 and on the memmap copy back to back, in alternating order (a
side that runs right after another one's teardown, or after a cache drop, runs faster or slower on a
small machine), and the ratio reported is the median of the rounds' ratios. A second local copy, read
with its page cache dropped before each round, is a reference for reads from the disk (a copy of its
own: pages another reader maps cannot be dropped).

With workers, each side keeps one ``TokenLoader`` with persistent workers for the whole run, as a
training job does across epochs: the workers start once (timed apart), not once per round."""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from fs3._checksum import crc32c
from fs3.dataloader import MANIFEST_NAME, Manifest, ShardInfo, encode_index
from fs3.dataloader import files as _files


@dataclass
class LoaderResult:
    seq_len: int
    batch_size: int
    workers: int
    tokens: int
    shuffle_block: int = 0                  # samples per shuffle block (0: the dataset's default)
    fs3_tokens_per_s: float = 0.0
    memmap_tokens_per_s: float = 0.0       # page cache warm: a copy from memory
    memmap_cold_tokens_per_s: float = 0.0  # page cache dropped before each round: reads from the disk
    ratio: float = 0.0                      # median of the rounds' fs3 / memmap (warm) ratios
    ratio_cold: float = 0.0                 # the same against the cold copy: a reference, not a target
    round_ratios: list[float] = field(default_factory=list)
    workers_first_batch_s: float = 0.0     # workers started, connected and delivered their first batch
    first_batch_s: float = 0.0
    first_batch_shards: int = 0
    first_batch_documents: int = 0
    notes: list[str] = field(default_factory=list)


def write_synthetic(out: str, *, shards: int, docs_per_shard: int, doc_tokens: int, vocab: int, seed: int,
                    local_copy: Path | None = None) -> Manifest:
    """A shard set of random tokens (the content does not matter to a reader), written to ``out`` and
    optionally to a local directory as well."""
    rng = np.random.default_rng(seed)
    dtype = np.dtype(np.uint16)
    _files.make_dirs(out)
    if local_copy is not None:
        local_copy.mkdir(parents=True, exist_ok=True)
    bases = [out] + ([str(local_copy)] if local_copy is not None else [])
    infos = []
    for k in range(shards):
        lengths = np.full(docs_per_shard, doc_tokens, dtype=np.int32)
        data = rng.integers(0, vocab, int(lengths.sum()), dtype=np.uint16).tobytes()
        idx = encode_index(dtype, lengths)
        name = f"shard-{k:05d}"
        for base in bases:
            for suffix, blob in ((".bin", data), (".idx", idx)):
                with _files.open_write(_files.join(base, name + suffix)) as f:
                    f.write(blob)
        infos.append(ShardInfo(name, docs_per_shard, int(lengths.sum()), crc32c(data), crc32c(idx)))
    m = Manifest(dtype=dtype.name, vocab_size=vocab, eod_id=0, tokenizer={"kind": "synthetic"},
                 documents=shards * docs_per_shard, tokens=sum(i.tokens for i in infos), shards=infos,
                 created=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
    for base in bases:
        with _files.open_write(_files.join(base, MANIFEST_NAME)) as f:
            f.write(m.to_json().encode())
    return m


def _drop_cache(root: Path) -> None:
    """Evict a local shard set from the page cache, as a set larger than memory would be."""
    for f in root.glob("*.bin"):
        fd = os.open(f, os.O_RDONLY)
        try:
            os.fsync(fd)  # dirty pages cannot be dropped
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


class _Side:
    """One reader (fs3, or the local memmap copy) with its loader, kept for every round of the run."""

    def __init__(self, src: str, reader: str, *, seq_len: int, batch_size: int, workers: int, shuffle_block):
        from fs3.dataloader import TokenDataset, torch_available

        self.dataset = TokenDataset(src, seq_len=seq_len, batch_size=batch_size, seed=1, reader=reader,
                                    shuffle_block=shuffle_block)
        self.loader = self.dataset
        if torch_available():
            from fs3.dataloader import TokenLoader
            self.loader = TokenLoader(self.dataset, num_workers=workers, persistent_workers=workers > 0)
        self.tokens, self.seconds = 0, 0.0
        self.round_rates: list[float] = []

    def stream(self, epoch: int, samples: int, *, count: bool = True) -> float:
        """Read ``samples`` samples of ``epoch`` (the same samples in the same order on either side);
        returns the seconds to the first batch."""
        self.dataset.set_epoch(epoch)
        t = time.perf_counter()
        first = 0.0
        tokens = 0
        it = iter(self.loader)
        for batch in it:
            if not tokens:
                first = time.perf_counter() - t
            tokens += int(np.prod(batch.shape))
            if tokens >= samples * (self.dataset.seq_len + 1):
                break
        took = time.perf_counter() - t  # delivered; winding down the abandoned prefetch is not
        del it
        if count:
            self.tokens, self.seconds = self.tokens + tokens, self.seconds + took
            self.round_rates.append(tokens / took if took else 0.0)
        return first

    @property
    def rate(self) -> float:
        return self.tokens / self.seconds if self.seconds else 0.0


def run(*, total_tokens: int, seq_len: int, batch_size: int, workers: int, rounds: int,
        ttfb_shards: int, ttfb_docs: int, shuffle_block: int | None = None, say=lambda m: None) -> LoaderResult:
    from fs3.dataloader import TokenDataset

    res = LoaderResult(seq_len, batch_size, workers, total_tokens, shuffle_block or 0)
    tmp = Path(tempfile.mkdtemp(prefix="fs3-bench-loader-"))
    url = "fs3:///.bench/loader"
    local = tmp / "local"
    try:
        if _files.exists(url):
            _files.remove_tree(url)
        say(f"writing {total_tokens:,} tokens (uint16) to {url} and a local copy")
        shards, doc_tokens = 8, 1000
        docs = max(1, total_tokens // (shards * doc_tokens))
        write_synthetic(url, shards=shards, docs_per_shard=docs, doc_tokens=doc_tokens, vocab=50_000, seed=1,
                        local_copy=local)
        cold_copy = tmp / "cold"
        shutil.copytree(local, cold_copy)
        os.sync()  # the local copies' write-back must not land in a timed round
        per_round = max(batch_size, (total_tokens // (seq_len + 1)) // 2)
        kw = dict(seq_len=seq_len, batch_size=batch_size, workers=workers, shuffle_block=shuffle_block)
        fs3_side, mm_side = _Side(url, "batched", **kw), _Side(str(local), "memmap", **kw)
        # Untimed warm-up of both: the workers start (timed apart), and fs3's client connects to the
        # cluster and maps its shared region, once per process, as a training job does before its first step.
        res.workers_first_batch_s = fs3_side.stream(rounds, max(batch_size, per_round // 4), count=False)
        mm_side.stream(rounds, max(batch_size, per_round // 4), count=False)
        cold = _Side(str(cold_copy), "memmap", **kw)
        for r in range(rounds):  # same epoch on every side: the same samples in the same order
            _drop_cache(cold_copy)
            cold.stream(r, per_round)
            pair = (fs3_side, mm_side) if r % 2 == 0 else (mm_side, fs3_side)
            for side in pair:
                side.stream(r, per_round)
            res.round_ratios.append(fs3_side.round_rates[-1] / mm_side.round_rates[-1])
            say(f"round {r + 1}/{rounds}: fs3 {fs3_side.round_rates[-1] / 1e6:.1f}M tokens/s, memmap "
                f"{mm_side.round_rates[-1] / 1e6:.1f}M warm ({'after' if r % 2 == 0 else 'before'} fs3), "
                f"{cold.round_rates[-1] / 1e6:.1f}M cold: ratio {res.round_ratios[-1]:.2f}x")
        res.fs3_tokens_per_s = fs3_side.rate
        res.memmap_tokens_per_s = mm_side.rate
        res.memmap_cold_tokens_per_s = cold.rate
        res.ratio = float(np.median(res.round_ratios))
        res.ratio_cold = float(np.median(np.asarray(fs3_side.round_rates) / np.asarray(cold.round_rates)))
        del fs3_side, mm_side, cold  # their workers end here
        _files.remove_tree(url)

        if ttfb_shards:
            many = "fs3:///.bench/loader-many"
            if _files.exists(many):
                _files.remove_tree(many)
            say(f"writing {ttfb_shards} shards of {ttfb_docs:,} documents for the first-batch timing")
            write_synthetic(many, shards=ttfb_shards, docs_per_shard=ttfb_docs, doc_tokens=64, vocab=50_000,
                            seed=2)
            t = time.perf_counter()  # from opening the shard set (manifest, shard stats) to a first batch
            ds = TokenDataset(many, seq_len=seq_len, batch_size=batch_size, seed=0)
            next(iter(ds))
            res.first_batch_s = time.perf_counter() - t
            res.first_batch_shards, res.first_batch_documents = ttfb_shards, ttfb_docs
            _files.remove_tree(many)
        return res
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        for left in (url, "fs3:///.bench/loader-many"):  # a run stopped midway leaves no shard set in fs3
            try:
                if _files.exists(left):
                    _files.remove_tree(left)
            except OSError:
                pass
