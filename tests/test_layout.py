from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from fs3._layout import chain_of, slices


def test_slices_cross_chunk_boundaries():
    got = slices(100, 300, 128)
    assert [(s.index, s.chunk_offset, s.length, s.buffer_offset) for s in got] == [
        (0, 100, 28, 0), (1, 0, 128, 28), (2, 0, 128, 156), (3, 0, 16, 284),
    ]


@given(st.integers(0, 10_000), st.integers(0, 5_000), st.sampled_from([1, 7, 64, 4096]))
def test_slices_cover_range_exactly(offset, length, chunk):
    got = slices(offset, length, chunk)
    assert sum(s.length for s in got) == length
    pos = 0
    for s in got:
        assert s.buffer_offset == pos
        assert s.index * chunk + s.chunk_offset == offset + pos
        assert 0 < s.length and s.chunk_offset + s.length <= chunk
        pos += s.length


def test_chain_of_stripes():
    assert [chain_of([7, 8, 9], 3, i) for i in range(5)] == [7, 8, 9, 7, 8]
