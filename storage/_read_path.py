"""The read path of a storage node's data plane: a READ frame's items looked up, read from disk together
(one io_uring submission), checked against their block checksums, and answered (over shared memory the
data lands in the requester's region; over TCP it follows the results).

Small frames are answered on the event loop that received them while the disk is fast (an executor hop
costs more than an NVMe read); a disk whose recent reads would block the loop longer than
``INLINE_BUDGET`` per frame sends them to the thread pool, and frames served there keep measuring it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time

from fs3 import _wire
from fs3._errors import FS3Error, Status

from . import _uring
from ._data_context import DataPlaneContext, Request
from ._grants import Grants
from ._shared_region import SharedRegion

log = logging.getLogger(__name__)

INLINE_BUDGET = 0.002        # seconds a frame may block the loop
INLINE_MAX_BYTES = 256 << 10
PARALLEL_READS = 4           # disk threads one large READ frame is spread over


def runs_inline(ctx: DataPlaneContext, header: _wire.Header) -> bool:
    """Whether a frame is a READ to answer on the loop now (small, and the disk is fast)."""
    if header.type != _wire.READ or header.count == 0:
        return False
    if header.count * ctx.read_latency > INLINE_BUDGET:
        ctx.pooled_frames += 1
        return False
    return header.count * 4096 <= INLINE_MAX_BYTES  # a lower bound: checked exactly in serve


def parse(request: Request) -> tuple[list[_wire.ReadItem], int]:
    """A READ frame's items and the bytes they ask for."""
    header = request.header
    if header.length != header.count * _wire.READ_ITEM.size or not 0 < header.count <= _wire.MAX_ITEMS:
        raise _wire.ProtocolError("malformed READ frame (item count and length disagree)")
    items = _wire.unpack_reads(request.payload)
    asked = sum([item.length for item in items])
    if asked > _wire.MAX_READ_BYTES:
        raise _wire.ProtocolError(f"READ asks for more than {_wire.MAX_READ_BYTES} bytes")
    return items, asked


def serve(ctx: DataPlaneContext, request: Request, shm: SharedRegion | None, grants: Grants | None,
          inline: bool = False):
    """Serve a whole READ frame in this thread; returns the reply's parts and the buffers it holds.
    ``grants``: what the connection may read (None: a storage node, which may read anything)."""
    items, asked = parse(request)
    started = time.perf_counter()
    results, data, held = read_items(ctx, items, shm, grants)
    if not inline or asked <= INLINE_MAX_BYTES:
        note_latency(ctx, (time.perf_counter() - started) / len(items))
    return reply(request.header, results, data), held


async def serve_parallel(ctx: DataPlaneContext, request: Request, shm: SharedRegion | None, grants: Grants | None):
    """Serve a READ frame of large items on several disk threads at once."""
    items, asked = parse(request)
    parts = min(PARALLEL_READS, len(items))
    step = -(-len(items) // parts)
    groups = [items[i : i + step] for i in range(0, len(items), step)]
    started = time.perf_counter()
    loop = asyncio.get_running_loop()
    outcomes = await asyncio.gather(*(loop.run_in_executor(ctx.executor, read_items, ctx, g, shm, grants)
                                      for g in groups))
    if asked <= INLINE_MAX_BYTES:  # a frame that could have run inline: what would it have cost?
        note_latency(ctx, (time.perf_counter() - started) / len(items))
    results = bytearray()
    data: list = []
    held: list = []
    for r, d, h in outcomes:
        results += r
        data += d
        held += h
    return reply(request.header, results, data), held


def note_latency(ctx: DataPlaneContext, per_item: float) -> None:
    """Fold one frame's seconds per item into the estimate that decides where small frames run. Frames
    served on the pool count too, so a disk that speeds up brings reads back to the loop."""
    lat = ctx.read_latency
    ctx.read_latency = 0.9 * lat + 0.1 * per_item if lat else per_item


def reply(header: _wire.Header, results: bytearray, data: list) -> list:
    """A READ_REPLY's parts: header and results, then the data (none over shared memory: it is in place)."""
    inline = sum(len(d) for d in data)
    head = _wire.pack_header(_wire.READ_REPLY, header.count, header.req_id, len(results) + inline)
    return [head + bytes(results), *data]


def read_items(ctx: DataPlaneContext, items: list[_wire.ReadItem], shm: SharedRegion | None,
               grants: Grants | None):
    """Read each item whose file the connection holds a read capability for (``grants``): into the requester's shared memory (``shm``), or into pooled buffers sent after
    the results (TCP). Returns the packed results, the data views to send, and the buffers they use.
    The items share one read epoch per store (slots they read are not reused meanwhile)."""
    result_size = _wire.READ_RESULT.size
    pack_result = _wire.READ_RESULT.pack_into
    results = bytearray(len(items) * result_size)
    data: list[memoryview] = []
    held: list = []
    stats = ctx.stats
    if ctx.fenced():  # every item fails alike
        for i in range(len(items)):
            pack_result(results, i * result_size, Status.TARGET_NOT_SERVING, 0, 0, 0, 0)
            stats.count_error(Status.TARGET_NOT_SERVING, "read")
        return results, data, held
    epochs: dict = {}
    reads: list = []   # the disk reads of this frame, issued together
    landed: list = []  # per read: (item number, store, inode, index, record, offset, bytes, lead)
    statuses = [0] * len(items)
    records: list = [None] * len(items)
    total = 0
    may_read = grants.read if grants is not None else None
    now = time.time()
    try:
        for i, (chain_id, chain_version, inode, index, offset, length, shm_offset) in enumerate(items):
            if may_read is not None and may_read.get(inode, 0) < now:
                statuses[i] = Status.CAPABILITY_REFUSED
                stats.count_error(statuses[i], "read")
                continue
            try:
                store = ctx.target(chain_id, chain_version, fenced_checked=True).store
                lead = offset % _wire.ALIGN
                if shm is not None:  # the reservation is checked whatever the chunk holds
                    region = shm.span(shm_offset, _wire.shm_span(offset, length))
                if store not in epochs:
                    epochs[store] = store.slots.begin_read()
                rec, n = store.locate(inode, index, offset, length)
                if rec is None:
                    statuses[i] = Status.CHUNK_NOT_FOUND
                    continue
                records[i] = rec
                if not n:
                    continue
                if shm is not None:
                    dest = region
                else:
                    # Not a lease: the buffer outlives this call. It goes with the reply (``held``),
                    # and the session gives it back once the transport has sent the data.
                    buf = ctx.buffers.acquire(_wire.shm_span(offset, n))
                    held.append(buf)
                    dest = memoryview(buf)
                reads.append(store.disk_read(rec, offset, n, dest))
                landed.append((i, store, inode, index, rec, offset, n, lead))
            except FS3Error as exc:
                statuses[i] = int(exc.status)
                stats.count_error(statuses[i], "read")
            except IndexError:
                statuses[i] = Status.INVALID_ARGUMENT
                stats.count_error(statuses[i], "read")
        got = _uring.read_all([(fd, view, at) for fd, view, at in reads], errors="return")
        sizes = [0] * len(items)
        for (i, store, inode, index, rec, offset, n, lead), (_fd, view, _at), g in zip(landed, reads, got,
                                                                                     strict=True):
            if g < 0:  # this replica's disk failed the read: the client reads another replica
                log.error("target %s: reading chunk %d:%d failed: %s", store.name, inode, index,
                          os.strerror(-g))
                statuses[i] = Status.DISK_ERROR
                stats.count_error(statuses[i], "read")
                continue
            try:
                store.verify(inode, index, rec, offset, n, view, g)
            except FS3Error as exc:
                statuses[i] = int(exc.status)
                stats.count_error(statuses[i], "read")
                continue
            sizes[i] = n
            total += n
            if shm is None:
                data.append(view[lead : lead + n])
    finally:
        for store, epoch in epochs.items():
            store.slots.end_read(epoch)
    for i, status in enumerate(statuses):
        rec = records[i]
        if status or rec is None:
            pack_result(results, i * result_size, status, 0, 0, 0, 0)
        else:
            pack_result(results, i * result_size, 0, 0, sizes[i], rec.version & 0xFFFFFFFF, rec.length)
    stats.reads += len(items)
    stats.read_bytes += total
    stats.ops.get("read").bytes += total
    return results, data, held
