"""Capabilities for the data plane (fs3/_capability.py): issued by the calls that check a file's
permissions along its path (Open, and Stat/BatchStat when asked), and renewed for the clients that hold
them while their user exists and, for writes, their write session lives.

A renewal checks the holder, not the path again: like a file descriptor in POSIX, a capability outlives
a chmod or a rename of its file. What ends it is the user's removal or a revoked token (meta refuses the
renewal, so it lapses within ``LIFETIME`` seconds), the file's removal, or the end of the write session.
"""

from __future__ import annotations

from fs3 import _capability
from fs3._errors import FS3Error, NotFound, PermissionDenied, Status
from fs3.proto import cluster_pb2, meta_pb2

from .. import _keys as keys
from ..kv import Transaction
from . import _usage
from ._context import OpContext
from ._permissions import Cred, R, may
from ._records import FILE, get_inode


def issue(ctx: OpContext, cred: Cred, access: int, inode: int, session: int = 0, *,
          reach: _capability.Reach = _capability.NO_REACH) -> bytes:
    """A capability for ``cred`` (b"" where the server issues none: a namespace without storage);
    ``reach``: a write capability's, see ``write_reach``."""
    if ctx.capabilities is None:
        return b""
    return _capability.sign(ctx.capabilities, access, inode, session, cred.uid, reach=reach)


def write_reach(txn: Transaction, inode: meta_pb2.Inode) -> _capability.Reach:
    """Where a write capability lets its holder write the file: how far (anywhere, unless a quota counts
    it: then the room reserved, see ops/_usage.py), in chunks of which size, on which chains."""
    limit = _usage.usage_bytes(inode) if _usage.has_quota(txn, inode) else _capability.UNLIMITED
    return _capability.Reach(limit, inode.layout.chunk_size, *_chains(txn, inode.layout))


def _chains(txn: Transaction, layout) -> tuple[int, int, int, int]:
    """The layout's chains as (table id, start, stripe, table length then): new files take ``stripe``
    consecutive chains of a chain table from a random start (ops/open.py), and tables only grow. A
    layout that is not so (none is made) gets stripe 0: its writes are not bound to chains."""
    table_id = layout.table_id or 1
    raw = txn.get(keys.chain_table(table_id))
    chains = list(layout.chains)
    if raw is None or not chains:
        return 0, 0, 0, 0
    table = list(cluster_pb2.ChainTable.FromString(raw).chains)
    start = table.index(chains[0]) if chains[0] in table else -1
    wrap = chains.index(table[0]) if start > 0 and table[0] in chains else 0
    length = start + wrap if wrap else len(table)
    if start < 0 or any(table[(start + k) % length] != c for k, c in enumerate(chains)):
        return 0, 0, 0, 0
    return table_id, start, len(chains), length


def write_capability(ctx: OpContext, cred: Cred, ino: int, session: int) -> bytes:
    """A write capability for a session just opened."""
    if ctx.capabilities is None:
        return b""

    def run(txn):
        inode = get_inode(txn, ino)
        if inode is None:
            raise NotFound(f"No such file (inode {ino} was removed)")
        return write_reach(txn, inode)

    return issue(ctx, cred, _capability.WRITE, ino, session, reach=ctx.kv.transact(run, readonly=True))


def read_capability(ctx: OpContext, cred: Cred, inode: meta_pb2.Inode) -> bytes:
    """A read capability for a file ``cred`` may read, else b"" (the caller's own stat still succeeds)."""
    if inode.type != FILE or not may(inode, cred, R):
        return b""
    return issue(ctx, cred, _capability.READ, inode.id)


def renew_capabilities(ctx: OpContext, cred: Cred,
                       req: meta_pb2.RenewCapabilitiesRequest) -> meta_pb2.RenewCapabilitiesReply:
    """A fresh capability for each one the caller holds, or why not."""
    reply = meta_pb2.RenewCapabilitiesReply()
    if ctx.capabilities is None:
        raise FS3Error("this meta server issues no data-plane capabilities", status=Status.INVALID_ARGUMENT)
    checked = []
    for raw in req.capabilities:
        try:
            cap = _capability.verify(ctx.capabilities, raw, expired_ok=True)
        except ValueError as exc:
            checked.append((None, Status.PERMISSION_DENIED, f"Permission denied: {exc}"))
            continue
        if cap.uid != cred.uid:
            checked.append((None, Status.PERMISSION_DENIED, "Permission denied: a capability of another user"))
            continue
        checked.append((cap, 0, ""))

    def run(txn):
        out = []
        for cap, status, message in checked:
            reach = _capability.Reach()
            if cap is not None:
                try:
                    inode = get_inode(txn, cap.inode)
                    if inode is None:
                        raise NotFound(f"No such file (inode {cap.inode} was removed)")
                    if cap.access == _capability.WRITE:
                        live_session(txn, cap)
                        reach = write_reach(txn, inode)
                except FS3Error as exc:
                    cap, status, message = None, int(exc.status), exc.strerror or str(exc)
            out.append((cap, status, message, reach))
        return out

    for cap, status, message, reach in ctx.kv.transact(run, readonly=True):
        reply.capabilities.append(b"" if cap is None else issue(ctx, cred, cap.access, cap.inode, cap.session,
                                                                reach=reach))
        reply.status.append(status)
        reply.message.append(message)
    return reply


def live_session(txn: Transaction, cap: _capability.Capability) -> None:
    """Raise unless the write session ``cap`` was issued for is still open."""
    if txn.get(keys.session(cap.inode, cap.session)) is None:
        raise PermissionDenied(f"Permission denied: the write session of inode {cap.inode} "
                               "has ended (closed, or not renewed in time)")
