"""A build's coordinating process keeps numbers, not Python objects, per document: inputs are read in
pieces, names are (file, place) pairs made when asked, signatures stay on disk and are read a band at a
time. Measured with
tracemalloc (allocations, not time): the peak grows by about a hundred bytes per document (it was about
1.9 KB before: every name, hash, signature and input file's bytes were held at once)."""

from __future__ import annotations

import gzip
import json
import random
import tracemalloc

import pyarrow as pa
import pyarrow.parquet as pq

from fs3.dataloader import build_shards


def _corpus(path, n: int, seed: int = 0) -> None:
    rnd = random.Random(seed)
    words = [f"w{i}" for i in range(5000)]
    with open(path, "w") as f:
        for _ in range(n):
            f.write(json.dumps({"text": " ".join(rnd.choice(words) for _ in range(40))}) + "\n")


def _peak(inputs, out) -> int:
    tracemalloc.start()
    try:
        build_shards(inputs, str(out), processes=2)  # the coordinator; its workers hash and write
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_the_coordinators_memory_grows_by_numbers_not_objects_per_document(tmp_path):
    small, large = tmp_path / "small.jsonl", tmp_path / "large.jsonl"
    _corpus(small, 4000)
    _corpus(large, 16000)
    per_document = (_peak([str(large)], tmp_path / "out-large") - _peak([str(small)], tmp_path / "out-small")) / 12000
    assert per_document < 400, f"{per_document:.0f} bytes more per document"


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
