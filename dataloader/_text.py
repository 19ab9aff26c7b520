"""Text normalization and word shingles, shared by the builder and the dedup tests."""

from __future__ import annotations

import hashlib
import re
import unicodedata
import zlib

import numpy as np

NORMALIZATION = "NFC; CRLF/CR to LF; NUL and other C0 controls except TAB/LF removed; trailing blanks stripped"
DEDUP_KEY = "lowercase; words are runs of \\w characters; hashed words joined by one space"

_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_TRAILING = re.compile(r"[ \t]+$", re.MULTILINE)
_WORD = re.compile(r"\w+")

_MIX = np.uint64(0x9E3779B97F4A7C15)


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
    return hashlib.blake2b(" ".join(words(text)).encode(), digest_size=16).digest()


def shingles(text: str, size: int = 5) -> np.ndarray:
    """Sorted unique 32-bit ids of the document's ``size``-word shingles (one shingle of all its words
    when it has fewer; none when it has no words)."""
    ws = words(text)
    if not ws:
        return np.empty(0, dtype=np.uint64)
    h = np.fromiter((zlib.crc32(w.encode()) for w in ws), dtype=np.uint64, count=len(ws))
    k = min(size, len(h))
    n = len(h) - k + 1
    acc = np.zeros(n, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for j in range(k):
            acc = acc * _MIX + h[j:j + n] + np.uint64(j + 1)
        acc ^= acc >> np.uint64(31)
        acc *= np.uint64(0xBF58476D1CE4E5B9)
        acc ^= acc >> np.uint64(29)
    return np.unique(acc & np.uint64(0xFFFFFFFF))


def jaccard(a: np.ndarray, b: np.ndarray) -> float:
    """Exact Jaccard similarity of two shingle-id sets (sorted unique arrays)."""
    if len(a) == 0 and len(b) == 0:
        return 1.0
    inter = len(np.intersect1d(a, b, assume_unique=True))
    return inter / (len(a) + len(b) - inter)
