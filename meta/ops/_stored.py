"""What a file holds on storage, for ``st_blocks`` (``Inode.stored``): the bytes of the chunks some
writer stored, up to the length, so the holes of a sparse file are not counted (``du``).

Meta never sees the data: each write session's Close names the chunks it wrote, and ``CHBM<inode>``
keeps them as a bitmap (bit i: chunk i). A truncation forgets the chunks past the new end. The count
is per chunk: a chunk that is only partly written counts whole (up to the length), as a file system
with chunk-sized blocks would. Files made before fs3 kept this (``stored_known`` false) report their
length instead; so does a chunk whose writer died before its Close, until a later writer's Close."""

from __future__ import annotations

from collections.abc import Iterable

from fs3.proto import meta_pb2

from .. import _keys as keys
from ..kv import Transaction


def settle_stored(txn: Transaction, inode: meta_pb2.Inode, written: Iterable[int] = ()) -> None:
    """Add the chunks a session ``written`` and drop those past the length; set ``inode.stored``. The
    caller saves the inode (after the length is settled)."""
    if not inode.stored_known:
        return
    chunk = inode.layout.chunk_size
    if not chunk:
        return
    key = keys.chunk_bitmap(inode.id)
    raw = txn.get(key)
    bits = bytearray(raw or b"")
    for index in written:
        if index >= len(bits) * 8:
            bits.extend(bytes(index // 8 + 1 - len(bits)))
        bits[index // 8] |= 1 << (index % 8)
    count = -(-inode.length // chunk)  # chunks that reach below the length
    del bits[-(-count // 8):]
    if count % 8 and bits:
        bits[-1] &= (1 << (count % 8)) - 1
    stored = sum(bin(b).count("1") for b in bits) * chunk
    last = count - 1
    if 0 <= last < len(bits) * 8 and bits[last // 8] >> (last % 8) & 1:
        stored -= count * chunk - inode.length  # the last chunk counts up to the length
    inode.stored = stored
    if not any(bits):
        if raw is not None:
            txn.clear(key)
    elif bytes(bits) != raw:
        txn.set(key, bytes(bits))


def forget_stored(txn: Transaction, ino: int) -> None:
    """The inode left the namespace: its bitmap goes with it."""
    txn.clear(keys.chunk_bitmap(ino))
