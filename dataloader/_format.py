"""The shard format: Megatron-LM's indexed dataset (``.bin`` tokens + ``.idx`` document index) and a JSON
manifest per shard set. See docs/shards.md.

``.idx`` layout (little-endian), as Megatron's ``MMapIndexedDataset`` writes it::

    b"MMIDIDX\\x00\\x00"   magic
    u64  version (1)
    u8   dtype code
    u64  sequence count  S
    u64  document count  D (= S + 1 here: one sequence per document)
    i32  sequence lengths [S]   (tokens)
    i64  sequence pointers[S]   (byte offsets into .bin)
    i64  document indices [D]   (0, 1, ..., S)
"""

from __future__ import annotations

import hashlib
import json
import struct
from dataclasses import asdict, dataclass, field

import numpy as np

from fs3._errors import ChecksumMismatch, InvalidArgument, NotFound

from . import _files
from ._tokenize import ByteTokenizer, HFTokenizer

MAGIC = b"MMIDIDX\x00\x00"
INDEX_VERSION = 1
MANIFEST_NAME = "manifest.json"
FORMAT = "fs3-token-shards"
FORMAT_VERSION = 1

# Megatron's dtype codes.
DTYPE_CODES = {1: np.uint8, 2: np.int8, 3: np.int16, 4: np.int32, 5: np.int64, 6: np.float64,
               7: np.float32, 8: np.uint16}
CODE_OF = {np.dtype(v).name: k for k, v in DTYPE_CODES.items()}


def fitting_dtype(vocab_size: int) -> np.dtype:
    """The smallest unsigned-or-int32 dtype that holds every token id below ``vocab_size``."""
    if vocab_size <= 1 << 8:
        return np.dtype(np.uint8)
    if vocab_size <= 1 << 16:
        return np.dtype(np.uint16)
    if vocab_size <= 1 << 31:
        return np.dtype(np.int32)
    raise InvalidArgument(f"vocabulary of {vocab_size} tokens does not fit any shard dtype")


def encode_index(dtype: np.dtype, lengths: np.ndarray) -> bytes:
    """The ``.idx`` bytes for documents of ``lengths`` tokens stored back to back."""
    dtype = np.dtype(dtype)
    lengths = np.asarray(lengths, dtype=np.int32)
    pointers = np.zeros(len(lengths), dtype=np.int64)
    if len(lengths):
        np.cumsum(lengths[:-1].astype(np.int64) * dtype.itemsize, out=pointers[1:])
    docs = np.arange(len(lengths) + 1, dtype=np.int64)
    head = MAGIC + struct.pack("<Q", INDEX_VERSION) + struct.pack("<B", CODE_OF[dtype.name])
    head += struct.pack("<Q", len(lengths)) + struct.pack("<Q", len(docs))
    return head + lengths.tobytes() + pointers.tobytes() + docs.tobytes()


@dataclass
class ShardIndex:
    dtype: np.dtype
    lengths: np.ndarray    # int32 tokens per sequence
    pointers: np.ndarray   # int64 byte offset per sequence
    documents: np.ndarray  # int64 document boundaries in sequences


def decode_index(data: bytes) -> ShardIndex:
    """Parse ``.idx`` bytes; raises ``InvalidArgument`` naming what is wrong."""
    if data[:9] != MAGIC:
        raise InvalidArgument("not a Megatron indexed-dataset index (bad magic)")
    if len(data) < 34:
        raise InvalidArgument("truncated index header")
    (version,) = struct.unpack_from("<Q", data, 9)
    if version != INDEX_VERSION:
        raise InvalidArgument(f"unsupported index version {version}")
    code = data[17]
    if code not in DTYPE_CODES:
        raise InvalidArgument(f"unknown dtype code {code}")
    seqs, docs = struct.unpack_from("<QQ", data, 18)
    need = 34 + seqs * 12 + docs * 8
    if len(data) < need:
        raise InvalidArgument(f"truncated index: {len(data)} bytes, header promises {need}")
    off = 34
    lengths = np.frombuffer(data, np.int32, seqs, off)
    off += seqs * 4
    pointers = np.frombuffer(data, np.int64, seqs, off)
    off += seqs * 8
    documents = np.frombuffer(data, np.int64, docs, off)
    return ShardIndex(np.dtype(DTYPE_CODES[code]), lengths, pointers, documents)


@dataclass
class ShardInfo:
    name: str          # file stem: NAME.bin, NAME.idx
    documents: int
    tokens: int
    bin_crc32c: int
    idx_crc32c: int


@dataclass
class Manifest:
    """What a shard set holds and how it was made; ``manifest.json`` beside the shards."""

    dtype: str
    vocab_size: int
    eod_id: int
    tokenizer: dict
    documents: int = 0
    tokens: int = 0
    shards: list[ShardInfo] = field(default_factory=list)
    normalization: str = ""
    dedup: dict = field(default_factory=dict)
    inputs: list[str] = field(default_factory=list)
    created: str = ""
    format: str = FORMAT
    version: int = FORMAT_VERSION

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=False) + "\n"

    @classmethod
    def from_json(cls, text: str | bytes) -> Manifest:
        try:
            raw = json.loads(text)
        except ValueError as e:
            raise InvalidArgument(f"shard manifest is not valid JSON: {e}") from None
        if not isinstance(raw, dict) or raw.get("format") != FORMAT:
            raise InvalidArgument(f"not an fs3 shard manifest (format must be {FORMAT!r})")
        if raw.get("version") != FORMAT_VERSION:
            raise InvalidArgument(f"unsupported shard manifest version {raw.get('version')!r}")
        try:
            raw["shards"] = [ShardInfo(**s) for s in raw.get("shards", [])]
            m = cls(**raw)
        except TypeError as e:
            raise InvalidArgument(f"malformed shard manifest: {e}") from None
        np.dtype(m.dtype)
        return m

    @property
    def np_dtype(self) -> np.dtype:
        return np.dtype(self.dtype)


def read_manifest(url: str) -> Manifest:
    """The manifest of the shard set at ``url`` (a local directory or ``fs3://`` URL)."""
    return Manifest.from_json(_files.read_bytes(_files.join(url, MANIFEST_NAME)))


def _tokenizer_file(url: str, manifest: Manifest) -> bytes | None:
    """The bytes of the set's tokenizer file, checked against the manifest; None for a tokenizer
    without a file (byte-level, or a kind fs3 does not know)."""
    spec = manifest.tokenizer if isinstance(manifest.tokenizer, dict) else {}
    if spec.get("kind") != "huggingface":
        return None
    name, digest = spec.get("file"), spec.get("sha256")
    if not isinstance(name, str) or not isinstance(digest, str):
        raise InvalidArgument(f"shard set {url}: its manifest names a Hugging Face tokenizer without a file "
                              "and SHA-256 (rebuild the shard set)")
    if not name or "/" in name or "\\" in name or name in (".", ".."):
        raise InvalidArgument(f"shard set {url}: tokenizer file {name!r} is not a plain file name")
    try:
        data = _files.read_bytes(_files.join(url, name))
    except FileNotFoundError:
        raise NotFound(f"shard set {url} has no {name}, the tokenizer its manifest names (SHA-256 "
                       f"{digest[:12]}...); sets built before tokenizers were stored need a rebuild") from None
    actual = hashlib.sha256(data).hexdigest()
    if actual != digest:
        raise ChecksumMismatch(f"shard set {url}: {name} has SHA-256 {actual[:12]}..., its manifest says "
                               f"{digest[:12]}...: the tokenizer was changed after the build")
    return data


def verify_tokenizer(url: str, manifest: Manifest | None = None) -> str:
    """Check the tokenizer of the shard set at ``url`` and return its fingerprint, to compare on resume.
    A Hugging Face tokenizer must be there (``tokenizer.json`` beside the manifest) with the manifest's
    SHA-256 (``NotFound``, ``ChecksumMismatch`` otherwise); the fingerprint is that SHA-256. A tokenizer
    without a file (byte-level) is fingerprinted by the SHA-256 of its manifest entry."""
    manifest = manifest or read_manifest(url)
    data = _tokenizer_file(url, manifest)
    if data is not None:
        return hashlib.sha256(data).hexdigest()
    return hashlib.sha256(json.dumps(manifest.tokenizer, sort_keys=True).encode()).hexdigest()


def load_tokenizer(url: str, manifest: Manifest | None = None) -> ByteTokenizer | HFTokenizer:
    """The tokenizer the shard set at ``url`` was built with, verified as ``verify_tokenizer`` does;
    ``InvalidArgument`` for a kind fs3 cannot load or a manifest that disagrees with the file."""
    manifest = manifest or read_manifest(url)
    spec = manifest.tokenizer if isinstance(manifest.tokenizer, dict) else {}
    data = _tokenizer_file(url, manifest)
    if data is not None:
        tok = HFTokenizer(data.decode("utf-8", errors="strict"), eod_token=spec.get("eod_token"),
                          name=f"{url}/{spec['file']}")
    elif spec.get("kind") == "bytes":
        tok = ByteTokenizer()
    else:
        raise InvalidArgument(f"shard set {url}: fs3 cannot load a tokenizer of kind {spec.get('kind')!r}")
    if (tok.vocab_size, tok.eod_id) != (manifest.vocab_size, manifest.eod_id):
        raise InvalidArgument(f"shard set {url}: the tokenizer has vocabulary {tok.vocab_size} and end of "
                              f"document {tok.eod_id}, the manifest says {manifest.vocab_size} and {manifest.eod_id}")
    return tok
