"""The cluster and user administration calls of the client: routing info, chains, targets, transports,
users and tokens (most need an admin user, which meta checks)."""

from __future__ import annotations

from collections.abc import Sequence

from fs3._data_client import TransportStatus
from fs3.proto import admin_pb2, cluster_pb2

from ._chunk_io import ChunkIO
from ._meta import MetaConnection
from ._routing import RoutingCache

SCRUB_TIMEOUT = 3600.0  # a scrub lists every chunk of the chains it covers


class ClusterAdmin:
    """Mixed into ``AsyncClient``: calls about the cluster rather than the namespace."""

    _meta: MetaConnection
    _routing: RoutingCache
    _chunks: ChunkIO

    async def routing_info(self, *, refresh: bool = True, history: bool = False) -> cluster_pb2.RoutingInfo:
        """The cluster's nodes, targets, chains and chain tables (with live state); with ``history``,
        each target's last recorded state changes too (``TargetInfo.history``; always fetched anew)."""
        if refresh or history:
            return (await self._meta.routing(0, with_history=history)).routing
        return self._routing.info

    async def create_chains(self, replicas: int = 1) -> cluster_pb2.CreateChainTableReply:
        reply = await self._meta("CreateChainTable", cluster_pb2.CreateChainTableRequest(replicas=replicas))
        await self._routing.refresh()
        return reply

    async def drain_node(self, node_id: int, *, dry_run: bool = False) -> cluster_pb2.ReplicaMovesReply:
        """Move every replica of a storage node to free targets of other nodes (an operator's call); the
        moves run in the background (``routing_info().moves``), then ``remove_node``."""
        reply = await self._meta("DrainNode", cluster_pb2.DrainNodeRequest(node_id=node_id, dry_run=dry_run))
        await self._routing.refresh()
        return reply

    async def grow_chains(self, *, dry_run: bool = False) -> cluster_pb2.ReplicaMovesReply:
        """Give free targets chains: new chains, or replicas moved onto them (an operator's call)."""
        reply = await self._meta("GrowChains", cluster_pb2.GrowChainsRequest(dry_run=dry_run))
        await self._routing.refresh()
        return reply

    async def remove_node(self, node_id: int) -> cluster_pb2.RemoveNodeReply:
        """Forget a drained storage node and its targets (refused while it holds a replica)."""
        reply = await self._meta("RemoveNode", cluster_pb2.RemoveNodeRequest(node_id=node_id))
        await self._routing.refresh()
        return reply

    async def set_target_offline(self, target_id: int, offline: bool = True) -> cluster_pb2.TargetInfo:
        """Take a target out of service (or let it back in); an operator's call."""
        reply = await self._meta("SetTargetOffline", cluster_pb2.SetTargetOfflineRequest(
            target_id=target_id, offline=offline))
        return reply.target

    async def scrub(self, chain_id: int = 0, *, timeout: float = SCRUB_TIMEOUT) -> cluster_pb2.ScrubReply:
        """Scrub a chain (``chain_id``), or every chain, now: its serving replicas compare their chunks, and
        what some lack or hold differently is restored, or removed when its file is gone; an admin's call.
        Returns what was compared and repaired per chain."""
        return await self._meta("Scrub", cluster_pb2.ScrubRequest(chain_id=chain_id), timeout=timeout)

    async def meta_call_status(self) -> dict:
        """How namespace calls reach meta: ``{"meta", "namespace_calls": "framed"|"grpc", "listener",
        "why_not"}``."""
        return await self._meta.call_status()

    async def data_plane_status(self, *, probe: bool = True) -> list[TransportStatus]:
        """Which transport serves each storage node, and why the better ones were not chosen; with
        ``probe``, connects to every node first."""
        if probe:
            await self._routing.refresh()
            for address in self._routing.data_addresses():
                try:
                    await self._chunks.probe(address)
                except OSError:
                    pass
        seen, out = set(), []
        for status in self._chunks.statuses():
            if status.address not in seen:
                seen.add(status.address)
                out.append(status)
        return sorted(out, key=lambda s: s.address)

    # -- users -------------------------------------------------------------------------------------

    async def whoami(self) -> admin_pb2.UserInfo:
        return (await self._meta("WhoAmI", admin_pb2.WhoAmIRequest())).user

    async def add_user(self, name: str, *, uid: int = 0, gid: int = 0, groups: Sequence[int] = (),
                       admin: bool = False, monitor: bool = False) -> tuple[admin_pb2.UserInfo, str]:
        """Create a user (an admin's call); returns it and its first token (shown only now). A
        ``monitor`` user may also read the cluster's state over the admin HTTP API and ``/metrics``."""
        reply = await self._meta("AddUser", admin_pb2.AddUserRequest(
            name=name, uid=uid, gid=gid, groups=list(groups), admin=admin, monitor=monitor))
        return reply.user, reply.token

    async def remove_user(self, name: str) -> None:
        await self._meta("RemoveUser", admin_pb2.RemoveUserRequest(name=name))

    async def list_users(self) -> list[admin_pb2.UserInfo]:
        return list((await self._meta("ListUsers", admin_pb2.ListUsersRequest())).users)

    async def issue_token(self, name: str, *, revoke_others: bool = False) -> str:
        reply = await self._meta("IssueToken", admin_pb2.IssueTokenRequest(name=name, revoke_others=revoke_others))
        return reply.token
