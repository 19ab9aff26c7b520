"""A build's coordinating process keeps numbers, not Python objects, per document: inputs are read in
pieces, names are (file, place) pairs made when asked, signatures go to disk band by band. Measured with
tracemalloc (allocations, not time): the peak grows by about a hundred bytes per document (it was about
1.9 KB before: every name, hash, signature and input file's bytes were held at once)."""

from __future__ import annotations

import gzip
import json
import random
import tracemalloc

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from fs3.dataloader import build_shards
from fs3.dataloader._minhash import MinHasher, MinHashParams, band_buckets
from fs3.dataloader._spill import SignatureSpill


def _corpus(path, n: int, seed: int = 0) -> None:
    rnd = random.Random(seed)
    words = [f"w{i}" for i in range(5000)]
    with open(path, "w") as f:
        for _ in range(n):
            f.write(json.dumps({"text": " ".join(rnd.choice(words) for _ in range(40))}) + "\n")


def _peak(inputs, out) -> int:
    tracemalloc.start()
    try:
        build_shards(inputs, str(out), processes=1)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_the_coordinators_memory_grows_by_numbers_not_objects_per_document(tmp_path):
    small, large = tmp_path / "small.jsonl", tmp_path / "large.jsonl"
    _corpus(small, 4000)
    _corpus(large, 16000)
    per_document = (_peak([str(large)], tmp_path / "out-large") - _peak([str(small)], tmp_path / "out-small")) / 12000
    assert per_document < 400, f"{per_document:.0f} bytes more per document"


def test_spilled_signatures_give_the_buckets_of_the_same_signatures_in_memory(tmp_path):
    params = MinHashParams(num_perm=64, threshold=0.5).resolved()
    hasher = MinHasher(params)
    rng = np.random.default_rng(3)
    base = [rng.integers(0, 1 << 40, 50) for _ in range(40)]
    sets = base + [np.r_[s[:45], rng.integers(0, 1 << 40, 5)] for s in base[:20]] + [np.zeros(0, np.int64)]
    sigs = np.stack([hasher.signature(s) for s in sets])
    spill = SignatureSpill(params, where=str(tmp_path))
    try:
        for start in range(0, len(sigs), 7):  # arriving in batches, as from worker processes
            spill.append(sigs[start:start + 7])
        banded = params.bands * params.rows
        assert np.array_equal(spill.rows_of(np.arange(len(sigs))), sigs[:, :banded])
        for b in range(params.bands):
            assert np.array_equal(spill.band(b), sigs[:, b * params.rows:(b + 1) * params.rows])
        live = np.arange(len(sigs) - 1)  # the last document has no shingles
        got, want = band_buckets(spill, params, live=live), band_buckets(sigs, params)
        assert np.array_equal(got.offsets, want.offsets) and np.array_equal(got.members, want.members)
        assert len(got) >= 20
    finally:
        spill.close()
    assert not list(tmp_path.iterdir()), "the spill's files were left behind"


def test_inputs_read_in_pieces_name_their_documents_as_before(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    with open(src / "a.jsonl", "w") as f:
        f.write(json.dumps({"text": "alpha beta gamma"}) + "\n\n" + json.dumps({"text": "delta"}) + "\n")
    with gzip.open(src / "b.jsonl.gz", "wt") as f:
        f.write(json.dumps({"text": "epsilon zeta"}) + "\n")
    pq.write_table(pa.table({"text": [f"row {i} words here" for i in range(2500)]}), src / "c.parquet",
                   row_group_size=700)
    (src / "d.txt").write_text("a plain text file")
    report = build_shards([str(src)], str(tmp_path / "out"), processes=1, near_dedup=False)
    names = list(report.names)
    assert names[:4] == ["in/a.jsonl:1", "in/a.jsonl:3", "in/b.jsonl.gz:1", "in/c.parquet#0"]
    assert names[-2:] == ["in/c.parquet#2499", "in/d.txt"]
    assert len(report.names) == 2 + 1 + 2500 + 1
    assert report.names[5:7] == ["in/c.parquet#2", "in/c.parquet#3"]
