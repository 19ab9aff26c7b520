"""Stat (and lstat), batch stat, readlink: what a path names."""

from __future__ import annotations

from fs3._errors import FS3Error, InvalidArgument
from fs3.proto import meta_pb2

from ._common import ROOT_CRED, SYMLINK, Cred, OpContext, resolve


def stat(ctx: OpContext, path: str, cred: Cred, *, follow: bool = True) -> meta_pb2.Inode:
    return ctx.kv.transact(lambda txn: resolve(txn, path, cred, follow=follow), readonly=True)


def batch_stat(ctx: OpContext, paths: list[str], cred: Cred, *, follow: bool = True) -> list[meta_pb2.StatResult]:
    """Many stats in one snapshot; each path gets its inode or why not."""

    def run(txn):
        out = []
        for path in paths:
            try:
                out.append(meta_pb2.StatResult(inode=resolve(txn, path, cred, follow=follow)))
            except FS3Error as exc:
                out.append(meta_pb2.StatResult(status=int(exc.status), message=exc.strerror or ""))
        return out

    return ctx.kv.transact(run, readonly=True)


def readlink(ctx: OpContext, path: str, cred: Cred) -> str:
    inode = stat(ctx, path, cred, follow=False)
    if inode.type != SYMLINK:
        raise InvalidArgument("Invalid argument (not a symbolic link)", path=path)
    return inode.symlink_target


def names_something(ctx: OpContext, path: str) -> bool:
    """Whether ``path`` exists (through symlinks), whoever asks: for meta's own routing of a call, never
    an answer to a user."""
    try:
        stat(ctx, path, ROOT_CRED)
    except FS3Error:
        return False
    return True
