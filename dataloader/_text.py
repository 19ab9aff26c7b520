"""Text normalization and word shingles, shared by the builder and the dedup tests."""

from __future__ import annotations

import hashlib
import re
import unicodedata

import numpy as np

NORMALIZATION = "NFC; CRLF/CR to LF; NUL and other C0 controls except TAB/LF removed; trailing blanks stripped"
DEDUP_KEY = "lowercase; words are runs of \\w characters; hashed words joined by one space"

_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_TRAILING = re.compile(r"[ \t]+$", re.MULTILINE)
_WORD = re.compile(r"\w+")

_MIX = np.uint64(0x9E3779B97F4A7C15)
_P = 0x100000001B3  # odd, so invertible mod 2^64
_P_INVERSE = np.uint64(pow(_P, -1, 1 << 64))
_P = np.uint64(_P)
_SLICE = 1 << 14  # words hashed together


def normalize(text: str) -> str:
    """The text a document is stored as: same meaning, one spelling of line ends and composed characters.
    NUL never survives, so token 0 of the byte-level tokenizer can mark a document's end."""
    text = unicodedata.normalize("NFC", text)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _CONTROLS.sub("", text)
    return _TRAILING.sub("", text).strip("\n")


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def content_hash(text: str) -> bytes:
    """128-bit hash of a document's words (case and spacing do not matter): the exact-dedup key."""
    return _content_hash(words(text))


def shingles(text: str, size: int = 5) -> np.ndarray:
    """Sorted unique 64-bit ids of the document's ``size``-word shingles (one shingle of all its words
    when it has fewer; none when it has no words). 64 bits, so that two different shingles of a corpus
    practically never share an id and the Jaccard similarity of two id sets is that of the shingles."""
    return _shingles(words(text), size)


def fingerprint(text: str, size: int = 5) -> tuple[bytes, np.ndarray]:
    """``content_hash`` and ``shingles`` of a document, its words found once."""
    ws = words(text)
    return _content_hash(ws), _shingles(ws, size)


def _content_hash(ws: list[str]) -> bytes:
    return hashlib.blake2b(" ".join(ws).encode(), digest_size=16).digest()


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64's finalizer: every input bit moves about half the output bits."""
    with np.errstate(over="ignore"):
        x = x ^ (x >> np.uint64(30))
        x = x * np.uint64(0xBF58476D1CE4E5B9)
        x = x ^ (x >> np.uint64(27))
        x = x * np.uint64(0x94D049BB133111EB)
        return x ^ (x >> np.uint64(31))


def word_ids(ws: list[str]) -> np.ndarray:
    """A 64-bit id per word: the polynomial hash ``sum(byte_k * P^(k+1))`` of its UTF-8 bytes and a
    terminator, mixed; computed from prefix sums over many words at once (a Python loop over words cost
    as much as the rest of the hashing), in slices so that memory stays a small multiple of the text."""
    return np.concatenate([_word_ids(ws[i:i + _SLICE]) for i in range(0, len(ws), _SLICE)] or
                          [np.empty(0, dtype=np.uint64)])


def _word_ids(ws: list[str]) -> np.ndarray:
    data = np.frombuffer(("\n".join(ws) + "\n").encode(), dtype=np.uint8)  # \w never matches \n
    ends = np.flatnonzero(data == 10)
    starts = np.zeros(len(ends), dtype=np.int64)
    starts[1:] = ends[:-1] + 1
    with np.errstate(over="ignore"):  # arithmetic mod 2^64
        powers = np.cumprod(np.full(len(data), _P, dtype=np.uint64))            # P^1 .. P^n
        prefix = np.cumsum(data * powers)
        del powers
        inverse = np.cumprod(np.full(len(data), _P_INVERSE, dtype=np.uint64))   # P^-1 .. P^-n
        scale = np.ones(len(ends), dtype=np.uint64)
        scale[1:] = inverse[starts[1:] - 1]                                     # P^-start
        del inverse
        before = np.zeros(len(ends), dtype=np.uint64)
        before[1:] = prefix[starts[1:] - 1]
        return _mix((prefix[ends] - before) * scale)


def _shingles(ws: list[str], size: int) -> np.ndarray:
    if not ws:
        return np.empty(0, dtype=np.uint64)
    h = word_ids(ws)
    k = min(size, len(h))
    n = len(h) - k + 1
    acc = np.zeros(n, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for j in range(k):
            acc = acc * _MIX + h[j:j + n] + np.uint64(j + 1)
    return np.unique(_mix(acc))


def jaccard(a: np.ndarray, b: np.ndarray) -> float:
    """Exact Jaccard similarity of two shingle-id sets (sorted unique arrays); two empty sets are equal."""
    if len(a) == 0 and len(b) == 0:
        return 1.0
    inter = len(np.intersect1d(a, b, assume_unique=True))
    return inter / (len(a) + len(b) - inter)
