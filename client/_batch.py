"""What a batch of reads needs before it goes to the storage nodes: the files' inodes (from paths, stats or
open files, each stated once) and one destination view per read, carved from the caller's buffers."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import cast

from fs3._errors import InvalidArgument, IsADirectory
from fs3.proto import common_pb2, meta_pb2

from ._types import FileStat


@dataclass(frozen=True)
class ReadRequest:
    """One read of a batch: ``length`` bytes at ``offset`` of ``file`` (a path, a ``FileStat``, or an
    open file)."""

    file: object
    offset: int
    length: int


@functools.lru_cache(maxsize=4096)
def inode_of_stat(st: FileStat) -> meta_pb2.Inode:
    layout = common_pb2.Layout(chunk_size=st.chunk_size, stripe=st.stripe, chains=st.chains)
    return meta_pb2.Inode(id=st.inode, type=meta_pb2.FILE, length=st.size, layout=layout)


async def resolve_files(files: list, stat: Callable[[str], Awaitable[FileStat]]) -> dict[int, meta_pb2.Inode]:
    """The inode (with layout and length) of every distinct file of a batch, keyed by ``id()``."""
    out: dict[int, meta_pb2.Inode | None] = {}  # None: a path, stated below
    paths: dict[str, list] = {}
    for f in files:
        key = id(f)
        if key in out:
            continue
        if isinstance(f, str):
            paths.setdefault(f, []).append(key)
            out[key] = None
        elif isinstance(f, FileStat):
            out[key] = inode_of_stat(f)
        elif isinstance(getattr(f, "inode", None), meta_pb2.Inode):
            inode = meta_pb2.Inode()
            inode.CopyFrom(f.inode)
            inode.length = max(inode.length, getattr(f, "size", 0))
            out[key] = inode
        elif hasattr(f, "raw") and isinstance(getattr(f.raw, "inode", None), meta_pb2.Inode):
            out[key] = f.raw.inode
        else:
            raise InvalidArgument(f"Invalid argument: cannot read from {type(f).__name__} (want a path, "
                                  "FileStat or open fs3 file)")
    if paths:
        stats = await asyncio.gather(*(stat(p) for p in paths))
        for keys, st in zip(paths.values(), stats, strict=True):
            if not st.is_file:
                raise IsADirectory("Is a directory", path=st.path)
            for key in keys:
                out[key] = inode_of_stat(st)
    return cast("dict[int, meta_pb2.Inode]", out)  # every path now has its inode


def split_buffers(buffers, lengths: list[int]) -> list[memoryview]:
    """One writable view per request: from a sequence of buffers, or carved from one buffer."""
    try:
        whole = memoryview(buffers)
    except TypeError:
        whole = None
    if whole is not None:
        whole = whole.cast("B") if whole.format != "B" or whole.ndim != 1 else whole
        if whole.readonly:
            raise InvalidArgument("Invalid argument: the batch buffer is read-only")
        need = sum(lengths)
        if len(whole) < need:
            raise InvalidArgument(f"Invalid argument: the batch buffer holds {len(whole)} bytes, the reads {need}")
        out, pos = [], 0
        for n in lengths:
            out.append(whole[pos : pos + n])
            pos += n
        return out
    views = [memoryview(b).cast("B") for b in buffers]
    if len(views) != len(lengths):
        raise InvalidArgument(f"Invalid argument: {len(lengths)} reads but {len(views)} buffers")
    for v, n in zip(views, lengths, strict=True):
        if v.readonly or len(v) < n:
            raise InvalidArgument("Invalid argument: a batch buffer is read-only or smaller than its read")
    return views
