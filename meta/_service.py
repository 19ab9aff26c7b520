"""The meta service's gRPC servicers: thin, each call authenticated and handed to its operation (the
namespace calls through the table ``ops.OPERATIONS``)."""

from __future__ import annotations

import threading

from fs3._errors import NotPermitted, Unavailable
from fs3._rpc import servicer_method
from fs3.proto import admin_pb2, admin_pb2_grpc, cluster_pb2, cluster_pb2_grpc, meta_pb2, meta_pb2_grpc

from . import ops
from ._change_feed import ChangeFeed
from ._cluster import ClusterManager
from ._fair_share import UserSlots
from ._scrub import ChainScrubber
from ._users import Users, user_info

SERVED_APART = {"WatchChanges"}  # Meta methods answered by the servicer itself, not from ops.OPERATIONS


def require_admin(cred: ops.Cred, what: str) -> None:
    if not cred.admin:
        raise NotPermitted(f"Operation not permitted: {what} needs an admin user (you are {cred.name!r})")


class MetaServicer(meta_pb2_grpc.MetaServicer):
    """The namespace calls over gRPC, one method per entry of ``ops.OPERATIONS`` (made below, not
    written out): authenticate the call's token, run the operation, and translate its errors once
    (``servicer_method``). The server's interceptor counts every gRPC call (meta/_server.py)."""

    def __init__(self, ctx: ops.OpContext, users: Users, threads: int = 32, *, changes: ChangeFeed | None = None):
        self.ctx = ctx
        self.users = users
        self.slots = UserSlots(max(2, threads // 4))  # no user takes more than a quarter of the threads
        self.changes = changes or ChangeFeed()
        # Watchers wait in a thread each: at most a quarter of them wait, the rest are answered at once
        # (and poll at their own pace), so watching never starves the namespace calls.
        self.watching = threading.BoundedSemaphore(max(1, threads // 4))

    @servicer_method
    def WatchChanges(self, request, context):
        """The inode changes after ``request.after`` (meta/_change_feed.py), for any authenticated user.
        An administrator's watcher (a mount made with an admin token) gets what a stat of each inode
        shows; anyone else only the inode numbers: a stat of a file in a directory they cannot search
        is refused them, so its attributes must not reach them this way. It may wait for a change, so
        it takes no user slot."""
        cred = self.users.authenticate(context)
        if self.watching.acquire(blocking=False):
            try:
                reply = self.changes.since(request.epoch, request.after, request.wait_ms / 1000)
            finally:
                self.watching.release()
        else:  # watchers enough wait already: answer at once
            reply = self.changes.since(request.epoch, request.after, 0.0)
        if not (cred.admin or cred.root):
            stripped = [meta_pb2.InodeChange(inode=c.inode, removed=c.removed) for c in reply.changes]
            del reply.changes[:]
            reply.changes.extend(stripped)
        return reply


def _grpc_method(op: ops.Operation):
    """The servicer method that answers ``op``'s calls."""
    run = op.run

    def method(self: MetaServicer, request, context):
        cred = self.users.authenticate(context)
        if not self.slots.enter(cred.uid):
            raise Unavailable(f"too many calls of uid {cred.uid} in flight on this meta server "
                              f"({self.slots.limit}); retry shortly")
        try:
            return run(self.ctx, cred, request)
        finally:
            self.slots.leave(cred.uid)

    method.__name__, method.__qualname__ = op.name, f"MetaServicer.{op.name}"  # (named in logs, errors)
    method.__doc__ = f"{op.name}: {run.__module__}.{run.__name__}"
    return servicer_method(method)


for _op in ops.OPERATIONS.values():
    setattr(MetaServicer, _op.name, _grpc_method(_op))
del _op


def authenticate_admin(users: Users, context, what: str) -> ops.Cred:
    """The caller's credentials, which must be an administrator's for ``what``."""
    cred = users.authenticate(context)
    require_admin(cred, what)
    return cred


class ClusterServicer(cluster_pb2_grpc.ClusterServicer):
    """Cluster calls: any user may read the routing info and get a data-plane token; only admins (and
    storage nodes, which run with an admin token) register nodes, beat, and change the cluster."""

    def __init__(self, manager: ClusterManager, users: Users):
        self.manager = manager
        self.users = users
        self.call_address = ""  # this server's framed call listener, told to clients with the routing info
        self.scrubber: ChainScrubber | None = None  # runs `fs3 cluster scrub` (set by the server)

    def _admin(self, context, what: str) -> ops.Cred:
        return authenticate_admin(self.users, context, what)

    @servicer_method
    def RegisterNode(self, request, context):
        self._admin(context, "registering a storage node")
        return self.manager.register(request)

    @servicer_method
    def Heartbeat(self, request, context):
        self._admin(context, "a storage heartbeat")
        return self.manager.heartbeat(request)

    @servicer_method
    def GetRoutingInfo(self, request, context):
        self.users.authenticate(context)
        reply = self.manager.routing(request.known_version, with_history=request.with_history)
        reply.call_address = self.call_address
        return reply

    @servicer_method
    def CreateChainTable(self, request, context):
        self._admin(context, "creating chains")
        return self.manager.create_chains(request.replicas, request.table_id)

    @servicer_method
    def DrainNode(self, request, context):
        self._admin(context, "draining a storage node")
        return self.manager.drain_node(request.node_id, request.dry_run)

    @servicer_method
    def GrowChains(self, request, context):
        self._admin(context, "growing the chain table")
        return self.manager.grow_chains(request.table_id, request.dry_run)

    @servicer_method
    def RemoveNode(self, request, context):
        self._admin(context, "removing a storage node")
        return self.manager.remove_node(request.node_id)

    @servicer_method
    def GetDataToken(self, request, context):
        cred = self.users.authenticate(context)
        return self.manager.data_token(request.client, cred.uid, cred.gid)

    @servicer_method
    def SetTargetOffline(self, request, context):
        self._admin(context, "taking a target offline or online")
        return cluster_pb2.SetTargetOfflineReply(
            target=self.manager.set_target_offline(request.target_id, request.offline)
        )

    @servicer_method
    def ReportUnreachable(self, request, context):
        """Any user's client may report a node it cannot reach; reports count by user and client id,
        and the manager acts only when enough of them agree (meta/_unreachable.py)."""
        cred = self.users.authenticate(context)
        reporter = f"{cred.name}/{request.client or context.peer()}"
        return cluster_pb2.ReportUnreachableReply(
            suspected=self.manager.report_unreachable(request.address, reporter))

    @servicer_method
    def Scrub(self, request, context):
        self._admin(context, "scrubbing chains")
        if self.scrubber is None:
            raise Unavailable("this meta server does not scrub")
        return self.scrubber.scrub(request.chain_id)


class AdminServicer(admin_pb2_grpc.AdminServicer):
    def __init__(self, users: Users):
        self.users = users

    def _admin(self, context, what: str) -> ops.Cred:
        return authenticate_admin(self.users, context, what)

    @servicer_method
    def AddUser(self, request, context):
        self._admin(context, "adding a user")
        user, token = self.users.add(request)
        return admin_pb2.AddUserReply(user=user_info(user), token=token)

    @servicer_method
    def RemoveUser(self, request, context):
        self._admin(context, "removing a user")
        self.users.remove(request.name)
        return admin_pb2.RemoveUserReply()

    @servicer_method
    def ListUsers(self, request, context):
        self._admin(context, "listing users")
        return admin_pb2.ListUsersReply(users=[user_info(u) for u in self.users.list()])

    @servicer_method
    def IssueToken(self, request, context):
        cred = self.users.authenticate(context)
        if request.name != cred.name:
            require_admin(cred, "issuing a token for another user")
        return admin_pb2.IssueTokenReply(token=self.users.issue(request.name, request.revoke_others))

    @servicer_method
    def WhoAmI(self, request, context):
        cred = self.users.authenticate(context)
        return admin_pb2.WhoAmIReply(user=user_info(self.users.get(cred.name)))
