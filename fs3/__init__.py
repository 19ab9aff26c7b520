"""fs3: a 3FS-style distributed parallel file system and training-data loader.

    import fs3
    with fs3.connect() as client:          # FS3_CLUSTER, else the most recent `fs3 up` cluster
        client.write("/data/hello.txt", b"hello")
        with client.open("/data/hello.txt") as f:
            print(f.read())

Errors are ``OSError`` subclasses with ``errno`` set (``FileNotFoundError``, ``FileExistsError``...);
see ``fs3.FS3Error``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._errors import (
    AlreadyExists,
    Busy,
    ChecksumMismatch,
    DirectoryNotEmpty,
    FS3Error,
    InvalidArgument,
    IsADirectory,
    NameTooLong,
    NoSpace,
    NotADirectory,
    NotFound,
    PermissionDenied,
    StaleRouting,
    Unavailable,
)

__version__ = "0.1.0"

__all__ = [
    "AlreadyExists", "AsyncClient", "AsyncFile", "Busy", "ChecksumMismatch", "Client", "DirectoryNotEmpty",
    "FS3Error", "File", "FileStat", "InvalidArgument", "IsADirectory", "NameTooLong", "NoSpace",
    "NotADirectory", "NotFound", "PermissionDenied", "ReadRequest", "StaleRouting", "Unavailable",
    "aconnect", "connect", "__version__",
]

if TYPE_CHECKING:
    from fs3.client import AsyncClient, AsyncFile, Client, File, FileStat, ReadRequest, aconnect, connect

_LAZY = {"AsyncClient", "AsyncFile", "Client", "File", "FileStat", "ReadRequest", "aconnect", "connect"}


def __getattr__(name: str):
    # The client pulls in grpc and the wire schemas; load it on first use only.
    if name in _LAZY:
        from fs3 import client

        return getattr(client, name)
    raise AttributeError(f"module 'fs3' has no attribute {name!r}")
