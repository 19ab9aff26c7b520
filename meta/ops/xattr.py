"""Extended attributes: GetXattr (one value, or the list of names) and SetXattr (set or remove), kept as
``XATR<inode><name>`` beside the inode, with ext4's limits and Linux's errors.

Namespaces: ``user.`` (regular files and directories only; reading needs read permission on the
inode, changing it write permission), ``security.`` (anyone who reaches the inode reads it; only root or
an admin changes it, as without a security module), ``trusted.`` (root and admins only: others neither
see nor read them). Anything else (``system.`` ACLs included) is EOPNOTSUPP. A name is 1 to 255 bytes
(ERANGE), a value at most 64 KiB (E2BIG), and the names and values of one inode together at most 64 KiB
(ENOSPC, as ext4 answers when its attribute block is full). A missing attribute is ENODATA.
"""

from __future__ import annotations

from fs3._errors import AlreadyExists, NoAttribute, NoSpace, NotPermitted, NotSupported, OutOfRange, TooBig
from fs3.proto import meta_pb2

from .. import _keys as keys
from ..kv import Transaction
from ._changes import touch
from ._context import OpContext
from ._idempotence import once
from ._permissions import Cred, R, W, check, check_owner
from ._records import DIRECTORY, FILE, put_inode
from ._walk import resolve

NAME_MAX = 255            # bytes of a name, namespace prefix included (XATTR_NAME_MAX)
VALUE_MAX = 64 * 1024     # bytes of one value (XATTR_SIZE_MAX)
INODE_MAX = 64 * 1024     # bytes of all names and values of one inode
NAMESPACES = ("user.", "security.", "trusted.")


def _checked_name(name: str, path: str) -> bytes:
    raw = name.encode("utf-8", "surrogateescape")
    if not raw or len(raw) > NAME_MAX:
        raise OutOfRange(f"Numerical result out of range (an attribute name is 1 to {NAME_MAX} bytes)", path=path)
    if not name.startswith(NAMESPACES) or name in NAMESPACES:
        raise NotSupported(f"Operation not supported (attribute namespaces: {', '.join(NAMESPACES)})", path=path)
    return raw


def _may(inode: meta_pb2.Inode, cred: Cred, name: str, want: int, path: str) -> None:
    """Linux's xattr_permission for fs3's namespaces (``want``: R to read, W to change)."""
    if name.startswith("trusted."):
        if not cred.admin:
            raise NotPermitted("Operation not permitted (trusted attributes are root's)", path=path)
    elif name.startswith("security."):
        if want == W and not cred.admin:
            raise NotPermitted("Operation not permitted (security attributes are set by root)", path=path)
    else:  # user.
        if inode.type not in (FILE, DIRECTORY):
            if want == R:
                raise NoAttribute("No data available", path=path)
            raise NotPermitted("Operation not permitted (user attributes on files and directories only)",
                               path=path)
        if inode.mode & 0o1000 and inode.type == DIRECTORY and want == W and not cred.admin:
            check_owner(inode, cred, path)  # (a sticky directory's user attributes are its owner's)
        check(inode, cred, want, path)


def _all(txn: Transaction, ino: int) -> list[tuple[str, bytes]]:
    begin, end = keys.prefix_range(keys.xattr_prefix(ino))
    skip = len(keys.xattr_prefix(ino))
    return [(bytes(k[skip:]).decode("utf-8", "surrogateescape"), bytes(v)) for k, v in txn.get_range(begin, end)]


def get_xattr(ctx: OpContext, cred: Cred, req: meta_pb2.GetXattrRequest) -> meta_pb2.GetXattrReply:
    """One attribute's value, or with ``list`` the names the caller may see."""
    path, follow = req.path, not req.no_follow

    def run(txn):
        inode = resolve(txn, path, cred, follow=follow)
        if req.list:
            names = [n for n, _ in _all(txn, inode.id) if cred.admin or not n.startswith("trusted.")]
            return meta_pb2.GetXattrReply(names=names)
        _checked_name(req.name, path)
        _may(inode, cred, req.name, R, path)
        value = txn.get(keys.xattr(inode.id, req.name))
        if value is None:
            raise NoAttribute("No data available (no such attribute)", path=path)
        return meta_pb2.GetXattrReply(value=bytes(value))

    return ctx.kv.transact(run, readonly=True)


def set_xattr(ctx: OpContext, cred: Cred, req: meta_pb2.SetXattrRequest) -> meta_pb2.SetXattrReply:
    """Set (``create``: only a new one, EEXIST; ``replace``: only an existing one, ENODATA) or
    ``remove`` one attribute; the inode's ctime changes."""
    path = req.path
    raw_name = _checked_name(req.name, path)
    if len(req.value) > VALUE_MAX:
        raise TooBig(f"Argument list too long (an attribute value is at most {VALUE_MAX} bytes)", path=path)

    def run(txn):
        inode = resolve(txn, path, cred, follow=not req.no_follow)
        _may(inode, cred, req.name, W, path)
        key = keys.xattr(inode.id, req.name)
        old = txn.get(key)
        if req.remove or req.replace:
            if old is None:
                raise NoAttribute("No data available (no such attribute)", path=path)
        if req.create and old is not None:
            raise AlreadyExists("File exists (the attribute is already set)", path=path)
        if req.remove:
            txn.clear(key)
        else:
            used = sum(len(n.encode("utf-8", "surrogateescape")) + len(v) for n, v in _all(txn, inode.id))
            used -= 0 if old is None else len(raw_name) + len(old)
            if used + len(raw_name) + len(req.value) > INODE_MAX:
                raise NoSpace(f"No space left on device (an inode's attributes are at most {INODE_MAX} bytes)",
                              path=path)
            txn.set(key, bytes(req.value))
        touch(inode, ctx.clock(), data=False)
        put_inode(txn, inode)
        return meta_pb2.SetXattrReply()

    return once(ctx, req.request_id, meta_pb2.SetXattrReply, run)

