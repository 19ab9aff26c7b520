"""Quota accounting: what each inode counts against the quotas of its directory trees and of its owner,
kept inside the transaction that changes it, so usage is exact whatever fails.

Every inode names the directories with a tree quota above it (``Inode.quota_dirs``, copied from its
parent when it is made) and counts one inode against each of them and against its owner's user quota
(when one is set). A file also counts ``Inode.charged`` bytes: its length, or more while a writer holds
room reserved past it (ExtendWrite). Growth is refused with EDQUOT where a quota has no room; shrinking
is never refused. Nothing is counted where no quota exists: a namespace without quotas pays two key
reads per create.

A quota set on a directory that has content counts it first (``count_tree``, one transaction), and a
rename that would move an inode between trees with different quotas moves its usage (a directory's whole
subtree, up to ``MAX_MOVED`` inodes; beyond that EXDEV, as XFS answers across project quotas).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from fs3._errors import CrossQuota, QuotaExceeded
from fs3.proto import meta_pb2

from .. import _keys as keys
from ..kv import Transaction, prefix_end
from ._records import DIRECTORY, FILE, get_inode, put_inode

MAX_MOVED = 100_000  # inodes a rename may re-count between quota trees in one transaction


def tree_quota(txn: Transaction, directory: int) -> meta_pb2.Quota | None:
    raw = txn.get(keys.quota_tree(directory))
    return None if raw is None else meta_pb2.Quota.FromString(raw)


def user_quota(txn: Transaction, uid: int) -> meta_pb2.Quota | None:
    raw = txn.get(keys.quota_user(uid))
    return None if raw is None else meta_pb2.Quota.FromString(raw)


def put_quota(txn: Transaction, quota: meta_pb2.Quota) -> None:
    key = keys.quota_tree(quota.directory) if quota.directory else keys.quota_user(quota.uid)
    txn.set(key, quota.SerializeToString())


def dirs_for_child(txn: Transaction, parent: meta_pb2.Inode) -> list[int]:
    """The tree quotas an inode made in ``parent`` counts against: the parent's, and the parent's own."""
    dirs = list(parent.quota_dirs)
    if parent.id not in dirs and tree_quota(txn, parent.id) is not None:
        dirs.append(parent.id)
    return dirs


def usage_bytes(inode: meta_pb2.Inode) -> int:
    """The bytes ``inode`` counts (files only)."""
    return max(inode.length, inode.charged) if inode.type == FILE else 0


def _quotas(txn: Transaction, uid: int | None, dirs: Iterable[int]) -> Iterator[meta_pb2.Quota]:
    user = user_quota(txn, uid) if uid is not None else None
    if user is not None:
        yield user
    for directory in dict.fromkeys(dirs):
        quota = tree_quota(txn, directory)
        if quota is not None:
            yield quota


def has_quota(txn: Transaction, inode: meta_pb2.Inode) -> bool:
    """Whether any quota counts this inode (else writes to it need no reservation)."""
    return next(_quotas(txn, inode.uid, inode.quota_dirs), None) is not None


def charge(txn: Transaction, uid: int | None, dirs: Iterable[int], nbytes: int, inodes: int, *,
           enforce: bool = True, path: str = "") -> None:
    """Add ``nbytes`` and ``inodes`` (either may be negative) to the quotas of user ``uid`` and of the
    trees ``dirs`` (``uid`` None: the trees only). With ``enforce``, growth past any limit raises QuotaExceeded and changes nothing."""
    if not nbytes and not inodes:
        return
    quotas = list(_quotas(txn, uid, dirs))
    if enforce:
        for q in quotas:
            whose = f"the quota of directory {q.path or q.directory}" if q.directory else f"uid {q.uid}'s quota"
            if nbytes > 0 and q.max_bytes and q.used_bytes + nbytes > q.max_bytes:
                raise QuotaExceeded(f"Disk quota exceeded: {whose} allows {q.max_bytes} bytes, "
                                    f"{q.used_bytes} are used", path=path)
            if inodes > 0 and q.max_inodes and q.used_inodes + inodes > q.max_inodes:
                raise QuotaExceeded(f"Disk quota exceeded: {whose} allows {q.max_inodes} inodes, "
                                    f"{q.used_inodes} are used", path=path)
    for q in quotas:
        q.used_bytes = max(0, q.used_bytes + nbytes)
        q.used_inodes = max(0, q.used_inodes + inodes)
        put_quota(txn, q)


def created(txn: Transaction, inode: meta_pb2.Inode, parent: meta_pb2.Inode, path: str = "") -> None:
    """A new inode in ``parent``: it counts against the parent's trees and its owner (EDQUOT if full).
    Call before the inode is saved: it sets ``quota_dirs``."""
    inode.quota_dirs[:] = dirs_for_child(txn, parent)
    charge(txn, inode.uid, inode.quota_dirs, usage_bytes(inode), 1, path=path)


def released(txn: Transaction, inode: meta_pb2.Inode) -> None:
    """``inode`` left the namespace: what it counted is free again."""
    charge(txn, inode.uid, inode.quota_dirs, -usage_bytes(inode), -1, enforce=False)


def resize(txn: Transaction, inode: meta_pb2.Inode, charged: int, *, enforce: bool = True, path: str = "") -> None:
    """Make file ``inode`` count ``charged`` bytes (at least its length); the caller saves it."""
    charged = max(charged, inode.length)
    charge(txn, inode.uid, inode.quota_dirs, charged - usage_bytes(inode), 0, enforce=enforce, path=path)
    inode.charged = charged


def has_writers(txn: Transaction, ino: int) -> bool:
    begin, end = keys.prefix_range(keys.session_prefix(ino))
    return bool(txn.get_range(begin, end, limit=1))


def settle(txn: Transaction, inode: meta_pb2.Inode, length: int, *, enforce: bool = False, path: str = "") -> None:
    """File ``inode`` gets this length: it counts the length, or keeps its reservation while a writer
    is open (whose capability may still write that far). The caller saves ``inode``."""
    before = usage_bytes(inode)
    inode.length = length
    writers = has_writers(txn, inode.id)
    charged = max(length, inode.charged if writers else 0)
    if not writers:
        inode.append_end = 0  # (appends given out but never written leave no hole: ops/append.py)
    charge(txn, inode.uid, inode.quota_dirs, charged - before, 0, enforce=enforce, path=path)
    inode.charged = charged


def rechown(txn: Transaction, inode: meta_pb2.Inode, uid: int, path: str = "") -> None:
    """``inode`` changes owner: its usage moves from the old owner's quota to the new one's (EDQUOT)."""
    charge(txn, uid, (), usage_bytes(inode), 1, path=path)
    charge(txn, inode.uid, (), -usage_bytes(inode), -1, enforce=False)


def subtree(txn: Transaction, top: meta_pb2.Inode, limit: int) -> Iterator[meta_pb2.Inode]:
    """Every inode below directory ``top`` (each once, hard links too); CrossQuota past ``limit``."""
    seen: set[int] = set()
    todo = [top.id]
    while todo:
        prefix = keys.dentry_prefix(todo.pop())
        for _, raw in txn.get_range(prefix, prefix_end(prefix)):
            ino = meta_pb2.Dentry.FromString(raw).inode
            if ino in seen:
                continue
            seen.add(ino)
            if len(seen) > limit:
                raise CrossQuota(f"Invalid cross-quota move: more than {limit} inodes to re-count "
                                 "(copy the tree instead)")
            child = get_inode(txn, ino)
            if child is None:
                continue
            yield child
            if child.type == DIRECTORY:
                todo.append(child.id)


def move(txn: Transaction, inode: meta_pb2.Inode, old_parent: meta_pb2.Inode, new_parent: meta_pb2.Inode,
         path: str = "") -> None:
    """``inode`` moves from ``old_parent`` to ``new_parent``: where their trees' quotas differ, its usage
    (a directory's whole subtree) leaves the old trees and joins the new ones (EDQUOT if they are full).
    The caller saves ``inode``; its descendants are saved here."""
    before = dirs_for_child(txn, old_parent)
    after = dirs_for_child(txn, new_parent)
    if before == after:
        return
    left = [d for d in before if d not in after]
    joined = [d for d in after if d not in before]
    moved = [inode]
    if inode.type == DIRECTORY:
        moved += list(subtree(txn, inode, MAX_MOVED))
    nbytes = sum(usage_bytes(i) for i in moved)
    charge(txn, None, joined, nbytes, len(moved), path=path)  # the owners' quotas stay as they are
    charge(txn, None, left, -nbytes, -len(moved), enforce=False)
    for node in moved:
        node.quota_dirs[:] = [d for d in node.quota_dirs if d not in left] + [d for d in joined
                                                                            if d not in node.quota_dirs]
        if node is not inode:
            put_inode(txn, node)


def count_tree(txn: Transaction, top: meta_pb2.Inode, limit: int) -> tuple[int, int]:
    """A new quota on directory ``top``: every inode below it now counts against it. Returns (bytes,
    inodes) found."""
    nbytes = inodes = 0
    for node in subtree(txn, top, limit):
        nbytes += usage_bytes(node)
        inodes += 1
        if top.id not in node.quota_dirs:
            node.quota_dirs.append(top.id)
            put_inode(txn, node)
    return nbytes, inodes


def count_user(txn: Transaction, uid: int) -> tuple[int, int]:
    """A new quota on user ``uid``: every inode the user owns now counts against it."""
    nbytes = inodes = 0
    begin, end = keys.prefix_range(keys.INODE)
    for _, raw in txn.get_range(begin, end):
        node = meta_pb2.Inode.FromString(raw)
        if node.uid == uid:
            nbytes += usage_bytes(node)
            inodes += 1
    return nbytes, inodes
