"""A storage target: one directory on a local disk holding a chunk store and its identity."""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from fs3._private import make_private_dir

from ._buffers import BufferPool
from ._chunk_store import ChunkStore

IDENTITY = "target.json"
FORMAT = 1


@dataclass
class Target:
    path: Path
    store: ChunkStore
    target_id: int = 0   # 0 until the cluster manager assigns one
    node_id: int = 0

    @classmethod
    def open(cls, path: Path, *, direct: bool = True, buffers: BufferPool | None = None) -> Target:
        path = make_private_dir(path.resolve())  # made 0700, or refused unless it is (fs3._private)
        ident = {}
        ident_file = path / IDENTITY
        if ident_file.exists():
            ident = json.loads(ident_file.read_text())
            if ident.get("format", FORMAT) > FORMAT:
                raise RuntimeError(f"{path}: target format {ident['format']} is newer than this fs3 supports")
        store = ChunkStore(path, direct=direct, name=str(path), buffers=buffers)
        return cls(path, store, int(ident.get("target_id", 0)), int(ident.get("node_id", 0)))

    def save_identity(self, node_id: int, target_id: int) -> None:
        """Persist the ids the manager assigned (atomically: write, fsync, rename)."""
        self.node_id, self.target_id = node_id, target_id
        tmp = self.path / (IDENTITY + ".tmp")
        with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
            json.dump({"format": FORMAT, "node_id": node_id, "target_id": target_id}, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path / IDENTITY)

    def free_bytes(self) -> int:
        return shutil.disk_usage(self.path).free

    def close(self) -> None:
        self.store.close()
