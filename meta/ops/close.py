"""Close: end a session and settle the file's length; renew and prune sessions.

A session is a write session (SESS) or, for a file opened only to read, a read session (RSES): both
keep a removed file's data (an orphan, see _changes.py) until they end."""

from __future__ import annotations

from fs3._errors import Busy, InvalidArgument, NotFound
from fs3.proto import meta_pb2

from .. import _keys as keys
from . import _usage
from ._changes import end_session, reclaim_if_closed, touch
from ._context import OpContext
from ._idempotence import once
from ._permissions import Cred
from ._records import get_dentry, get_inode, put_inode
from ._stored import settle_stored
from ._walk import dot_target, resolve_parent
from .lock import renew_lease
from .rename import move_entry


def close_file(ctx: OpContext, cred: Cred, req: meta_pb2.CloseRequest) -> meta_pb2.CloseReply:
    """The length becomes at least the end of what this session wrote, and the mtime now unless one was
    set explicitly while it was open (``keep``: a commit, and the session stays open); a removed file just loses the session (its chunks are reclaimed
    once no session remains). No permission is checked: the open that made the session did, and the
    session id is the writer's."""

    if req.rename_to and (req.keep or not req.rename_from):
        raise InvalidArgument("Invalid argument: a close that renames names the file's own path, and ends "
                              "the session (not with keep)")

    def run(txn):
        inode = _settle(txn)
        if req.rename_to:
            _rename_own(txn, ctx, cred, req)
            inode = get_inode(txn, req.inode) or inode
        return inode

    def _settle(txn):
        raw = txn.get(keys.session(req.inode, req.session))
        keep = req.keep and raw is not None  # a commit of a live session (one pruned meanwhile just ends)
        times_set = txn.get(keys.times_set(req.inode, req.session)) is not None
        if times_set:
            txn.clear(keys.times_set(req.inode, req.session))
        # (an orphan's last session ending sends it to the collector)
        reclaimed = False if keep else end_session(txn, req.inode, req.session, ctx.clock())
        inode = None if reclaimed else get_inode(txn, req.inode)
        if inode is None:
            return meta_pb2.Inode(id=req.inode)
        end = req.written_end if req.wrote else 0
        if raw is not None and meta_pb2.Session.FromString(raw).reserved:
            end = min(end, _usage.usage_bytes(inode))  # storage let it write no further than reserved
        if req.wrote:  # an mtime set explicitly while the file was open wins (see setattr)
            touch(inode, ctx.clock(), data=not times_set)
        kept = (inode.charged, inode.append_end)
        # (the last writer's close gives back what was reserved past the end, and forgets appends)
        _usage.settle(txn, inode, max(inode.length, end))
        settle_stored(txn, inode, req.chunks)  # (st_blocks)
        if req.wrote or (inode.charged, inode.append_end) != kept:
            put_inode(txn, inode)
        return inode

    if req.rename_to:
        return meta_pb2.CloseReply(inode=once(ctx, req.request_id, meta_pb2.Inode, run), renamed=True)
    return meta_pb2.CloseReply(inode=ctx.kv.transact(run))


def _rename_own(txn, ctx: OpContext, cred: Cred, req: meta_pb2.CloseRequest) -> None:
    """Rename ``rename_from`` (which must still name the closing inode) to ``rename_to``, as Rename does."""
    for path in (req.rename_from, req.rename_to):
        if dot_target(txn, path, cred) is not None:
            raise Busy("Device or resource busy (a path ending in . or ..)", path=path)
    src_parent, src_name = resolve_parent(txn, req.rename_from, cred)
    entry = get_dentry(txn, src_parent.id, src_name)
    if entry is None or entry.inode != req.inode:
        raise NotFound("No such file or directory (the closing file is no longer under this name)",
                       path=req.rename_from)
    dst_parent, dst_name = resolve_parent(txn, req.rename_to, cred)
    move_entry(txn, ctx, cred, src_parent, src_name, dst_parent, dst_name, src_path=req.rename_from,
               dst_path=req.rename_to)


def renew_sessions(ctx: OpContext, cred: Cred,
                   req: meta_pb2.RenewSessionsRequest) -> meta_pb2.RenewSessionsReply:
    """Extend the sessions (write or read) a live client still holds (``inodes`` and ``sessions`` in
    pairs); the reply counts those that still existed."""
    expires = ctx.clock() + int(ctx.config.session_ttl * 1e9)
    pairs = list(zip(req.inodes, req.sessions, strict=False))

    def run(txn):
        renewed = 0
        if req.lock_client:  # the client holds locks: they last while it renews (ops/lock.py)
            renew_lease(txn, req.lock_client, expires)
        for ino, sid in pairs:
            for key in (keys.session(ino, sid), keys.reader(ino, sid)):
                raw = txn.get(key)
                if raw is None:
                    continue
                session = meta_pb2.Session.FromString(raw)
                session.expires_ns = expires
                txn.set(key, session.SerializeToString())
                renewed += 1
                break
        return renewed

    return meta_pb2.RenewSessionsReply(renewed=ctx.kv.transact(run))


def prune_sessions(ctx: OpContext, limit: int = 1000) -> int:
    """Drop sessions whose holder stopped renewing them (it crashed or lost the cluster); the file
    keeps the length of its last close, and an orphan no session holds any more is reclaimed. Meta's
    housekeeping, not a call."""
    now = ctx.clock()
    begin, end = keys.prefix_range(keys.SESSION)

    def run(txn):
        pruned = 0
        files = set()
        for key, raw in txn.get_range(begin, end, limit=limit):
            session = meta_pb2.Session.FromString(raw)
            if session.expires_ns and session.expires_ns < now:
                txn.clear(key)
                txn.clear(keys.TIMES_SET + key[len(keys.SESSION):])
                files.add(session.inode)
                pruned += 1
        for key, raw in txn.get_range(*keys.prefix_range(keys.READER), limit=limit):
            if meta_pb2.Session.FromString(raw).expires_ns < now:  # a dead reader's
                txn.clear(key)
                files.add(meta_pb2.Session.FromString(raw).inode)
                pruned += 1
        for ino in files:  # a crashed writer's reservation is given back
            inode = get_inode(txn, ino)
            if inode is not None and (inode.charged > inode.length or inode.append_end):
                _usage.settle(txn, inode, inode.length)
                put_inode(txn, inode)
            reclaim_if_closed(txn, ino, now)  # an orphan nobody holds any more goes to the collector
        return pruned

    return ctx.kv.transact(run)
