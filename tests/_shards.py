"""Token shard sets for tests (``from _shards import write_counting_shards``), and what a spawned worker
runs on them (a module of its own: a spawned process imports it by name)."""

from __future__ import annotations

import numpy as np

from fs3._checksum import crc32c
from fs3.dataloader._format import MANIFEST_NAME, Manifest, ShardInfo, encode_index


def write_counting_shards(root, tokens: int, shards: int, doc_len: int = 37) -> str:
    """A shard set whose token at global index i is i (int32): a sample names itself by its first token."""
    root.mkdir(parents=True, exist_ok=True)
    bounds = np.linspace(0, tokens, shards + 1).astype(np.int64)
    infos = []
    for k in range(shards):
        data = np.arange(bounds[k], bounds[k + 1], dtype=np.int32)
        lengths = [doc_len] * (len(data) // doc_len) + ([len(data) % doc_len] if len(data) % doc_len else [])
        idx = encode_index(np.dtype(np.int32), np.asarray(lengths))
        (root / f"shard-{k:05d}.bin").write_bytes(data.tobytes())
        (root / f"shard-{k:05d}.idx").write_bytes(idx)
        infos.append(ShardInfo(f"shard-{k:05d}", len(lengths), len(data), crc32c(data.tobytes()), crc32c(idx)))
    m = Manifest(dtype="int32", vocab_size=tokens, eod_id=0, tokenizer={"kind": "synthetic"},
                 documents=sum(i.documents for i in infos), tokens=tokens, shards=infos)
    (root / MANIFEST_NAME).write_text(m.to_json())
    return str(root)


def first_sample_and_deadline(ds) -> tuple[int, float]:
    """In a worker: the first token of ``ds``'s first sample, and the retry deadline of its client."""
    from fs3.dataloader import _files
    first = int(next(iter(ds))[0])
    return first, _files.fs3_client(ds.sets[0].reader._address).retry_timeout


def log_fs3_client_to(path: str, worker_id: int) -> None:
    """A DataLoader ``worker_init_fn`` (with ``functools.partial``): the worker's fs3 client logs its
    warnings to ``path``, where a test can wait for them."""
    import logging
    handler = logging.FileHandler(path)
    handler.setFormatter(logging.Formatter(f"worker {worker_id}: %(message)s"))
    log = logging.getLogger("fs3.client")
    log.addHandler(handler)
    log.setLevel(logging.WARNING)
