"""Deduplication quality: MinHash LSH against brute-force Jaccard over the same shingles, and exact
duplicates through the builder."""

from __future__ import annotations

import json

import numpy as np
import pytest

from fs3.dataloader import MinHashParams, build_shards
from fs3.dataloader._minhash import MinHasher, candidate_pairs, optimal_bands
from fs3.dataloader._text import content_hash, jaccard, normalize, shingles


def planted_corpus(seed: int = 0):
    """Random-word documents, a third of them with 1-3 lightly edited copies (true near duplicates) and
    some heavily edited ones (which are not)."""
    rng = np.random.default_rng(seed)
    vocab = [f"w{i}" for i in range(4000)]
    docs = []
    for _ in range(240):
        base = list(rng.choice(vocab, rng.integers(150, 400)))
        docs.append(base)
        if rng.random() < 0.35:
            for _ in range(rng.integers(1, 4)):
                edited = list(base)
                edits = rng.integers(0, max(2, len(base) // 60))  # up to ~1.7% of the words
                for pos in rng.integers(0, len(edited), edits):
                    edited[pos] = rng.choice(vocab)
                docs.append(edited)
        elif rng.random() < 0.2:
            edited = list(base)
            for pos in rng.integers(0, len(edited), len(edited) // 6):
                edited[pos] = rng.choice(vocab)
            docs.append(edited)
    order = rng.permutation(len(docs))
    return [" ".join(docs[i]) for i in order]


def test_lsh_precision_and_recall_against_brute_force_jaccard():
    texts = planted_corpus()
    params = MinHashParams().resolved()  # defaults: 5-word shingles, 128 permutations, threshold 0.8
    assert params.shingle_size == 5 and params.threshold == 0.8
    sets = [shingles(t, params.shingle_size) for t in texts]
    hasher = MinHasher(params)
    sigs = np.stack([hasher.signature(s) for s in sets])
    truth = {(i, j) for i in range(len(sets)) for j in range(i + 1, len(sets))
             if jaccard(sets[i], sets[j]) >= params.threshold}
    found = candidate_pairs(sigs, params)
    assert len(truth) >= 80  # the corpus really has planted pairs
    hits = len(truth & found)
    precision, recall = hits / len(found), hits / len(truth)
    print(f"pairs: true {len(truth)}, found {len(found)}, precision {precision:.3f}, recall {recall:.3f}")
    assert recall >= 0.9
    assert precision >= 0.95


def test_band_choice_follows_the_threshold():
    b_hi, r_hi = optimal_bands(0.9, 128)
    b_lo, r_lo = optimal_bands(0.5, 128)
    assert r_hi > r_lo and b_hi < b_lo
    assert b_hi * r_hi <= 128 and b_lo * r_lo <= 128


def test_signature_estimates_jaccard():
    a = shingles(" ".join(f"t{i}" for i in range(400)))
    b = shingles(" ".join(f"t{i}" for i in range(100, 500)))
    h = MinHasher(MinHashParams(num_perm=512).resolved())
    est = float(np.mean(h.signature(a) == h.signature(b)))
    assert abs(est - jaccard(a, b)) < 0.07


def test_normalization_and_exact_key():
    assert normalize("a\r\nb\rc\x00d  \n\n") == "a\nb\ncd"
    assert content_hash("Hello,   World") == content_hash("hello world")
    assert content_hash("hello world") != content_hash("hello word")


def test_builder_removes_every_exact_duplicate_and_keeps_the_first(tmp_path):
    rng = np.random.default_rng(1)
    uniques = [" ".join(rng.choice([f"x{i}" for i in range(3000)], 80)) for _ in range(60)]
    rows = []
    for k, text in enumerate(uniques):
        rows.append({"id": k, "text": text})
        if k % 3 == 0:  # copies differing only in case and spacing
            rows.append({"id": 1000 + k, "text": "  " + text.upper().replace(" ", "\t ")})
            rows.append({"id": 2000 + k, "text": text})
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    report = build_shards([str(src)], str(tmp_path / "out"), processes=1, near_dedup=False)
    stats = report.manifest.dedup["stats"]
    assert stats["exact_duplicates_removed"] == 40
    assert stats["documents_kept"] == 60
    kept = [report.names[i] for i in np.nonzero(report.dedup.keep)[0]]
    assert all(int(n.rsplit(":", 1)[1]) == [i for i, r in enumerate(rows, 1) if r["id"] < 1000][j]
               for j, n in enumerate(kept))


def test_dedup_scope_per_input(tmp_path):
    text = "the same document in two inputs " * 20
    for name in ("a", "b"):
        (tmp_path / f"{name}.txt").write_text(text)
    glob = build_shards([str(tmp_path / "a.txt"), str(tmp_path / "b.txt")], None, dry_run=True, processes=1)
    per = build_shards([str(tmp_path / "a.txt"), str(tmp_path / "b.txt")], None, dry_run=True, processes=1,
                       dedup_scope="input")
    assert glob.manifest.dedup["stats"]["documents_kept"] == 1
    assert per.manifest.dedup["stats"]["documents_kept"] == 2


@pytest.mark.parametrize("processes", [1, 2])
def test_near_duplicates_in_real_code_are_clustered(tmp_path, processes):
    import sysconfig
    from pathlib import Path
    enc = Path(sysconfig.get_paths()["stdlib"]) / "encodings"
    report = build_shards([str(enc)], None, pattern="cp*.py", dry_run=True, processes=processes)
    clusters = report.duplicate_clusters()
    assert report.manifest.dedup["stats"]["near_duplicates_removed"] >= 5
    together = [{Path(n).name for n in [c["kept"], *c["removed"]]} for c in clusters]
    # single-byte code pages generated from one template
    assert any({"cp037.py", "cp500.py"} <= c for c in together)
    assert any({"cp437.py", "cp865.py"} <= c for c in together)
