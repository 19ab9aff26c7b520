"""Lock: POSIX record locks (fcntl) and flock, kept by meta, so processes on different mounts and
clients exclude each other as processes on one host do.

A lock belongs to an owner (a client's id and the kernel's lock owner: a process for POSIX locks, an
open file description for flock) and lives in ``LOCK<inode><kind><owner>``: the owner's ranges of that
file, each shared (READ) or exclusive (WRITE). POSIX locks and flocks never conflict with each other
(as on Linux). Setting a range replaces what the owner held there (split and merged as fcntl does);
UNLOCK over a range releases it. A conflicting request is refused at once (the client waits and asks
again for F_SETLKW). Locks last while their client lives: each client holds a lease
(``LKLS<client>``) that it renews with its sessions; a lock whose client's lease has run out is
ignored, and removed when found, so a crashed client's locks free themselves.
"""

from __future__ import annotations

from fs3._errors import InvalidArgument
from fs3.proto import meta_pb2

from .. import _keys as keys
from ..kv import Transaction
from ._changes import shared_with
from ._context import OpContext
from ._permissions import Cred

POSIX, FLOCK = 1, 2
UNLOCK, READ, WRITE = 0, 1, 2
TO_END = (1 << 63) - 1   # a range "to the end of the file, however long"

Range = tuple[int, int, int]  # (start, end exclusive, READ or WRITE)


def set_ranges(held: list[Range], start: int, end: int, kind: int) -> list[Range]:
    """``held`` after one owner sets [start, end) to ``kind`` (UNLOCK releases it), split and merged as
    fcntl does. Pure."""
    out = []
    for s, e, t in held:
        if e <= start or s >= end:
            out.append((s, e, t))
            continue
        if s < start:
            out.append((s, start, t))
        if e > end:
            out.append((end, e, t))
    if kind != UNLOCK:
        out.append((start, end, kind))
    out.sort()
    merged: list[Range] = []
    for r in out:
        if merged and merged[-1][2] == r[2] and merged[-1][1] >= r[0]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], r[1]), r[2])
        else:
            merged.append(r)
    return merged


def conflicts(held: list[Range], start: int, end: int, kind: int) -> Range | None:
    """The first of another owner's ranges that a ``kind`` lock of [start, end) conflicts with."""
    for s, e, t in held:
        if s < end and start < e and (t == WRITE or kind == WRITE):
            return s, e, t
    return None


def lease_alive(txn: Transaction, client: str, now: int) -> bool:
    raw = txn.get(keys.lock_lease(client))
    return raw is not None and keys.read_u64(raw) > now


def renew_lease(txn: Transaction, client: str, until: int) -> None:
    txn.set(keys.lock_lease(client), keys.u64(until))


def lock(ctx: OpContext, cred: Cred, req: meta_pb2.LockRequest) -> meta_pb2.LockReply:
    """Set, release or test (``test``: F_GETLK) a lock; the reply says whether it was granted and, if
    not, the range and owner it conflicts with. The caller opened the file (the mount checks the
    descriptor); anyone who may stat it may lock it, as with fcntl on a file one has open."""
    if req.kind not in (POSIX, FLOCK) or req.type not in (UNLOCK, READ, WRITE):
        raise InvalidArgument(f"Invalid argument: lock kind {req.kind} type {req.type}")
    end = req.end or TO_END
    if req.start >= end:
        raise InvalidArgument(f"Invalid argument: lock range [{req.start}, {end}) is empty")
    owner = f"{req.client}/{req.owner}"
    now = ctx.clock()

    def run(txn):
        def shared() -> bool:  # (another client writes the file: the caller's cache of it may be stale)
            return req.type != UNLOCK and bool(req.holder) and shared_with(txn, req.inode, req.holder, now,
                                                                          writing=False)

        if req.type != UNLOCK:
            renew_lease(txn, req.client, now + int(ctx.config.session_ttl * 1e9))
        prefix = keys.lock_prefix(req.inode, req.kind)
        mine = None
        for key, raw in txn.get_range(prefix, keys.prefix_end(prefix)):
            record = meta_pb2.LockRecord.FromString(raw)
            if record.owner == owner:
                mine = record
                continue
            if req.type == UNLOCK:
                continue
            if not lease_alive(txn, record.client, now):
                if not req.test:
                    txn.clear(key)  # its client is gone: so are its locks
                continue
            hit = conflicts([(r.start, r.end, r.type) for r in record.ranges], req.start, end, req.type)
            if hit is not None:
                return meta_pb2.LockReply(granted=False, conflict=meta_pb2.LockRange(
                    start=hit[0], end=hit[1], type=hit[2]), conflict_owner=record.owner)
        if req.test:
            return meta_pb2.LockReply(granted=True)
        held = [(r.start, r.end, r.type) for r in mine.ranges] if mine is not None else []
        ranges = set_ranges(held, req.start, end, req.type)
        key = keys.lock(req.inode, req.kind, owner)
        if ranges:
            txn.set(key, meta_pb2.LockRecord(owner=owner, client=req.client, ranges=[
                meta_pb2.LockRange(start=s, end=e, type=t) for s, e, t in ranges]).SerializeToString())
        elif mine is not None:
            txn.clear(key)
        return meta_pb2.LockReply(granted=True, shared=shared(), lease_ttl_ms=int(ctx.config.session_ttl * 1000))

    return ctx.kv.transact(run)
