"""The write path of a storage node's data plane: a client's WRITE at the head of a chain, and the UPDATEs
a predecessor forwards along it. Both check the data against its transit CRC32C (unless it never left
this host's memory) and hand it to the replicator (storage/_replication.py), which orders, stages,
forwards and commits it.

Large payloads arrive page-aligned in a pooled buffer of their own (``ALIGNED_LEAD``; see
storage/_client_session.py), so they go to disk with O_DIRECT uncopied.
"""

from __future__ import annotations

import logging
import time

from fs3 import _token, _wire
from fs3._checksum import crc32c
from fs3._errors import FS3Error, Status

from ._data_context import DataPlaneContext, Request
from ._grants import Grants
from ._routing import UPDATE, WRITE
from ._shared_region import SharedRegion

log = logging.getLogger(__name__)

# Where a large payload starts in its pooled buffer, so that the data after the item is page-aligned.
ALIGNED_LEAD = {_wire.WRITE: _wire.ALIGN - _wire.WRITE_ITEM.size, _wire.UPDATE: _wire.ALIGN - _wire.UPDATE_ITEM.size}


def aligned_data(request: Request, item_size: int, length: int, extra: int = 0):
    """The request's inline data as a page-aligned buffer with room to the next 4 KiB, when the
    receive path placed it so (large frames); else None. Whatever follows the data (``extra``
    bytes) must be read before the buffer's tail is zeroed."""
    if request.pooled is None or not length:
        return None
    start = _wire.ALIGN
    if len(request.pooled) < start + -(-length // _wire.ALIGN) * _wire.ALIGN:
        return None
    if request.header.length != item_size + length + extra:
        return None
    view = memoryview(request.pooled)
    return view[start : start + -(-length // _wire.ALIGN) * _wire.ALIGN]


async def serve_write(ctx: DataPlaneContext, request: Request, shm: SharedRegion | None, grants: Grants | None):
    """Serve a client's WRITE frame at the chain's head: check its capability (``grants``: None for a
    storage node) and its data (inline, or in the client's shared memory ``shm``), then hand it to the
    replicator. Returns the reply's parts (and no buffers)."""
    header, payload = request.header, request.payload
    size = _wire.WRITE_ITEM.size
    if header.count != 1 or header.length < size:
        raise _wire.ProtocolError("malformed WRITE frame")
    item = _wire.WriteItem.unpack_from(payload)
    length = item.length
    status, version, chunk_len, checksum = 0, 0, 0, 0
    try:
        aligned = None
        in_shm = False
        if header.length == size + length:  # the data follows the item (any transport)
            data = payload[size:]
            aligned = aligned_data(request, size, length)
        elif header.length == size and shm is not None:  # data in shared memory
            in_shm = True
            try:
                aligned = shm.span(item.shm_offset, _wire.shm_span(0, length))
            except IndexError:
                raise FS3Error("shared-memory range out of bounds", status=Status.INVALID_ARGUMENT) from None
            data = aligned[:length]
        else:
            raise _wire.ProtocolError("WRITE length does not match its data")
        if header.flags & _wire.FLAG_NO_CRC:
            if not in_shm:  # data that crossed a socket is checked, whatever its size
                raise _wire.ProtocolError("an unchecked WRITE is allowed over shm only")
        elif crc32c(data) != item.crc:
            raise FS3Error("write data failed its CRC32C in transit", status=Status.INVALID_ARGUMENT)
        if grants is not None:
            grants.check_write(item, time.time())
        target = ctx.target(item.chain_id, item.chain_version, role=WRITE)
        if grants is not None:  # (once the node's routing is as new as the item's chain version)
            grants.check_chain(item, ctx.routing.table_chain)
        # Over shared memory a whole-chunk write may go to disk straight from the client's region:
        # a client that changed those bytes mid-write would only damage its own write (caught by the
        # block checksums on every later read).
        rec = await ctx.replicator.client_write(target, item, data, aligned=aligned)
        version, chunk_len, checksum = rec.version, rec.length, rec.crc
        ctx.stats.writes += 1
        ctx.stats.write_bytes += length
        ctx.stats.ops.get("write").bytes += length
    except FS3Error as exc:
        status = int(exc.status)
        ctx.stats.count_error(status, "write")
        if status not in (Status.STALE_CHAIN_VERSION, Status.TARGET_NOT_SERVING, Status.CAPABILITY_REFUSED):
            log.info("write of chunk %d:%d failed: %s", item.inode, item.index, exc)
    body = _wire.WriteResult(status, version & 0xFFFFFFFF, chunk_len, checksum).pack()
    return [_wire.pack_header(_wire.WRITE_REPLY, 1, header.req_id, len(body)) + body], []


async def serve_update(ctx: DataPlaneContext, request: Request, *, role: int, local: bool):
    """Serve an UPDATE frame a chain predecessor forwarded (``role``: the requester's token role;
    ``local``: it came over this host's Unix socket). Returns the reply's parts (and no buffers)."""
    header, payload = request.header, request.payload
    size = _wire.UPDATE_ITEM.size
    if role != _token.ROLE_NODE:
        raise _wire.ProtocolError("permission denied: only storage nodes forward updates", Status.PERMISSION_DENIED)
    if header.count != 1 or header.length < size:
        raise _wire.ProtocolError("malformed UPDATE frame")
    item = _wire.UpdateItem.unpack_from(payload)
    length = item.length
    nblocks = -(-length // 4096) * 4 if header.flags & _wire.FLAG_BLOCKS else 0
    if header.length != size + length + nblocks:
        raise _wire.ProtocolError("UPDATE length does not match its data")
    status, committed, checksum = 0, 0, 0
    try:
        data = payload[size : size + length]
        blocks = bytes(payload[size + length :]) if nblocks else None
        unchecked = header.flags & _wire.FLAG_NO_CRC and local  # never left this host's memory
        if length and not unchecked and crc32c(data) != item.crc:
            raise FS3Error("update data failed its CRC32C in transit", status=Status.INVALID_ARGUMENT)
        target = ctx.target(item.chain_id, item.chain_version, role=UPDATE)
        committed, checksum = await ctx.replicator.apply_update(
            target, item, data, header.flags,
            aligned=aligned_data(request, size, length, extra=nblocks), blocks=blocks,
        )
        ctx.stats.ops.get("update").bytes += length
    except FS3Error as exc:
        status = int(exc.status)
        ctx.stats.count_error(status, "update")
    body = _wire.UpdateResult(status, committed, checksum).pack()
    return [_wire.pack_header(_wire.UPDATE_REPLY, 1, header.req_id, len(body)) + body], []
