"""A build's input files and their documents' names. The documents are read in pieces (``_parts``): JSONL
line by line (through gzip when compressed), Parquet a record batch at a time, a text file as one
document; however large an input file, a worker holds one document (or one Parquet batch) of it at a time.

A document is named by its file and its place in it (``document_name``), made when a report asks, so the
process that coordinates a build keeps no string per document."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass

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


def _json_text(line: bytes, text_field: str, url: str, line_no: int) -> str:
    try:
        record = json.loads(line)
    except ValueError:
        raise InvalidArgument(f"{url}:{line_no}: not a JSON object per line") from None
    text = record.get(text_field) if isinstance(record, dict) else None
    if not isinstance(text, str):
        raise InvalidArgument(f"{url}:{line_no}: no text field {text_field!r} (choose one with --text-field)")
    return text


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


def document_name(f: InputFile, place: int) -> str:
    """``path`` (a whole file), ``path:line`` (JSONL) or ``path#row`` (Parquet)."""
    if place == WHOLE:
        return f.label
    return f"{f.label}{'#' if f.kind == 'parquet' else ':'}{place}"
