"""Deduplication quality: near dedup (MinHash LSH candidates confirmed by exact Jaccard) against a
brute-force exact-Jaccard reference on a real corpus, its rules on hand-made cases, and exact duplicates
through the builder."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest

from fs3.dataloader import MinHashParams, build_shards
from fs3.dataloader._build_tasks import save_arrays
from fs3.dataloader._dedup import (
    Clusters,
    DedupResult,
    NearDedup,
    candidate_components,
    clusters_of_pairs,
    deduplicate,
    exact_duplicates,
    group_components,
)
from fs3.dataloader._minhash import EMPTY, Buckets, MinHasher, band_buckets, optimal_bands
from fs3.dataloader._partitions import LiveBuckets, SpilledGroups
from fs3.dataloader._text import content_hash, jaccard, normalize, shingles, word_ids

DOCS = Path("/usr/share/doc")


def copyright_files(limit: int = 64 << 10) -> list[str]:
    """The Debian copyright files of the installed packages up to ``limit`` bytes, by path: one license
    text under many packages' headers, the same upstream's file in several binary packages, GPL/BSD
    boilerplate with names changed. (Slim Debian images keep them when they drop the rest of the docs.)"""
    paths = sorted(p for p in DOCS.glob("*/copyright") if p.is_file() and p.stat().st_size <= limit)
    return [p.read_bytes().decode("utf-8", errors="replace") for p in paths]


def revise(text: str, donor: str, rng) -> str:
    """A realistic revision of ``text``: words changed here and there (names, years, typos), a run of
    lines cut, a passage of another document pasted in, or the header rewritten. Strengths are spread
    so that revisions land on both sides of the threshold, many of them close to it."""
    lines = text.split("\n")
    strength = rng.uniform(0.0, 0.25)
    op = rng.integers(4)
    if op == 0:
        lines = [" ".join(w[::-1] + "x" if w and rng.random() < strength / 4 else w for w in line.split(" "))
                 for line in lines]
    elif op == 1:
        n = int(len(lines) * strength)
        at = rng.integers(0, max(1, len(lines) - n))
        lines = lines[:at] + lines[at + n:]
    elif op == 2:
        other = donor.split("\n")
        n = min(len(other), max(1, int(len(lines) * strength)))
        at, start = rng.integers(0, len(lines) + 1), rng.integers(0, len(other) - n + 1)
        lines = lines[:at] + other[start:start + n] + lines[at:]
    else:
        cut = max(1, int(len(lines) * strength))
        lines = [f"Package p{rng.integers(1000)}, copyright {rng.integers(1990, 2027)} someone else",
                 *lines[cut:], "Modified by the packager."]
    return "\n".join(lines)


def revised_corpus(seed: int = 17) -> list[str]:
    """The copyright files, then for half of them 1-3 revisions (each of the file or of the revision
    before it: chains), all shuffled so a revision may come before its source."""
    base = copyright_files()
    rng = np.random.default_rng(seed)
    docs = list(base)
    for k in rng.permutation(len(base))[:len(base) // 2]:
        source = base[k]
        for _ in range(rng.integers(1, 4)):
            revision = revise(source, base[rng.integers(len(base))], rng)
            docs.append(revision)
            if rng.random() < 0.5:
                source = revision
    return [docs[i] for i in rng.permutation(len(docs))]


def similar_pairs(sets: list[np.ndarray], threshold: float) -> dict[int, list[int]]:
    """Brute force: for every document, the documents with exact Jaccard >= threshold. Every pair is
    compared in full except those whose sizes alone rule it out (J <= min size / max size)."""
    sizes = np.array([len(s) for s in sets])
    order = np.argsort(sizes, kind="stable")
    bounds = np.searchsorted(sizes[order], sizes[order] / threshold, side="right")
    out: dict[int, list[int]] = {}
    for a, i in enumerate(order):
        for j in order[a + 1:bounds[a]]:
            if sizes[i] and jaccard(sets[i], sets[j]) >= threshold:
                out.setdefault(int(i), []).append(int(j))
                out.setdefault(int(j), []).append(int(i))
    return out


def reference_removals(similar: dict[int, list[int]], live: np.ndarray) -> np.ndarray:
    """What near dedup should remove: in input order, a live document goes when a kept one before it
    reaches the threshold with it."""
    keep = live.copy()
    for i in np.nonzero(live)[0]:
        if any(j < i and keep[j] for j in similar.get(int(i), ())):
            keep[i] = False
    return live & ~keep


def test_near_dedup_precision_and_recall_on_revised_debian_copyright_files(tmp_path):
    docs = revised_corpus()
    if len(docs) < 300:
        pytest.skip(f"only {len(docs)} documents from {DOCS}/*/copyright (a real corpus needs more)")
    src = tmp_path / "copyright.jsonl"
    src.write_text("".join(json.dumps({"text": t}) + "\n" for t in docs))
    t0 = time.monotonic()
    report = build_shards([str(src)], None, dry_run=True, processes=1)
    seconds = time.monotonic() - t0
    two = build_shards([str(src)], None, dry_run=True, processes=2)
    assert np.array_equal(report.dedup.keep, two.dedup.keep)  # whatever the number of processes
    assert report.dedup.clusters == two.dedup.clusters

    texts = [normalize(t) for t in docs]
    first: dict[bytes, int] = {}
    live = np.array([bool(t) and first.setdefault(content_hash(t), i) == i for i, t in enumerate(texts)])
    similar = similar_pairs([shingles(t, 5) for t in texts], 0.8)
    truth = reference_removals(similar, live)
    removed = live & ~report.dedup.keep  # what near dedup removed (exact copies were never live)
    assert report.dedup.near_removed == removed.sum()
    hits = int((removed & truth).sum())
    precision, recall = hits / max(1, removed.sum()), hits / max(1, truth.sum())
    kept = report.dedup.keep
    unjustified = [i for i in np.nonzero(removed)[0] if not any(kept[j] for j in similar.get(int(i), ()))]
    d = report.dedup
    print(f"\n{len(docs)} documents, {int(live.sum())} after exact dedup, {d.near_candidates} LSH candidates, "
          f"{d.comparisons} exact comparisons ({d.capped} capped); near duplicates: reference "
          f"{int(truth.sum())}, removed {int(removed.sum())}; precision {precision:.4f}, recall {recall:.4f}; "
          f"dry run {seconds:.1f} s")
    assert truth.sum() >= 200  # the corpus really has near duplicates
    assert not unjustified  # every removal has a kept partner at the threshold
    assert precision >= 0.98
    assert recall >= 0.95


def _components_by_union_find(buckets) -> dict[int, int]:
    parent: dict[int, int] = {}

    def find(x: int) -> int:
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for k in range(len(buckets)):
        members = buckets.members[buckets.offsets[k]:buckets.offsets[k + 1]].tolist()
        for m in members[1:]:
            parent[find(m)] = find(members[0])
    return {m: find(m) for m in parent}


def component_groups(buckets: Buckets, target: int) -> list[tuple[np.ndarray, Buckets]]:
    """The reference the build's spilled groups are held to: the candidates cut into groups of whole
    components (``group_components``) in memory, per group its candidates (ascending) and its buckets
    (members as document ids, in the order of ``buckets``)."""
    members, label = candidate_components(buckets)
    group = group_components(label, target)
    if not len(members):
        return []
    bucket_group = group[np.searchsorted(members, buckets.members[buckets.offsets[:-1]])]
    sizes = np.diff(buckets.offsets)
    member_group = np.repeat(bucket_group, sizes)
    out = []
    for k in range(int(group.max()) + 1):
        sel = bucket_group == k
        offsets = np.zeros(int(sel.sum()) + 1, dtype=np.int64)
        np.cumsum(sizes[sel], out=offsets[1:])
        out.append((members[group == k], Buckets(offsets, buckets.members[member_group == k])))
    return out



@pytest.mark.parametrize("target", [1, 7, 10**9])
def test_components_judged_apart_decide_as_the_whole_corpus_in_order(target, tmp_path):
    """The build judges whole components of the candidate graph in separate workers: the same documents
    must go, with the same kept partners, as when every candidate is judged in one pass."""
    docs = revised_corpus(seed=5)
    texts = [normalize(t) for t in docs]
    params = MinHashParams().resolved()
    hasher = MinHasher(params)
    sets = [shingles(t, params.shingle_size) for t in texts]
    sigs = np.stack([hasher.signature(s) for s in sets])
    hashes = [content_hash(t) for t in texts]
    whole = deduplicate(hashes, sigs, [0] * len(docs), params, sets)
    assert whole.near_removed >= 100  # the corpus really has near duplicates

    exact = exact_duplicates(hashes, [0] * len(docs))
    live = np.nonzero(exact.keep & ~np.all(sigs == EMPTY, axis=1))[0]
    buckets = band_buckets(sigs, params, np.zeros(len(docs), np.int64), live=live)
    members, label = candidate_components(buckets)
    reference = _components_by_union_find(buckets)
    same = {}  # our labels and union-find's roots name the same partition of the candidates
    for m, lab in zip(members.tolist(), label.tolist(), strict=True):
        assert same.setdefault(lab, reference[m]) == reference[m]
    assert len(set(same.values())) == len(same)

    groups = component_groups(buckets, target)
    assert np.array_equal(np.sort(np.concatenate([d for d, _ in groups])), members)
    # the build's way: buckets in files (here three, of every document with shingles, the exact
    # duplicates dropped as they are read), groups spilled to files of their own
    every = np.nonzero(~np.all(sigs == EMPTY, axis=1))[0]
    all_buckets = band_buckets(sigs, params, np.zeros(len(docs), np.int64), live=every)
    urls = []
    for j, part in enumerate(np.array_split(np.arange(len(all_buckets)), 3)):
        lo, hi = int(all_buckets.offsets[part[0]]), int(all_buckets.offsets[part[-1] + 1])
        urls.append(str(tmp_path / f"buckets-{j}.npz"))
        save_arrays(urls[-1], sizes=np.diff(all_buckets.offsets[part[0]:part[-1] + 2]),
                    members=all_buckets.members[lo:hi])
    spilled = SpilledGroups(LiveBuckets(urls, exact.keep), target, str(tmp_path))
    assert len(spilled) == len(groups)
    for g, (docs_of_group, sub) in enumerate(groups):
        d, b = spilled[g]
        assert np.array_equal(d, docs_of_group)
        assert np.array_equal(b.offsets, sub.offsets) and np.array_equal(b.members, sub.members)
    if target == 1:
        assert len(groups) == len(same)  # one component a group
    kept, removed, comparisons = [], [], 0
    for docs_of_group, sub in groups:
        result = DedupResult(np.ones(0, dtype=bool))
        near = NearDedup(result, sigs, params, buckets=sub)
        for d in docs_of_group.tolist():
            near.offer(d, sets[d])
        k, r = near.removals()
        kept.append(k)
        removed.append(r)
        comparisons += result.comparisons
    kept, removed = np.concatenate(kept), np.concatenate(removed)
    order = np.lexsort((removed, kept))
    keep = exact.keep.copy()
    keep[removed] = False
    assert np.array_equal(keep, whole.keep)
    near = Clusters()
    near.add("near", *clusters_of_pairs(kept[order], removed[order]))
    assert near == [c for c in whole.clusters if c[0] == "near"]
    assert comparisons == whole.comparisons


def test_a_chain_of_near_duplicates_removes_only_what_has_a_kept_partner():
    """A ~ B and B ~ C but not A ~ C: B goes (A is kept), C stays: B was removed, so it cannot stand for
    C (union-find put all three in one cluster and removed C too)."""
    words = [f"w{i}" for i in range(400)]
    a = words[:200]
    b = words[15:215]
    c = words[30:230]
    texts = [" ".join(x) for x in (a, b, c)]
    sets = [shingles(t) for t in texts]
    assert jaccard(sets[0], sets[1]) >= 0.8 and jaccard(sets[1], sets[2]) >= 0.8
    assert jaccard(sets[0], sets[2]) < 0.8
    sigs = np.zeros((3, 128), dtype=np.uint32)  # identical signatures: every pair is a candidate
    result = deduplicate([content_hash(t) for t in texts], sigs, [0, 0, 0], MinHashParams(), sets)
    assert list(result.keep) == [True, False, True]
    assert result.clusters == [("near", [0, 1])] and result.comparisons == 2  # C is not compared with B


def test_candidates_are_confirmed_by_exact_jaccard_not_the_estimate():
    sets = [shingles(" ".join(f"x{i}" for i in range(k, k + 100))) for k in (0, 50, 1000)]
    sigs = np.zeros((3, 128), dtype=np.uint32)  # the estimate says 1.0 for every pair
    result = deduplicate([bytes([i]) for i in range(3)], sigs, [0, 0, 0], MinHashParams(), sets)
    assert result.keep.all() and result.near_candidates == 3 and result.near_removed == 0


@pytest.mark.parametrize("target", [37, 90])
def test_a_large_family_is_compared_likeliest_first_and_at_most_64_times(target):
    """100 distinct documents in one bucket, then a copy of one of them. With MinHash agreement to
    rank them its original is compared first; when agreement cannot tell (all equal), the earliest 64
    kept partners are compared and an original beyond them is missed: the documented bound."""
    k = 100
    sets = [np.arange(i * 1000, i * 1000 + 100, dtype=np.uint64) for i in range(k)]
    sets.append(sets[target].copy())
    sigs = np.random.default_rng(9).integers(0, 1 << 32, (k + 1, 128), dtype=np.uint64).astype(np.uint32)
    sigs[:, :6] = 0  # one shared band: every document is every other's candidate
    ranked = target == 37
    if ranked:
        sigs[k] = sigs[target]
    else:
        sigs[:, 6:] = 0
    result = deduplicate([bytes([i]) for i in range(k + 1)], sigs, [0] * (k + 1), MinHashParams(), sets)
    assert result.keep[:k].all()
    assert result.capped == (k - 1 - 64) + 1  # documents 65..99, then the copy
    if ranked:
        assert result.clusters == [("near", [target, k])]
        assert result.comparisons == sum(min(i, 64) for i in range(k)) + 1
    else:
        assert result.keep[k] and result.near_removed == 0


def test_shingle_sets_are_held_only_for_kept_candidates_until_their_last_partner():
    rng = np.random.default_rng(5)
    base = [" ".join(rng.choice([f"v{i}" for i in range(5000)], 300)) for _ in range(40)]
    texts = []
    for t in base:  # each followed by a copy with two words changed
        w = t.split()
        w[100] = w[200] = "changed"
        texts += [t, " ".join(w)]
    params = MinHashParams().resolved()
    hasher = MinHasher(params)
    sets = [shingles(t) for t in texts]
    sigs = np.stack([hasher.signature(s) for s in sets])
    result = exact_duplicates([content_hash(t) for t in texts], [0] * len(texts))
    near = NearDedup(result, sigs, params, [0] * len(texts))
    held = []
    for doc in np.nonzero(near.candidates)[0]:
        near.offer(int(doc), sets[doc])
        held.append(len(near._sets))
    near.finish()
    assert near.candidates.sum() == 80 and result.near_removed == 40
    assert max(held) <= 2  # pairs sit next to each other: one kept set at a time, dropped after its copy
    assert not near._sets
    with pytest.raises(ValueError):
        near.offer(0, sets[0])


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


def test_word_ids_depend_on_the_word_alone():
    vocab = ["a", "b", "ab", "ba", "héllo", "x" * 300, "日本語", "a1", "1a"]
    ids = {w: int(word_ids([w])[0]) for w in vocab}
    assert len(set(ids.values())) == len(vocab)
    rng = np.random.default_rng(2)
    ws = [vocab[i] for i in rng.integers(0, len(vocab), 3 * (1 << 14) + 5)]  # across hashing slices
    assert [int(x) for x in word_ids(ws)] == [ids[w] for w in ws]
    assert len(word_ids([])) == 0 and len(shingles("")) == 0
    assert shingles("one two three").tolist() == shingles("One, two; THREE!").tolist()


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
