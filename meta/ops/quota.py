"""Quotas: set and read them (SetQuota, GetQuota), and reserve room for a writer (ExtendWrite).

Accounting itself lives in ops/_usage.py, inside every mutation. A writer of a file that a quota counts
holds a write capability that reaches only as far as the room reserved for the file; storage nodes
refuse writes past it (EDQUOT), and the client asks here for more, ``RESERVE_STEP`` bytes at a time
while the quota has room, then exactly what it needs, then EDQUOT.
"""

from __future__ import annotations

from fs3 import _capability
from fs3._errors import (
    FS3Error,
    InvalidArgument,
    NotADirectory,
    NotFound,
    NotPermitted,
    PermissionDenied,
    QuotaExceeded,
    Status,
)
from fs3.proto import meta_pb2

from .. import _keys as keys
from . import _usage
from ._context import OpContext
from ._permissions import Cred
from ._records import DIRECTORY, get_inode, put_inode
from ._walk import resolve
from .capabilities import issue, live_session, write_reach

RESERVE_STEP = 64 << 20   # bytes reserved at a time while a quota has room
MAX_COUNTED = 10_000_000  # inodes a new tree quota may count in one transaction


def set_quota(ctx: OpContext, cred: Cred, req: meta_pb2.SetQuotaRequest) -> meta_pb2.SetQuotaReply:
    """Set (or ``clear``) a tree quota on the directory ``path`` or a user quota on ``uid``: root only.
    A new quota first counts what it covers; changing a quota's limits keeps its usage."""
    if not cred.root:
        raise NotPermitted("Operation not permitted (only root sets quotas)", path=req.path or None)
    if req.user_quota == bool(req.path):
        raise InvalidArgument("Invalid argument: name a directory or a user, not both")

    def run(txn):
        if req.user_quota:
            key, quota = keys.quota_user(req.uid), _usage.user_quota(txn, req.uid)
        else:
            top = resolve(txn, req.path, cred)
            if top.type != DIRECTORY:
                raise NotADirectory("Not a directory (tree quotas are set on directories)", path=req.path)
            key, quota = keys.quota_tree(top.id), _usage.tree_quota(txn, top.id)
        if req.clear:
            if quota is None:
                raise NotFound("No such quota", path=req.path or None)
            txn.clear(key)
            return quota
        if quota is None:
            if req.user_quota:
                quota = meta_pb2.Quota(uid=req.uid)
                quota.used_bytes, quota.used_inodes = _usage.count_user(txn, req.uid)
            else:
                quota = meta_pb2.Quota(directory=top.id, path=req.path)
                quota.used_bytes, quota.used_inodes = _usage.count_tree(txn, top, MAX_COUNTED)
        quota.max_bytes, quota.max_inodes = req.max_bytes, req.max_inodes
        _usage.put_quota(txn, quota)
        return quota

    return meta_pb2.SetQuotaReply(quota=ctx.kv.transact(run))


def get_quota(ctx: OpContext, cred: Cred, req: meta_pb2.GetQuotaRequest) -> meta_pb2.GetQuotaReply:
    """With ``path``: the tree quotas over it (nearest first) and the caller's user quota; with
    ``user_quota``: that user's (one's own, or root asking); else every quota (root) or one's own."""
    if req.user_quota and req.uid != cred.uid and not cred.root:
        raise PermissionDenied(f"Permission denied: only root reads uid {req.uid}'s quota")

    def run(txn):
        found: list[meta_pb2.Quota] = []
        if req.path:
            inode = resolve(txn, req.path, cred)
            dirs = list(inode.quota_dirs)
            if inode.type == DIRECTORY and inode.id not in dirs:
                dirs.append(inode.id)
            found += [q for q in map(lambda d: _usage.tree_quota(txn, d), reversed(dirs)) if q is not None]
        if req.path or req.user_quota or not cred.root:
            mine = _usage.user_quota(txn, req.uid if req.user_quota else cred.uid)
            found += [mine] if mine is not None else []
            return found
        for prefix in (keys.QUOTA_TREE, keys.QUOTA_USER):
            begin, end = keys.prefix_range(prefix)
            found += [meta_pb2.Quota.FromString(raw) for _, raw in txn.get_range(begin, end)]
        return found

    return meta_pb2.GetQuotaReply(quotas=ctx.kv.transact(run, readonly=True))


def extend_write(ctx: OpContext, cred: Cred, req: meta_pb2.ExtendWriteRequest) -> meta_pb2.ExtendWriteReply:
    """A write capability of the same session that reaches at least ``end``, with the room reserved
    against the file's quotas (EDQUOT when one has none left)."""
    if ctx.capabilities is None:
        raise FS3Error("this meta server issues no data-plane capabilities", status=Status.INVALID_ARGUMENT)
    try:
        cap = _capability.verify(ctx.capabilities, req.capability, expired_ok=True)
    except ValueError as exc:
        raise PermissionDenied(f"Permission denied: {exc}") from None
    if cap.uid != cred.uid or cap.access != _capability.WRITE:
        raise PermissionDenied("Permission denied: not a write capability of yours")

    def run(txn):
        inode = get_inode(txn, cap.inode)
        if inode is None:
            raise NotFound(f"No such file (inode {cap.inode} was removed)")
        live_session(txn, cap)
        reach = write_reach(txn, inode)
        if reach.limit >= req.end:
            return reach
        step = max(RESERVE_STEP, inode.layout.chunk_size)
        try:
            _usage.resize(txn, inode, -(-req.end // step) * step)
        except QuotaExceeded:
            _usage.resize(txn, inode, req.end)  # no room for a step: exactly what is asked, or EDQUOT
        put_inode(txn, inode)
        return write_reach(txn, inode)

    reach = ctx.kv.transact(run)
    return meta_pb2.ExtendWriteReply(
        capability=issue(ctx, cred, _capability.WRITE, cap.inode, cap.session, reach=reach))
