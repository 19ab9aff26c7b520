"""The dispatch table: every namespace call of the Meta service, by its gRPC method name, with its
request and reply messages and the operation that answers it. Both of meta's boundaries serve calls
from it: the gRPC ``MetaServicer`` (meta/_service.py) and the framed call listener
(meta/_call_server.py), so a call means the same whichever way it came."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fs3.proto import meta_pb2

from ._context import OpContext
from ._permissions import Cred
from .append import append
from .capabilities import renew_capabilities
from .close import close_file, renew_sessions
from .link import link, symlink
from .lock import lock
from .mkdir import mkdir
from .mknod import mknod
from .open import open_file, truncates_existing
from .quota import extend_write, get_quota, set_quota
from .readdir import readdir
from .remove import remove
from .rename import rename
from .setattr import setattr_
from .stat import batch_stat, readlink, stat
from .statfs import statfs
from .truncate import truncate
from .xattr import get_xattr, set_xattr


def _always(_ctx: OpContext, _request: Any) -> bool:
    return True


@dataclass(frozen=True, slots=True)
class Operation:
    """One namespace call: ``run(ctx, cred, request) -> reply``.

    ``read_only``: it changes nothing (a call server may answer it beside a group commit).
    ``reaches_storage``: None when it never calls storage nodes, else whether this request would (so
    a call server runs it where a network round trip stalls nothing else)."""

    name: str
    request: Any  # the meta_pb2 request message class
    reply: Any    # the meta_pb2 reply message class
    run: Callable[[OpContext, Cred, Any], Any]
    read_only: bool = False
    reaches_storage: Callable[[OpContext, Any], bool] | None = None

    @property
    def may_reach_storage(self) -> bool:
        return self.reaches_storage is not None


OPERATIONS: dict[str, Operation] = {op.name: op for op in (
    Operation("Stat", meta_pb2.StatRequest, meta_pb2.StatReply, stat, read_only=True),
    Operation("BatchStat", meta_pb2.BatchStatRequest, meta_pb2.BatchStatReply, batch_stat, read_only=True),
    Operation("ReadLink", meta_pb2.ReadLinkRequest, meta_pb2.ReadLinkReply, readlink, read_only=True),
    Operation("Mkdir", meta_pb2.MkdirRequest, meta_pb2.MkdirReply, mkdir),
    Operation("Open", meta_pb2.OpenRequest, meta_pb2.OpenReply, open_file,
              reaches_storage=truncates_existing),
    Operation("Close", meta_pb2.CloseRequest, meta_pb2.CloseReply, close_file),
    Operation("RenewSessions", meta_pb2.RenewSessionsRequest, meta_pb2.RenewSessionsReply, renew_sessions),
    Operation("RenewCapabilities", meta_pb2.RenewCapabilitiesRequest, meta_pb2.RenewCapabilitiesReply,
              renew_capabilities, read_only=True),
    Operation("ReadDir", meta_pb2.ReadDirRequest, meta_pb2.ReadDirReply, readdir, read_only=True),
    Operation("Remove", meta_pb2.RemoveRequest, meta_pb2.RemoveReply, remove),
    Operation("Rename", meta_pb2.RenameRequest, meta_pb2.RenameReply, rename),
    Operation("Truncate", meta_pb2.TruncateRequest, meta_pb2.TruncateReply, truncate,
              reaches_storage=_always),
    Operation("SetAttr", meta_pb2.SetAttrRequest, meta_pb2.SetAttrReply, setattr_),
    Operation("Link", meta_pb2.LinkRequest, meta_pb2.LinkReply, link),
    Operation("Symlink", meta_pb2.SymlinkRequest, meta_pb2.SymlinkReply, symlink),
    Operation("StatFs", meta_pb2.StatFsRequest, meta_pb2.StatFsReply, statfs, read_only=True),
    Operation("SetQuota", meta_pb2.SetQuotaRequest, meta_pb2.SetQuotaReply, set_quota),
    Operation("GetQuota", meta_pb2.GetQuotaRequest, meta_pb2.GetQuotaReply, get_quota, read_only=True),
    Operation("ExtendWrite", meta_pb2.ExtendWriteRequest, meta_pb2.ExtendWriteReply, extend_write),
    Operation("Mknod", meta_pb2.MknodRequest, meta_pb2.MknodReply, mknod),
    Operation("GetXattr", meta_pb2.GetXattrRequest, meta_pb2.GetXattrReply, get_xattr, read_only=True),
    Operation("SetXattr", meta_pb2.SetXattrRequest, meta_pb2.SetXattrReply, set_xattr),
    Operation("Append", meta_pb2.AppendRequest, meta_pb2.AppendReply, append),
    Operation("Lock", meta_pb2.LockRequest, meta_pb2.LockReply, lock),
)}
