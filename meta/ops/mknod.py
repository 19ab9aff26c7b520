"""Mknod: a special file (fifo, character or block device, socket). It is only an inode: what flows
through it belongs to the machine that opens it (the kernel's pipe, the device's driver), never to
storage. Devices are made by root (and admins) only, as mknod(2) needs CAP_MKNOD."""

from __future__ import annotations

from fs3._errors import AlreadyExists, InvalidArgument, NotPermitted
from fs3.proto import meta_pb2

from . import _usage
from ._changes import touch
from ._context import OpContext
from ._idempotence import once
from ._permissions import Cred, W, X, acting, check, new_owner
from ._records import get_dentry, put_dentry, put_inode
from ._walk import dot_target, resolve_parent

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
        if dot_target(txn, req.path, cred) is not None:
            raise AlreadyExists("File exists", path=req.path)
        parent, name = resolve_parent(txn, req.path, cred)
        if get_dentry(txn, parent.id, name) is not None:
            raise AlreadyExists("File exists", path=req.path)
        check(parent, cred, W | X, req.path)
        now = ctx.clock()
        uid, gid = new_owner(parent, cred)
        inode = meta_pb2.Inode(
            id=ino, type=req.type, mode=req.mode & 0o7777, nlink=1, uid=uid, gid=gid, parent=parent.id,
            rdev=req.rdev if req.type in DEVICES else 0, atime_ns=now, mtime_ns=now, ctime_ns=now,
        )
        _usage.created(txn, inode, parent, req.path)  # one inode, no bytes (usage_bytes counts files)
        put_inode(txn, inode)
        put_dentry(txn, parent.id, name, ino, req.type)
        touch(parent, now)
        put_inode(txn, parent)
        return inode

    return meta_pb2.MknodReply(inode=once(ctx, req.request_id, meta_pb2.Inode, run))
