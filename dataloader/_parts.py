"""A build's inputs cut into parts: the unit of work a worker takes (hash, shingle, tokenize and write).

Consecutive small files share a part until it reaches ``part_size`` bytes; a large uncompressed JSONL file
is cut at byte offsets (a line belongs to the piece its first byte lies in), a large Parquet file at row
groups; a compressed file is one piece. Parts depend on the inputs and ``part_size`` alone, never on the
number of workers or the engine, so neither changes the output."""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from dataclasses import asdict, dataclass

from . import _files
from ._inputs import WHOLE, InputFile, _json_text, _parquet_batches

PART_SIZE = 64 << 20


@dataclass(frozen=True)
class Piece:
    file: int   # index into the build's files
    start: int  # JSONL: first byte; Parquet: first row group; else 0
    end: int    # JSONL: end byte (exclusive); Parquet: end row group; -1: to the end of the file


@dataclass(frozen=True)
class Part:
    number: int
    pieces: tuple[Piece, ...]
    size: int   # input bytes, for progress

    def to_json(self) -> dict:
        return {"number": self.number, "size": self.size, "pieces": [asdict(p) for p in self.pieces]}

    @classmethod
    def from_json(cls, d: dict) -> Part:
        return cls(d["number"], tuple(Piece(**p) for p in d["pieces"]), d["size"])


def _parquet_groups(url: str) -> list[int]:
    """Bytes of each row group of a Parquet file (from its footer)."""
    import pyarrow.parquet as pq

    with _files.open_read(url) as f:
        meta = pq.ParquetFile(f).metadata
        return [meta.row_group(g).total_byte_size for g in range(meta.num_row_groups)]


def plan_parts(files: list[InputFile], part_size: int = PART_SIZE) -> list[Part]:
    parts: list[Part] = []
    pieces: list[Piece] = []
    size = 0

    def close() -> None:
        nonlocal pieces, size
        if pieces:
            parts.append(Part(len(parts), tuple(pieces), size))
            pieces, size = [], 0

    for number, f in enumerate(files):
        length = _files.file_size(f.url)
        splittable = not f.url.lower().endswith(".gz") and f.kind in ("jsonl", "parquet")
        if not splittable or length <= part_size:
            pieces.append(Piece(number, 0, -1))
            size += length
            if size >= part_size:
                close()
            continue
        close()
        if f.kind == "jsonl":
            for start in range(0, length, part_size):
                parts.append(Part(len(parts), (Piece(number, start, min(length, start + part_size)),),
                                  min(length, start + part_size) - start))
        else:
            groups = _parquet_groups(f.url)
            first, acc = 0, 0
            for g, nbytes in enumerate(groups):
                acc += nbytes
                if acc >= part_size or g == len(groups) - 1:
                    parts.append(Part(len(parts), (Piece(number, first, g + 1),), acc))
                    first, acc = g + 1, 0
    close()
    return parts


def part_documents(files: list[InputFile], part: Part, text_field: str,
                   lines: list[int] | None = None) -> Iterator[tuple[int, int, str]]:
    """(piece index within the part, place, raw text) of every document of ``part``, in order. The place
    of a JSONL document is its line number counted from the piece's start (1 for its first line); of a
    Parquet one, its row in the file; of a text file, ``WHOLE``. ``lines``, when given, gets the number of
    lines that start in each piece (0 for other kinds): what turns a piece's line numbers into the file's."""
    for k, piece in enumerate(part.pieces):
        if lines is not None:
            lines.append(0)
        f = files[piece.file]
        with _files.open_read(f.url) as raw:
            if f.kind == "parquet":
                yield from ((k, row, text) for row, text in _parquet_batches(raw, text_field, f.url,
                                                                             piece.start, piece.end))
                continue
            stream = gzip.GzipFile(fileobj=raw, mode="rb") if f.url.lower().endswith(".gz") else raw
            if f.kind == "jsonl":
                for line_no, line in _lines(stream, piece):
                    if lines is not None:
                        lines[-1] = line_no
                    if line.strip():
                        where = line_no if piece.start == 0 else f"{line_no} from byte {piece.start}"
                        yield k, line_no, _json_text(line, text_field, f.url, where)
            else:
                data = stream.read()
                if b"\x00" not in data[:8192]:  # a binary file in a text tree is skipped
                    yield k, WHOLE, data.decode("utf-8", errors="replace")


def _lines(stream, piece: Piece) -> Iterator[tuple[int, bytes]]:
    """The lines that start within the piece, numbered from 1."""
    if piece.start > 0:
        stream.seek(piece.start - 1)
        if stream.read(1) != b"\n":
            stream.readline()  # the rest of a line that began in the piece before
    pos = stream.tell() if piece.start > 0 else 0
    n = 0
    while piece.end < 0 or pos < piece.end:
        line = stream.readline()
        if not line:
            return
        n += 1
        pos += len(line)
        yield n, line
