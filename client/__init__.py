"""fs3 client: namespace calls to meta, chunk I/O straight to storage nodes."""

from __future__ import annotations

from ._client import Client, connect
from ._file import File
from ._types import FileStat

__all__ = ["Client", "File", "FileStat", "connect"]
