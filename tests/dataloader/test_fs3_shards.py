"""Shards built on a real cluster with the CLI from inputs that live on fs3, read back by Megatron's
index layout, and streamed by TokenDataset/TokenLoader from fs3 exactly as from a local copy (the
TokenLoader tests need PyTorch; the rest run without it)."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from fs3._checksum import crc32c
from fs3.dataloader import Manifest, TokenDataset, TokenLoader
from fs3.dataloader._format import decode_index
from fs3.dataloader._text import normalize


def fs3(cluster, *args, check=True):
    proc = subprocess.run([sys.executable, "-m", "fs3", "--cluster", str(cluster.data_dir), *args],
                          capture_output=True, timeout=300)
    if check and proc.returncode != 0:
        raise AssertionError(f"fs3 {' '.join(args)} failed:\n{proc.stderr.decode()}")
    return proc


@pytest.fixture(scope="module")
def corpus(cluster, client):
    """Inputs on fs3: JSONL, Parquet and a directory of text files, with planted duplicates."""
    rng = np.random.default_rng(3)
    words = [f"word{i}" for i in range(2000)]
    texts = [" ".join(rng.choice(words, rng.integers(50, 300))) + "\n" for _ in range(120)]
    near = texts[5].split()
    near[10] = "changed"
    docs_jsonl = texts[:60] + [texts[0], texts[1].upper(), " ".join(near)]  # 2 exact + 1 near duplicate
    client.mkdir("/inputs/text", parents=True)
    client.write("/inputs/a.jsonl", "".join(json.dumps({"text": t, "n": i}) + "\n"
                                            for i, t in enumerate(docs_jsonl)).encode())
    buf = io.BytesIO()
    pq.write_table(pa.table({"content": texts[60:100] + [texts[61]]}), buf)
    client.write("/inputs/b.parquet", buf.getvalue())
    for i, t in enumerate(texts[100:]):
        client.write(f"/inputs/text/doc{i:03d}.txt", t.encode())
    client.write("/inputs/text/dup.txt", texts[100].encode())
    return texts


@pytest.fixture(scope="module")
def built(cluster, corpus):
    out = fs3(cluster, "shards", "build", "fs3:///inputs/a.jsonl", "fs3:///inputs/text", "--out",
              "fs3:///datasets/t", "--shard-tokens", "20000", "--json", "-j", "2")
    first = json.loads(out.stdout)
    out = fs3(cluster, "shards", "build", "fs3:///inputs/b.parquet", "--text-field", "content", "--out",
              "fs3:///datasets/p", "--json")
    return first, json.loads(out.stdout)


def test_build_reports_and_removes_duplicates(built):
    report, parquet = built
    stats = report["stats"]
    assert stats["documents_in"] == 63 + 21
    assert stats["exact_duplicates_removed"] == 3   # texts[0], texts[1] upper-cased, dup.txt
    assert stats["near_duplicates_removed"] == 1    # one word changed
    assert stats["documents_kept"] == 80
    assert report["shards"] > 1
    assert parquet["stats"]["exact_duplicates_removed"] == 1 and parquet["stats"]["documents_kept"] == 40


def test_shards_are_megatron_indexed_datasets_with_checksums(client, corpus, built):
    m = Manifest.from_json(client.read("/datasets/t/manifest.json"))
    assert m.dtype == "uint8" and m.vocab_size == 256 and m.eod_id == 0
    decoded = []
    for s in m.shards:
        data, idx = client.read(f"/datasets/t/{s.name}.bin"), client.read(f"/datasets/t/{s.name}.idx")
        assert crc32c(data) == s.bin_crc32c and crc32c(idx) == s.idx_crc32c
        index = decode_index(idx)
        assert index.dtype == np.uint8 and len(index.lengths) == s.documents
        assert index.lengths.sum() == s.tokens == len(data)
        assert list(index.documents) == list(range(s.documents + 1))
        for length, ptr in zip(index.lengths, index.pointers, strict=True):
            doc = data[ptr:ptr + length]
            assert doc[-1] == 0  # end of document
            decoded.append(doc[:-1].decode())
    kept = corpus[:60] + [corpus[100 + i] for i in range(20)]
    assert decoded == [normalize(t) for t in kept]
    assert m.documents == 80 and m.tokens == sum(len(t.encode()) for t in decoded) + 80


def test_fs3_info_command(cluster, built):
    out = fs3(cluster, "shards", "info", "fs3:///datasets/t")
    assert b"80 documents" in out.stdout
    raw = json.loads(fs3(cluster, "shards", "info", "--json", "fs3:///datasets/t").stdout)
    assert raw["format"] == "fs3-token-shards" and raw["dedup"]["stats"]["documents_kept"] == 80


@pytest.mark.needs_torch
@pytest.mark.parametrize("workers", [0, 1, 2])
def test_loader_from_fs3_equals_a_local_copy(client, cluster, built, tmp_path, workers):
    import torch

    local = tmp_path / "copy"
    local.mkdir()
    for name in client.ls("/datasets/t"):
        (local / name).write_bytes(client.read(f"/datasets/t/{name}"))
    os.environ["FS3_CLUSTER"] = str(cluster.data_dir)
    try:
        remote = TokenDataset("fs3:///datasets/t", seq_len=64, batch_size=4, seed=11, shuffle_block=3)
        copy = TokenDataset(str(local), seq_len=64, batch_size=4, seed=11, shuffle_block=3, reader="memmap")
        a = [b.clone() for b in TokenLoader(remote, num_workers=workers)]
        b = [b.clone() for b in TokenLoader(copy, num_workers=workers)]
    finally:
        os.environ.pop("FS3_CLUSTER", None)
    assert len(a) == len(b) == len(remote) // 4 + (len(remote) % 4 > 0)
    assert all(torch.equal(x, y) for x, y in zip(a, b, strict=True))
    assert a[0].dtype == torch.int64 and a[0].shape == (4, 65)


@pytest.mark.needs_torch
def test_mixing_two_sets_on_fs3(cluster, built):
    os.environ["FS3_CLUSTER"] = str(cluster.data_dir)
    try:
        ds = TokenDataset({"fs3:///datasets/t": 3, "fs3:///datasets/p": 1}, seq_len=32, batch_size=8, seed=1)
        batches = list(TokenLoader(ds, num_workers=0))
    finally:
        os.environ.pop("FS3_CLUSTER", None)
    assert sum(len(b) for b in batches) == ds.mixture.epoch_length


def test_user_mistakes_get_one_clear_line(cluster, built):
    def one_line(proc, needle):
        err = proc.stderr.decode()
        assert proc.returncode == 1 and "Traceback" not in err and len(err.strip().splitlines()) == 1, err
        assert needle in err, err
    one_line(fs3(cluster, "shards", "build", "fs3:///inputs/a.jsonl", "--out", "fs3:///datasets/t", check=False),
             "--overwrite")
    one_line(fs3(cluster, "shards", "build", "fs3:///inputs/b.parquet", "--out", "fs3:///datasets/x",
                 check=False), "--text-field")
    one_line(fs3(cluster, "shards", "build", "fs3:///inputs/nope", "--dry-run", check=False), "No such file")
    one_line(fs3(cluster, "shards", "info", "fs3:///inputs", check=False), "No such file")
    one_line(fs3(cluster, "shards", "build", "fs3:///inputs/a.jsonl", "--out", "fs3:///datasets/y",
                 "--threshold", "1.5", check=False), "threshold")


def test_hugging_face_tokenizer(tmp_path):
    tokenizers = pytest.importorskip("tokenizers")
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    from fs3.dataloader import build_shards
    tok = Tokenizer(models.BPE(unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.train_from_iterator(["the quick brown fox jumps over the lazy dog"] * 50,
                            trainers.BpeTrainer(vocab_size=300, special_tokens=["[UNK]", "<|endoftext|>"]))
    path = tmp_path / "tokenizer.json"
    tok.save(str(path))
    (tmp_path / "in.txt").write_text("the quick brown fox")
    report = build_shards([str(tmp_path / "in.txt")], str(tmp_path / "out"), tokenizer=str(path), processes=1,
                          near_dedup=False)
    m = report.manifest
    assert m.tokenizer["kind"] == "huggingface" and m.eod_id == tok.token_to_id("<|endoftext|>")
    assert m.vocab_size == tok.get_vocab_size()
    assert m.dtype == ("uint8" if m.vocab_size <= 256 else "uint16")
    data = np.fromfile(tmp_path / "out" / "shard-00000-00000.bin", dtype=m.dtype)
    assert data[-1] == m.eod_id
    assert tok.decode(data[:-1].tolist()) == "the quick brown fox"
    assert tokenizers is not None



def test_ray_workers_read_and_write_fs3_themselves(cluster, client, corpus):
    # each Ray task opens the inputs on fs3 and writes its part's shards there with the caller's FS3_*
    # settings; the result is the local engine's, byte for byte
    pytest.importorskip("ray")
    common = ["shards", "build", "fs3:///inputs/a.jsonl", "fs3:///inputs/text", "--part-size", "4K", "-j", "2",
              "--json"]
    local = json.loads(fs3(cluster, *common, "--out", "fs3:///datasets/by-local").stdout)
    ray = json.loads(fs3(cluster, *common, "--out", "fs3:///datasets/by-ray", "--engine", "ray").stdout)
    assert ray["stats"] == local["stats"] and ray["shards"] == local["shards"] > 2  # several parts
    ml = json.loads(client.read("/datasets/by-local/manifest.json"))
    mr = json.loads(client.read("/datasets/by-ray/manifest.json"))
    ml.pop("created"), mr.pop("created")
    assert ml == mr
    for s in ml["shards"]:
        for ext in (".bin", ".idx"):
            assert client.read(f"/datasets/by-ray/{s['name']}{ext}") == client.read(f"/datasets/by-local/{s['name']}{ext}")
    assert not client.exists("/datasets/by-ray/.fs3-build")
