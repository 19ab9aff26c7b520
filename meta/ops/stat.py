"""Stat (and lstat), batch stat, readlink: what a path names."""

from __future__ import annotations

from fs3._errors import FS3Error, InvalidArgument
from fs3.proto import meta_pb2

from ._context import OpContext
from ._permissions import ROOT_CRED, Cred
from ._records import SYMLINK
from ._walk import resolve
from .capabilities import read_capability


def stat(ctx: OpContext, cred: Cred, req: meta_pb2.StatRequest) -> meta_pb2.StatReply:
    """The inode ``path`` names; with ``no_follow`` a symlink's own (lstat)."""
    path, follow = req.path, not req.no_follow
    inode = ctx.kv.transact(lambda txn: resolve(txn, path, cred, follow=follow), readonly=True)
    if req.capability:
        return meta_pb2.StatReply(inode=inode, read_capability=read_capability(ctx, cred, inode))
    return meta_pb2.StatReply(inode=inode)


def batch_stat(ctx: OpContext, cred: Cred, req: meta_pb2.BatchStatRequest) -> meta_pb2.BatchStatReply:
    """Many stats in one snapshot; each path gets its inode or why not."""
    follow = not req.no_follow

    def run(txn):
        out = []
        for path in req.paths:
            try:
                inode = resolve(txn, path, cred, follow=follow)
                cap = read_capability(ctx, cred, inode) if req.capabilities else b""
                out.append(meta_pb2.StatResult(inode=inode, read_capability=cap))
            except FS3Error as exc:
                out.append(meta_pb2.StatResult(status=int(exc.status), message=exc.strerror or ""))
        return out

    return meta_pb2.BatchStatReply(results=ctx.kv.transact(run, readonly=True))


def readlink(ctx: OpContext, cred: Cred, req: meta_pb2.ReadLinkRequest) -> meta_pb2.ReadLinkReply:
    """What the symlink at ``path`` points to (EINVAL for anything else)."""
    path = req.path
    inode = ctx.kv.transact(lambda txn: resolve(txn, path, cred, follow=False), readonly=True)
    if inode.type != SYMLINK:
        raise InvalidArgument("Invalid argument (not a symbolic link)", path=path)
    return meta_pb2.ReadLinkReply(target=inode.symlink_target)


def names_something(ctx: OpContext, path: str) -> bool:
    """Whether ``path`` exists (through symlinks), whoever asks: for meta's own routing of a call, never
    an answer to a user."""
    try:
        ctx.kv.transact(lambda txn: resolve(txn, path, ROOT_CRED), readonly=True)
    except FS3Error:
        return False
    return True
