"""Tokenizers for the shard builder: byte-level by default (UTF-8 bytes, vocabulary 256, end of document
= 0, which normalized text never contains), or a Hugging Face ``tokenizer.json``."""

from __future__ import annotations

import hashlib

import numpy as np

from fs3._errors import InvalidArgument

EOD_CANDIDATES = ("<|endoftext|>", "</s>", "<eos>", "<|end_of_text|>", "[SEP]", "<eod>")
FILE_NAME = "tokenizer.json"  # a Hugging Face tokenizer's copy in the shard set, beside the manifest


class ByteTokenizer:
    vocab_size = 256
    eod_id = 0

    def spec(self) -> dict:
        return {"kind": "bytes", "vocab_size": 256, "eod_id": 0}

    def encode(self, text: str) -> np.ndarray:
        return np.frombuffer(text.encode("utf-8"), dtype=np.uint8)

    def decode(self, ids) -> str:
        return bytes(np.asarray(ids, dtype=np.uint8)).decode("utf-8", errors="replace")


class HFTokenizer:
    """A Hugging Face ``tokenizers`` JSON file (``pip install 'fs3[tokenizers]'``)."""

    def __init__(self, json_text: str, *, eod_token: str | None = None, name: str = "tokenizer.json"):
        try:
            from tokenizers import Tokenizer
        except ImportError:
            raise InvalidArgument("a tokenizer.json needs the `tokenizers` package: "
                                  "pip install 'fs3[tokenizers]'") from None
        try:
            self._tok = Tokenizer.from_str(json_text)
        except Exception as e:  # the library raises its own exception types for malformed files
            raise InvalidArgument(f"{name} is not a valid Hugging Face tokenizer: {e}") from None
        self._json = json_text
        self.name = name
        self.vocab_size = self._tok.get_vocab_size(with_added_tokens=True)
        vocab = self._tok.get_vocab(with_added_tokens=True)
        if eod_token is None:
            eod_token = next((t for t in EOD_CANDIDATES if t in vocab), None)
            if eod_token is None:
                raise InvalidArgument(f"{name} has none of the usual end-of-document tokens "
                                      f"({', '.join(EOD_CANDIDATES)}); name one with --eod-token")
        if eod_token not in vocab:
            raise InvalidArgument(f"end-of-document token {eod_token!r} is not in {name}'s vocabulary")
        self.eod_token = eod_token
        self.eod_id = vocab[eod_token]

    def __reduce__(self):
        return (HFTokenizer, (self._json,), {"eod_token": self.eod_token, "name": self.name})

    def __setstate__(self, state):  # rebuilt by __init__ with the default EOD; restore the chosen one
        self.__init__(self._json, eod_token=state["eod_token"], name=state["name"])

    @property
    def data(self) -> bytes:
        """The file's bytes, as stored in the shard set."""
        return self._json.encode()

    def spec(self) -> dict:
        """``file``: the copy in the shard set; ``source``: the name it was built from."""
        return {"kind": "huggingface", "file": FILE_NAME, "source": self.name, "vocab_size": self.vocab_size,
                "eod_token": self.eod_token, "eod_id": self.eod_id,
                "sha256": hashlib.sha256(self.data).hexdigest()}

    def encode(self, text: str) -> np.ndarray:
        return np.asarray(self._tok.encode(text, add_special_tokens=False).ids, dtype=np.int64)

    def decode(self, ids) -> str:
        return self._tok.decode([int(i) for i in ids], skip_special_tokens=False)
