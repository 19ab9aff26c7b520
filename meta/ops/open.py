"""Open: look up (or create) a file, record a write session, and truncate on request."""

from __future__ import annotations

import random

from fs3._errors import AlreadyExists, InvalidArgument, IsADirectory, NotFound, Unavailable
from fs3._layout import valid_chunk_size
from fs3.proto import cluster_pb2, common_pb2, meta_pb2

from .. import _keys as keys
from ._common import (
    DIRECTORY,
    FILE,
    OpContext,
    get_dentry,
    get_inode,
    put_dentry,
    put_inode,
    resolve_parent,
    touch,
)
from .truncate import set_length

DEFAULT_FILE_MODE = 0o644
CHAIN_TABLE_ID = 1


def choose_layout(txn, parent: meta_pb2.Inode, chunk_size: int, stripe: int) -> common_pb2.Layout:
    """A new file's layout: the parent's chunk size and stripe unless overridden, over ``stripe``
    consecutive chains of the chain table starting at a random one (so files spread evenly)."""
    chunk_size = chunk_size or parent.layout.chunk_size
    stripe = stripe or parent.layout.stripe
    if not valid_chunk_size(chunk_size):
        raise InvalidArgument(f"Invalid chunk size {chunk_size}: a power of two from 4 KiB to 64 MiB")
    raw = txn.get(keys.chain_table(CHAIN_TABLE_ID))
    if raw is None:
        raise Unavailable(
            "The cluster has no chain table yet: no storage is attached "
            "(start storage nodes, then run `fs3 cluster create-chains`)"
        )
    table = cluster_pb2.ChainTable.FromString(raw)
    if not table.chains:
        raise Unavailable("The chain table is empty: no storage chains to place data on")
    stripe = max(1, min(stripe, len(table.chains)))
    start = random.randrange(len(table.chains))
    chains = [table.chains[(start + k) % len(table.chains)] for k in range(stripe)]
    return common_pb2.Layout(
        chunk_size=chunk_size, stripe=stripe, chains=chains, table_id=table.id, table_version=table.version
    )


def open_file(ctx: OpContext, req: meta_pb2.OpenRequest) -> tuple[meta_pb2.Inode, int]:
    """Returns the file's inode and the write session id (0 when not opened for writing)."""
    if req.truncate and not req.write:
        raise InvalidArgument("Invalid argument: truncate needs write access", path=req.path)
    ino = ctx.alloc_inode() if req.create else 0
    session = random.getrandbits(63) | 1 if req.write else 0

    def run(txn):
        parent, name = resolve_parent(txn, req.path)
        entry = get_dentry(txn, parent.id, name)
        now = ctx.clock()
        created = False
        if entry is not None:
            if req.create and req.exclusive:
                raise AlreadyExists("File exists", path=req.path)
            inode = get_inode(txn, entry.inode)
            if inode is None:
                raise NotFound("No such file or directory (dangling entry)", path=req.path)
            if inode.type == DIRECTORY:
                raise IsADirectory("Is a directory", path=req.path)
        elif not req.create:
            raise NotFound("No such file or directory", path=req.path)
        else:
            layout = choose_layout(txn, parent, req.chunk_size, req.stripe)
            inode = meta_pb2.Inode(
                id=ino, type=FILE, mode=(req.mode or DEFAULT_FILE_MODE) & 0o7777, nlink=1,
                uid=parent.uid, gid=parent.gid, layout=layout,
                atime_ns=now, mtime_ns=now, ctime_ns=now,
            )
            put_inode(txn, inode)
            put_dentry(txn, parent.id, name, ino, FILE)
            touch(parent, now)
            put_inode(txn, parent)
            created = True
        if session:
            record = meta_pb2.Session(id=session, inode=inode.id, client=req.client, opened_ns=now)
            txn.set(keys.session(inode.id, session), record.SerializeToString())
        return inode, created

    inode, created = ctx.kv.transact(run)
    if req.truncate and not created:
        inode = set_length(ctx, inode.id, 0, req.path)
    return inode, session
