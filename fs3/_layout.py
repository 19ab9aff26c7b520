"""Chunk placement: which chunk, on which chain, holds which bytes of a file. Pure functions, no I/O."""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_CHUNK_SIZE = 1 << 20   # 1 MiB
MIN_CHUNK_SIZE = 1 << 12       # 4 KiB
MAX_CHUNK_SIZE = 1 << 26       # 64 MiB
DEFAULT_STRIPE = 8


@dataclass(frozen=True)
class ChunkSlice:
    """``length`` bytes at ``chunk_offset`` of chunk ``index``; they belong at ``buffer_offset`` of the
    caller's buffer."""

    index: int
    chunk_offset: int
    length: int
    buffer_offset: int


def slices(offset: int, length: int, chunk_size: int) -> list[ChunkSlice]:
    """Split the file range ``[offset, offset + length)`` into per-chunk pieces, in file order."""
    out: list[ChunkSlice] = []
    pos, end = offset, offset + length
    while pos < end:
        index, chunk_offset = divmod(pos, chunk_size)
        n = min(chunk_size - chunk_offset, end - pos)
        out.append(ChunkSlice(index, chunk_offset, n, pos - offset))
        pos += n
    return out


def chain_of(chains, stripe: int, index: int) -> int:
    """The chain holding chunk ``index`` of a file striped over ``chains[:stripe]``."""
    return chains[index % stripe]


def valid_chunk_size(size: int) -> bool:
    return MIN_CHUNK_SIZE <= size <= MAX_CHUNK_SIZE and size & (size - 1) == 0
