"""Open: look up (or create) a file, through symlinks, record a session (for writing, or a read session
that only keeps the file's data should it be removed while open), truncate on request."""

from __future__ import annotations

import random

from fs3._errors import AlreadyExists, InvalidArgument, IsADirectory, NotFound, NotSupported, Unavailable
from fs3._layout import valid_chunk_size
from fs3.proto import cluster_pb2, common_pb2, meta_pb2

from .. import _keys as keys
from ..kv import Transaction
from . import _usage
from ._changes import end_session, shared_with, touch
from ._context import OpContext
from ._idempotence import once
from ._permissions import Cred, R, W, X, acting, check, new_file_mode, new_owner
from ._records import DIRECTORY, FILE, get_inode, put_dentry, put_inode
from ._walk import dot_target, resolve_target
from .capabilities import read_capability, write_capability
from .stat import names_something
from .truncate import set_length

DEFAULT_FILE_MODE = 0o644
CHAIN_TABLE_ID = 1


def choose_layout(txn: Transaction, parent: meta_pb2.Inode, chunk_size: int, stripe: int) -> common_pb2.Layout:
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


def open_file(ctx: OpContext, cred: Cred, req: meta_pb2.OpenRequest) -> meta_pb2.OpenReply:
    """The file's inode, the session id (a write session, or a read session when not opened for
    writing) and the data plane's capabilities: to read when the caller may, to write in a write
    session."""
    if req.truncate and not req.write:
        raise InvalidArgument("Invalid argument: truncate needs write access", path=req.path)
    caller = acting(cred, req)  # checks and ownership as the mount's local user; capabilities as the token's
    ino = ctx.alloc_inode() if req.create else 0
    session = random.getrandbits(63) | 1  # a read session too: it keeps the file's data if it is removed

    def run(txn):
        for ino_, sid in zip(req.release_inodes, req.release_sessions, strict=False):
            end_session(txn, ino_, sid, ctx.clock())  # files the client closed unwritten (see OpenRequest)
        if dot_target(txn, req.path, caller) is not None:  # a directory, by name
            if req.create and req.exclusive:
                raise AlreadyExists("File exists", path=req.path)
            raise IsADirectory("Is a directory", path=req.path)
        parent, name, entry = resolve_target(txn, req.path, caller)
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
            if inode.type != FILE:  # a fifo, device or socket: the kernel of a mount opens those itself
                raise NotSupported("Operation not supported (a special file has no data in fs3: open it "
                                   "through fs3 mount)", path=req.path)
            check(inode, caller, W if req.write else R, req.path)
        elif not req.create:
            raise NotFound("No such file or directory", path=req.path)
        else:
            check(parent, caller, W | X, req.path)
            layout = choose_layout(txn, parent, req.chunk_size, req.stripe)
            uid, gid = new_owner(parent, caller)
            mode = new_file_mode(req.mode if req.exact_mode else req.mode or DEFAULT_FILE_MODE, gid, caller)
            inode = meta_pb2.Inode(
                id=ino, type=FILE, mode=mode & 0o7777, nlink=1,
                uid=uid, gid=gid, layout=layout, atime_ns=now, mtime_ns=now, ctime_ns=now, stored_known=True,
            )
            _usage.created(txn, inode, parent, req.path)
            put_inode(txn, inode)
            put_dentry(txn, parent.id, name, ino, FILE)
            touch(parent, now)
            put_inode(txn, parent)
            created = True
        record = meta_pb2.Session(id=session, inode=inode.id, client=req.client, opened_ns=now,
                                  expires_ns=now + int(ctx.config.session_ttl * 1e9),
                                  reserved=req.write and _usage.has_quota(txn, inode))
        key = keys.session if req.write else keys.reader
        txn.set(key(inode.id, session), record.SerializeToString())
        shared = not created and shared_with(txn, inode.id, req.client, now, writing=req.write)
        return _Opened(meta_pb2.OpenReply(inode=inode, session=session, shared=shared), created)

    opened = once(ctx, req.request_id, _Opened, run)
    reply = opened.reply
    if req.truncate and not opened.created:
        reply.inode.CopyFrom(set_length(ctx, reply.inode.id, 0, req.path))
    reply.session_ttl_ms = int(ctx.config.session_ttl * 1000)
    # Not kept by ``once``: a retried open gets capabilities of its own.
    reply.read_capability = read_capability(ctx, cred, reply.inode)
    if req.write:
        reply.write_capability = write_capability(ctx, cred, reply.inode.id, reply.session)
    return reply


def truncates_existing(ctx: OpContext, req: meta_pb2.OpenRequest) -> bool:
    """Whether this open would remove an existing file's chunks from the storage nodes (it truncates
    and the path names something), for meta's routing of the call."""
    return req.truncate and names_something(ctx, req.path)


class _Opened:
    """An Open's outcome as ``once`` stores it: the reply, and whether the file was created."""

    def __init__(self, reply: meta_pb2.OpenReply, created: bool):
        self.reply, self.created = reply, created

    def SerializeToString(self) -> bytes:  # noqa: N802 - the protobuf method name once() calls
        return bytes([self.created]) + self.reply.SerializeToString()

    @classmethod
    def FromString(cls, raw: bytes) -> _Opened:  # noqa: N802
        return cls(meta_pb2.OpenReply.FromString(raw[1:]), bool(raw[0]))
