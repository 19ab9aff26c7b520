"""fs3 client: namespace calls to meta over gRPC, chunk I/O straight to storage nodes over the data plane.
A sync ``Client`` and an asyncio ``AsyncClient`` with the same methods."""

from __future__ import annotations

from fs3._data_client import TransportStatus

from ._async_client import AsyncClient, ReadRequest, aconnect
from ._async_file import AsyncFile
from ._client import Client, connect
from ._file import File
from ._types import FileStat

__all__ = [
    "AsyncClient", "AsyncFile", "Client", "File", "FileStat", "ReadRequest", "TransportStatus",
    "aconnect", "connect", "mount",
]


def __getattr__(name: str):
    # The FUSE mount loads libfuse (mfusepy) on import: only for those who mount.
    if name == "mount":
        from ._mount import mount

        return mount
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
