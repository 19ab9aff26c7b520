"""Remove: unlink a file or symlink, rmdir an empty directory, or detach a whole tree at once.

A recursive remove only detaches the tree's root from its parent (one transaction, however large the
tree); the garbage collector then walks the detached tree and reclaims it in the background.
"""

from __future__ import annotations

from fs3._errors import DirectoryNotEmpty, IsADirectory, NotADirectory, NotFound
from fs3.proto import meta_pb2

from .. import _keys as keys
from ._common import (
    DIRECTORY,
    OpContext,
    drop_directory,
    drop_link,
    get_dentry,
    get_inode,
    has_entries,
    put_inode,
    queue_garbage,
    resolve_parent,
    touch,
)


def remove(ctx: OpContext, req: meta_pb2.RemoveRequest) -> None:
    def run(txn):
        parent, name = resolve_parent(txn, req.path)
        entry = get_dentry(txn, parent.id, name)
        if entry is None:
            raise NotFound("No such file or directory", path=req.path)
        inode = get_inode(txn, entry.inode)
        now = ctx.clock()
        if entry.type == DIRECTORY:
            if not (req.directory or req.recursive or req.any_type):
                raise IsADirectory("Is a directory", path=req.path)
            if inode is not None:
                if has_entries(txn, inode.id):
                    if not req.recursive:
                        raise DirectoryNotEmpty("Directory not empty", path=req.path)
                    queue_garbage(txn, inode, now)
                else:
                    drop_directory(txn, inode, now)
            parent.nlink = max(2, parent.nlink - 1)
        else:
            if req.directory:
                raise NotADirectory("Not a directory", path=req.path)
            if inode is not None:
                drop_link(txn, inode, now)
        txn.clear(keys.dentry(parent.id, name))
        touch(parent, now)
        put_inode(txn, parent)

    ctx.kv.transact(run)
