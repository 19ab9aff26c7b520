"""The meta service's gRPC servicers: thin, each call handed to its operation."""

from __future__ import annotations

from fs3._rpc import servicer_method
from fs3.proto import cluster_pb2, cluster_pb2_grpc, meta_pb2, meta_pb2_grpc

from . import ops
from ._cluster import ClusterManager


class MetaServicer(meta_pb2_grpc.MetaServicer):
    def __init__(self, ctx: ops.OpContext):
        self.ctx = ctx

    @servicer_method
    def Stat(self, request, context):
        return meta_pb2.StatReply(inode=ops.stat(self.ctx, request.path))

    @servicer_method
    def Mkdir(self, request, context):
        return meta_pb2.MkdirReply(inode=ops.mkdir(self.ctx, request.path, request.mode, request.parents))

    @servicer_method
    def Open(self, request, context):
        inode, session = ops.open_file(self.ctx, request)
        return meta_pb2.OpenReply(inode=inode, session=session)

    @servicer_method
    def Close(self, request, context):
        return meta_pb2.CloseReply(inode=ops.close_file(self.ctx, request))

    @servicer_method
    def ReadDir(self, request, context):
        return ops.readdir(self.ctx, request)

    @servicer_method
    def Remove(self, request, context):
        ops.remove(self.ctx, request)
        return meta_pb2.RemoveReply()

    @servicer_method
    def Rename(self, request, context):
        return meta_pb2.RenameReply(inode=ops.rename(self.ctx, request))

    @servicer_method
    def Truncate(self, request, context):
        return meta_pb2.TruncateReply(inode=ops.truncate(self.ctx, request.path, request.length))


class ClusterServicer(cluster_pb2_grpc.ClusterServicer):
    def __init__(self, manager: ClusterManager):
        self.manager = manager

    @servicer_method
    def RegisterNode(self, request, context):
        return self.manager.register(request)

    @servicer_method
    def Heartbeat(self, request, context):
        return self.manager.heartbeat(request)

    @servicer_method
    def GetRoutingInfo(self, request, context):
        return self.manager.routing(request.known_version)

    @servicer_method
    def CreateChainTable(self, request, context):
        return self.manager.create_chains(request.replicas, request.table_id)

    @servicer_method
    def GetDataToken(self, request, context):
        return self.manager.data_token(request.client)

    @servicer_method
    def SetTargetOffline(self, request, context):
        return cluster_pb2.SetTargetOfflineReply(
            target=self.manager.set_target_offline(request.target_id, request.offline)
        )
