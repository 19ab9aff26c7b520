"""Stat: the inode a path names."""

from __future__ import annotations

from fs3.proto import meta_pb2

from ._common import OpContext, resolve


def stat(ctx: OpContext, path: str) -> meta_pb2.Inode:
    return ctx.kv.transact(lambda txn: resolve(txn, path), readonly=True)
