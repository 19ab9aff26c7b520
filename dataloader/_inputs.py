"""The documents of a build's inputs, read in pieces: JSONL line by line (through gzip when compressed),
Parquet a record batch at a time, a text file as one document. However large an input file, a build
holds one document (or one Parquet batch) of it at a time.

A document is named by its file and its place in it (``DocumentNames``: two numbers a document, the names
made when asked), so the process that coordinates a build keeps no string per document."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from fs3._errors import InvalidArgument

from . import _files

PARQUET_BATCH = 1024  # rows of a Parquet file read at a time
WHOLE = -1            # the place of a document that is a whole file


def input_kind(url: str) -> str:
    name = url.lower()
    if name.endswith((".jsonl", ".jsonl.gz", ".ndjson", ".json")):
        return "jsonl"
    if name.endswith(".parquet"):
        return "parquet"
    return "text"


@dataclass(frozen=True)
class InputFile:
    url: str
    label: str   # as documents are named: relative to the directory given, or the file as given
    kind: str    # "jsonl", "parquet", "text"
    group: int   # the input it came from (dedup scope)


def input_files(inputs: list[str], pattern: str | None) -> list[InputFile]:
    """Every file of the inputs, in order (each input's files sorted)."""
    out = []
    for group, spec in enumerate(inputs):
        top = spec.rstrip("/")
        for url in _files.list_files(spec, pattern):
            # documents are named relative to the directory given (encodings/cp1252.py), files as given
            label = url if url == spec else top.rsplit("/", 1)[-1] + url[len(top):]
            out.append(InputFile(url, label, input_kind(url), group))
    return out


def documents(files: list[InputFile], text_field: str) -> Iterator[tuple[int, int, str]]:
    """(file number, place, raw text) for every document of ``files``, in order. The place is the line
    number of a JSONL document, the row of a Parquet one, ``WHOLE`` for a text file."""
    for number, f in enumerate(files):
        with _files.open_read(f.url) as raw:
            stream = gzip.GzipFile(fileobj=raw, mode="rb") if f.url.lower().endswith(".gz") else raw
            if f.kind == "jsonl":
                for line_no, line in enumerate(stream, 1):
                    if line.strip():
                        yield number, line_no, _json_text(line, text_field, f.url, line_no)
            elif f.kind == "parquet":
                yield from ((number, row, text) for row, text in _parquet_texts(stream, text_field, f.url))
            else:
                data = stream.read()
                if b"\x00" not in data[:8192]:  # a binary file in a text tree is skipped
                    yield number, WHOLE, data.decode("utf-8", errors="replace")


def _json_text(line: bytes, text_field: str, url: str, line_no: int) -> str:
    try:
        record = json.loads(line)
    except ValueError:
        raise InvalidArgument(f"{url}:{line_no}: not a JSON object per line") from None
    text = record.get(text_field) if isinstance(record, dict) else None
    if not isinstance(text, str):
        raise InvalidArgument(f"{url}:{line_no}: no text field {text_field!r} (choose one with --text-field)")
    return text


def _parquet_texts(stream, text_field: str, url: str) -> Iterator[tuple[int, str]]:
    return _parquet_batches(stream, text_field, url, 0, -1)


def _parquet_batches(stream, text_field: str, url: str, first: int, end: int) -> Iterator[tuple[int, str]]:
    """(row in the file, text) of row groups ``first`` to ``end`` (exclusive; -1: the last)."""
    import pyarrow.parquet as pq

    pf = pq.ParquetFile(stream)
    names = pf.schema_arrow.names
    if text_field not in names:
        raise InvalidArgument(f"{url}: no column {text_field!r} (columns: {', '.join(names)}; "
                              "choose one with --text-field)")
    meta = pf.metadata
    end = meta.num_row_groups if end < 0 else end
    row = sum(meta.row_group(g).num_rows for g in range(first))
    if first >= end:
        return
    for batch in pf.iter_batches(batch_size=PARQUET_BATCH, row_groups=list(range(first, end)),
                                 columns=[text_field]):
        for text in batch.column(0).to_pylist():
            if isinstance(text, str):
                yield row, text
            row += 1


class Column:
    """A growing numpy array (amortized doubling), for one value per document."""

    def __init__(self, dtype, width: int = 0):
        self._shape = (width,) if width else ()
        self._data = np.empty((1024, *self._shape), dtype=dtype)
        self._n = 0

    def extend(self, values) -> None:
        values = np.asarray(values, dtype=self._data.dtype)
        need = self._n + len(values)
        if need > len(self._data):
            grown = np.empty((max(need, 2 * len(self._data)), *self._shape), dtype=self._data.dtype)
            grown[:self._n] = self._data[:self._n]
            self._data = grown
        self._data[self._n:need] = values
        self._n = need

    def __len__(self) -> int:
        return self._n

    def array(self) -> np.ndarray:
        """The values so far (a copy the size of the values, the growing buffer given back)."""
        out = self._data[:self._n].copy()
        self._data = self._data[:0]
        return out


class DocumentNames:
    """``names[i]``: document *i*'s name (``path``, ``path:line``, ``path#row``), made when asked."""

    def __init__(self, files: list[InputFile], file_no: np.ndarray, place: np.ndarray):
        self.files, self.file_no, self.place = files, file_no, place

    def __len__(self) -> int:
        return len(self.file_no)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[k] for k in range(*i.indices(len(self)))]
        f = self.files[int(self.file_no[i])]
        place = int(self.place[i])
        if place == WHOLE:
            return f.label
        return f"{f.label}{'#' if f.kind == 'parquet' else ':'}{place}"

    def __iter__(self):
        return (self[i] for i in range(len(self)))

    def __eq__(self, other) -> bool:
        return list(self) == list(other)
