"""MinHash signatures kept on disk, band by band, while a build reads its inputs: each band's columns
go to a file of their own as batches arrive, so LSH banding reads one band at a time (``rows`` numbers a
document) and the build's memory does not hold 512 bytes for every document."""

from __future__ import annotations

import os
import shutil
import tempfile

import numpy as np

from ._minhash import MinHashParams


class SignatureSpill:
    """Signatures of documents in input order, stored band-major under a temporary directory."""

    def __init__(self, params: MinHashParams, where: str | None = None):
        self.params = params.resolved()
        self.dir = tempfile.mkdtemp(prefix="fs3-signatures-", dir=where)
        self._files = [open(os.path.join(self.dir, f"band-{b:03d}"), "wb") for b in range(self.params.bands)]
        self.n = 0

    def __len__(self) -> int:
        return self.n

    def append(self, signatures: np.ndarray) -> None:
        """(k, num_perm) uint32: the next k documents' signatures."""
        r = self.params.rows
        for b, f in enumerate(self._files):
            np.ascontiguousarray(signatures[:, b * r:(b + 1) * r], dtype=np.uint32).tofile(f)
        self.n += len(signatures)

    def _flush(self) -> None:
        for f in self._files:
            f.flush()

    def band(self, b: int) -> np.ndarray:
        """(n, rows) uint32: every document's columns of band ``b``."""
        self._flush()
        return np.fromfile(os.path.join(self.dir, f"band-{b:03d}"), dtype=np.uint32).reshape(self.n, self.params.rows)

    def rows_of(self, docs: np.ndarray) -> np.ndarray:
        """(len(docs), bands * rows) uint32: the banded part of the signatures of ``docs``."""
        self._flush()
        r = self.params.rows
        out = np.empty((len(docs), self.params.bands * r), dtype=np.uint32)
        for b in range(self.params.bands):
            m = np.memmap(os.path.join(self.dir, f"band-{b:03d}"), dtype=np.uint32, mode="r",
                          shape=(self.n, r)) if self.n else np.zeros((0, r), np.uint32)
            out[:, b * r:(b + 1) * r] = m[docs]
            del m
        return out

    def close(self) -> None:
        for f in self._files:
            f.close()
        shutil.rmtree(self.dir, ignore_errors=True)
