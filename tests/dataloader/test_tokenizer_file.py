"""The tokenizer travels with its shard set: a Hugging Face tokenizer is copied beside the manifest with
its SHA-256 in it, and ``verify_tokenizer``/``load_tokenizer`` refuse a set whose tokenizer is missing,
changed or named outside the set. On fs3 the file is changed and removed by other processes (the
``fs3`` command line), as a colleague or a careless copy would."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys

import numpy as np
import pytest

from fs3._errors import ChecksumMismatch, InvalidArgument, NotFound
from fs3.dataloader import build_shards
from fs3.dataloader._format import MANIFEST_NAME, load_tokenizer, read_manifest, verify_tokenizer
from fs3.dataloader._tokenize import ByteTokenizer

pytest.importorskip("tokenizers")


def train(path, text: str, vocab: int = 300) -> str:
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE(unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.train_from_iterator([text] * 50, trainers.BpeTrainer(vocab_size=vocab,
                                                             special_tokens=["[UNK]", "<|endoftext|>"]))
    tok.save(str(path))
    return str(path)


@pytest.fixture
def hf_set(tmp_path):
    tok = train(tmp_path / "my-tok.json", "the quick brown fox jumps over the lazy dog")
    (tmp_path / "in.txt").write_text("the quick brown fox")
    out = tmp_path / "set"
    build_shards([str(tmp_path / "in.txt")], str(out), tokenizer=tok, processes=1, near_dedup=False)
    return out, tok


def test_the_tokenizer_file_is_stored_with_its_checksum(hf_set):
    out, source = hf_set
    stored = (out / "tokenizer.json").read_bytes()
    original = open(source, "rb").read()
    assert stored == original
    spec = read_manifest(str(out)).tokenizer
    assert spec["file"] == "tokenizer.json" and spec["source"] == "my-tok.json"
    assert spec["sha256"] == hashlib.sha256(original).hexdigest()
    assert verify_tokenizer(str(out)) == spec["sha256"]
    tok = load_tokenizer(str(out))
    data = np.fromfile(out / "shard-00000-00000.bin", dtype=read_manifest(str(out)).dtype)
    assert list(tok.encode("the quick brown fox")) == list(data[:-1])
    assert data[-1] == tok.eod_id


def test_a_changed_tokenizer_is_refused(hf_set, tmp_path):
    out, _ = hf_set
    other = train(tmp_path / "other.json", "lorem ipsum dolor sit amet consectetur")
    (out / "tokenizer.json").write_bytes(open(other, "rb").read())
    for check in (verify_tokenizer, load_tokenizer):
        with pytest.raises(ChecksumMismatch, match="changed after the build"):
            check(str(out))
    (out / "tokenizer.json").write_bytes(open(other, "rb").read()[:-1])  # one byte short
    with pytest.raises(ChecksumMismatch):
        verify_tokenizer(str(out))


def test_a_missing_tokenizer_is_refused(hf_set):
    out, _ = hf_set
    (out / "tokenizer.json").unlink()
    with pytest.raises(NotFound, match="has no tokenizer.json"):
        verify_tokenizer(str(out))


@pytest.mark.parametrize("name", ["../my-tok.json", "/etc/passwd", "..", ""])
def test_a_manifest_cannot_point_outside_its_set(hf_set, name):
    out, _ = hf_set
    raw = json.loads((out / MANIFEST_NAME).read_text())
    raw["tokenizer"]["file"] = name
    (out / MANIFEST_NAME).write_text(json.dumps(raw))
    with pytest.raises(InvalidArgument, match="not a plain file name"):
        verify_tokenizer(str(out))


def test_a_set_built_before_tokenizers_were_stored(hf_set):
    out, _ = hf_set
    raw = json.loads((out / MANIFEST_NAME).read_text())
    raw["tokenizer"]["file"] = "my-tok.json"  # what older builds recorded: the source's name, no copy
    (out / MANIFEST_NAME).write_text(json.dumps(raw))
    with pytest.raises(NotFound, match="need a rebuild"):
        load_tokenizer(str(out))
    del raw["tokenizer"]["sha256"]
    (out / MANIFEST_NAME).write_text(json.dumps(raw))
    with pytest.raises(InvalidArgument, match="without a file and SHA-256"):
        verify_tokenizer(str(out))


def test_byte_level_sets_have_no_file_and_a_stable_fingerprint(tmp_path):
    (tmp_path / "in.txt").write_text("plain bytes")
    a, b = tmp_path / "a", tmp_path / "b"
    for out in (a, b):
        build_shards([str(tmp_path / "in.txt")], str(out), processes=1, near_dedup=False)
    assert not (a / "tokenizer.json").exists()
    assert verify_tokenizer(str(a)) == verify_tokenizer(str(b))
    assert isinstance(load_tokenizer(str(a)), ByteTokenizer)
    raw = json.loads((a / MANIFEST_NAME).read_text())
    raw["tokenizer"]["eod_id"] = 1
    (a / MANIFEST_NAME).write_text(json.dumps(raw))
    assert verify_tokenizer(str(a)) != verify_tokenizer(str(b))
    raw["tokenizer"] = {"kind": "synthetic"}
    (a / MANIFEST_NAME).write_text(json.dumps(raw))
    verify_tokenizer(str(a))  # fingerprinted, though fs3 cannot load it
    with pytest.raises(InvalidArgument, match="cannot load a tokenizer of kind 'synthetic'"):
        load_tokenizer(str(a))


def test_on_fs3_a_tokenizer_replaced_or_removed_by_another_process_is_refused(cluster, client, tmp_path):
    tok = train(tmp_path / "tok.json", "the quick brown fox jumps over the lazy dog")
    other = train(tmp_path / "other.json", "lorem ipsum dolor sit amet consectetur")
    client.mkdir("/tokin", parents=True)
    client.write("/tokin/a.txt", b"the quick brown fox")

    def fs3(*args):
        proc = subprocess.run([sys.executable, "-m", "fs3", "--cluster", str(cluster.data_dir), *args],
                              capture_output=True, timeout=300)
        assert proc.returncode == 0, proc.stderr.decode()

    fs3("shards", "build", "fs3:///tokin/a.txt", "--out", "fs3:///tokset", "--tokenizer", tok, "--no-near")
    url = f"fs3://{cluster.meta[0]}/tokset"
    assert client.read("/tokset/tokenizer.json") == open(tok, "rb").read()
    assert verify_tokenizer(url) == hashlib.sha256(open(tok, "rb").read()).hexdigest()
    assert load_tokenizer(url).vocab_size == read_manifest(url).vocab_size
    fs3("cp", other, "fs3:///tokset/tokenizer.json")
    with pytest.raises(ChecksumMismatch):
        verify_tokenizer(url)
    fs3("rm", "fs3:///tokset/tokenizer.json")
    with pytest.raises(NotFound):
        load_tokenizer(url)


def test_shards_info_shows_the_tokenizer_file_and_fails_when_it_was_changed(hf_set, tmp_path):
    out, _ = hf_set

    def info():
        return subprocess.run([sys.executable, "-m", "fs3", "shards", "info", str(out)], capture_output=True,
                              text=True, timeout=120)

    digest = read_manifest(str(out)).tokenizer["sha256"]
    shown = info()
    assert shown.returncode == 0, shown.stderr
    assert f"file tokenizer.json (from my-tok.json), SHA-256 {digest[:12]}" in shown.stdout
    assert "tokenizer file: verified" in shown.stdout
    other = train(tmp_path / "other.json", "lorem ipsum dolor sit amet consectetur")
    (out / "tokenizer.json").write_bytes(open(other, "rb").read())
    shown = info()
    assert shown.returncode == 1 and "verified" not in shown.stdout
    assert "tokenizer check failed" in shown.stderr and "changed after the build" in shown.stderr
    assert "Traceback" not in shown.stderr
    assert "documents" in shown.stdout  # the rest of what the set holds is still shown
