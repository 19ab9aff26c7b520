"""Link and symlink: a second name for a file, and a name that points at a path."""

from __future__ import annotations

from fs3._errors import AlreadyExists, CrossQuota, InvalidArgument, NameTooLong, NotFound, NotPermitted
from fs3._paths import PATH_MAX
from fs3.proto import meta_pb2

from . import _usage
from ._changes import touch
from ._context import OpContext
from ._entries import add_entry
from ._idempotence import once
from ._permissions import Cred, W, X, acting, check
from ._records import DIRECTORY, SYMLINK, get_dentry, put_dentry, put_inode
from ._walk import dot_target, resolve, resolve_parent


def link(ctx: OpContext, cred: Cred, req: meta_pb2.LinkRequest) -> meta_pb2.LinkReply:
    """A hard link: ``dst`` becomes another name of the file (or symlink) ``src``; directories
    cannot be linked (EPERM)."""

    def run(txn):
        inode = resolve(txn, req.src, cred, follow=False)
        if dot_target(txn, req.dst, cred) is not None:
            raise AlreadyExists("File exists", path=req.dst)
        parent, name = resolve_parent(txn, req.dst, cred)
        if get_dentry(txn, parent.id, name) is not None:
            raise AlreadyExists("File exists", path=req.dst)
        if inode.type == DIRECTORY:  # (after EEXIST, as Linux orders them)
            raise NotPermitted("Operation not permitted (hard links to directories)", path=req.src)
        check(parent, cred, W | X, req.dst)
        if sorted(_usage.dirs_for_child(txn, parent)) != sorted(inode.quota_dirs):
            raise CrossQuota("Invalid cross-device link: the new name would be under different tree quotas "
                             "than the file (copy it instead)", path=req.dst)
        now = ctx.clock()
        inode.nlink += 1
        touch(inode, now, data=False)
        put_inode(txn, inode)
        put_dentry(txn, parent.id, name, inode.id, inode.type)
        touch(parent, now)
        put_inode(txn, parent)
        return inode

    return meta_pb2.LinkReply(inode=once(ctx, req.request_id, meta_pb2.Inode, run))


def symlink(ctx: OpContext, cred: Cred, req: meta_pb2.SymlinkRequest) -> meta_pb2.SymlinkReply:
    """A symbolic link at ``path`` whose content is ``target`` (not checked: it may dangle)."""
    if not req.target:
        raise NotFound("No such file or directory (empty symlink target)", path=req.path)
    if "\0" in req.target:
        raise InvalidArgument("Invalid symlink target: contains NUL", path=req.path)
    if len(req.target.encode("utf-8")) >= PATH_MAX:
        raise NameTooLong(f"File name too long (symlink target over {PATH_MAX - 1} bytes)", path=req.path)
    cred = acting(cred, req)
    ino = ctx.alloc_inode()

    def run(txn):
        return add_entry(txn, ctx, cred, req.path, ino, SYMLINK, mode=0o777,
                         length=len(req.target.encode("utf-8")), symlink_target=req.target)

    return meta_pb2.SymlinkReply(inode=once(ctx, req.request_id, meta_pb2.Inode, run))
