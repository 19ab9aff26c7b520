from __future__ import annotations

import pytest
from _shards import write_counting_shards


@pytest.fixture
def counting_shards(tmp_path):
    def make(tokens: int = 20_000, shards: int = 3, name: str = "set", doc_len: int = 37) -> str:
        return write_counting_shards(tmp_path / name, tokens, shards, doc_len)
    return make
