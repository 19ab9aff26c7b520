"""Mknod: a special file (fifo, character or block device, socket). It is only an inode: what flows
through it belongs to the machine that opens it (the kernel's pipe, the device's driver), never to
storage. Devices are made by root (and admins) only, as mknod(2) needs CAP_MKNOD."""

from __future__ import annotations

from fs3._errors import InvalidArgument, NotPermitted
from fs3.proto import meta_pb2

from ._context import OpContext
from ._entries import add_entry
from ._idempotence import once
from ._permissions import Cred, acting

SPECIAL = (meta_pb2.FIFO, meta_pb2.CHAR_DEVICE, meta_pb2.BLOCK_DEVICE, meta_pb2.SOCKET)
DEVICES = (meta_pb2.CHAR_DEVICE, meta_pb2.BLOCK_DEVICE)


def mknod(ctx: OpContext, cred: Cred, req: meta_pb2.MknodRequest) -> meta_pb2.MknodReply:
    """The special file at ``path``, with the permission bits ``mode`` as they are; ``caller`` as in
    Mkdir (admin tokens only)."""
    cred = acting(cred, req)
    if req.type not in SPECIAL:
        raise InvalidArgument("Invalid argument: mknod makes fifos, devices and sockets", path=req.path)
    if req.type in DEVICES and not cred.root:
        raise NotPermitted("Operation not permitted (only root makes device nodes)", path=req.path)
    ino = ctx.alloc_inode()

    def run(txn):
        return add_entry(txn, ctx, cred, req.path, ino, req.type, mode=req.mode & 0o7777,
                         rdev=req.rdev if req.type in DEVICES else 0)

    return meta_pb2.MknodReply(inode=once(ctx, req.request_id, meta_pb2.Inode, run))
