"""The client's connection to the meta service (namespace, cluster and admin calls), on grpc.aio.

Namespace calls go over each meta server's framed call listener (client/_calls.py) when it has one and
it can be reached, else over gRPC; cluster and admin calls always use gRPC.

A cluster may run several stateless meta servers. The client knows all of them (from the address it
was given and from the routing info) and, when the one it uses stops answering, repeats the call on the
next one. Reads are idempotent; mutations carry a request id that meta records with its reply, so a
repeated mutation returns the first reply instead of acting twice. Every call carries the user's token.
"""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

import grpc
import grpc.aio

from fs3 import _call_wire, _tls
from fs3._auth import bearer
from fs3._errors import Unavailable, Unreachable
from fs3._retry import Backoff, Outage, retry_timeout
from fs3._rpc import CHANNEL_OPTIONS, acall, error_from_rpc
from fs3._tls import aio_channel, client_context
from fs3.proto import admin_pb2_grpc, cluster_pb2, cluster_pb2_grpc, meta_pb2, meta_pb2_grpc

from ._calls import CallConnection

_CLUSTER_METHODS = {"RegisterNode", "Heartbeat", "GetRoutingInfo", "CreateChainTable", "GetDataToken",
                    "SetTargetOffline", "Scrub", "ReportUnreachable", "DrainNode", "GrowChains", "RemoveNode"}
_ADMIN_METHODS = {"AddUser", "RemoveUser", "ListUsers", "IssueToken", "WhoAmI"}

log = logging.getLogger(__name__)
# gRPC waits up to 120 s between reconnects to a server that went away; a restarted meta server should
# be found within a second of its return, not minutes after.
_CHANNEL_OPTIONS = CHANNEL_OPTIONS + [("grpc.max_reconnect_backoff_ms", 1000)]


class _Channel:
    def __init__(self, address: str, ca: Path | None):
        self.address = address
        self.call_address: str | None = None        # its framed call listener; "" none; None not asked yet
        self.calls: CallConnection | None = None
        self.calls_retry_at = 0.0                   # when to try a listener that could not be reached again
        self.calls_opening: asyncio.Lock | None = None  # one open at a time (made on the client's loop)
        self.dropped = False  # closed by this process (before a fork): a call it cut short is repeated
        self.channel = aio_channel(address, ca, _CHANNEL_OPTIONS)
        self.meta = meta_pb2_grpc.MetaStub(self.channel)
        self.cluster = cluster_pb2_grpc.ClusterStub(self.channel)
        self.admin = admin_pb2_grpc.AdminStub(self.channel)

    def drop_calls(self, calls: CallConnection) -> None:
        """Forget a framed connection that failed (closing it: its other calls fail over too)."""
        calls.close()
        if self.calls is calls:
            self.calls, self.call_address = None, None

    def stub(self, method: str):
        if method in _CLUSTER_METHODS:
            return self.cluster
        return self.admin if method in _ADMIN_METHODS else self.meta


def _cut_short(ch: _Channel) -> bool:
    """Whether a call on ``ch`` was cut short by this process closing it (a CancelledError that is not
    the caller's own task being cancelled, or gRPC's refusal of a closed channel)."""
    task = asyncio.current_task()
    return ch.dropped and task is not None and not task.cancelling()


class MetaConnection:
    def __init__(self, addresses: list[str] | str, *, token: str | None = None, timeout: float = 60.0,
                 failover_timeout: float | None = None, framed: bool = True, ca: Path | None = None):
        self.addresses = [addresses] if isinstance(addresses, str) else list(addresses)
        self.token = token
        self.ca = ca  # TLS: the CA the servers' certificates must be signed by (None: in clear)
        self.tls = client_context(ca) if ca is not None else None
        self.framed = framed  # namespace calls over the framed listeners (False: gRPC only)
        self.timeout = timeout
        # how long a call keeps trying the meta servers while none answers (a restart is waited out)
        self.failover_timeout = retry_timeout(failover_timeout)
        self.outage = Outage("meta servers", log)
        self.metadata = bearer(token)
        self._current = 0
        self._channels: dict[str, _Channel] = {}

    @property
    def address(self) -> str:
        return self.addresses[self._current % len(self.addresses)]

    def _channel(self, address: str | None = None) -> _Channel:
        address = address or self.address
        ch = self._channels.get(address)
        if ch is None:
            ch = self._channels[address] = _Channel(address, self.ca)
        return ch

    def learn(self, addresses) -> None:
        """Add the meta servers the routing info names (keeping the one in use first)."""
        for a in addresses:
            if a not in self.addresses:
                self.addresses.append(a)

    async def connect(self, timeout: float, *, wait_out: bool = False) -> cluster_pb2.GetRoutingInfoReply:
        """Fetch the routing info from any of the meta servers, waiting up to ``timeout`` for one
        that is still starting; refused connections everywhere fail after a few quick rounds. With
        ``wait_out`` (the cluster is known to exist: a DataLoader worker's), refusals are an outage,
        waited out for ``failover_timeout`` (the retry deadline) as every other call waits."""
        if wait_out:
            return await self._connect_waiting()
        # A steady pace, not a growing one: a server that is starting answers within a round or two.
        backoff = Backoff(timeout, first=0.1 / len(self.addresses), factor=1.0)
        refused = 0
        probed: set[str] = set()
        while True:
            try:
                reply = await self._channel().cluster.GetRoutingInfo(
                    cluster_pb2.GetRoutingInfoRequest(), timeout=max(0.1, backoff.remaining), wait_for_ready=False,
                    metadata=self.metadata,
                )
                self.learn(reply.routing.meta_addresses)
                self._channel().call_address = reply.call_address
                return reply
            except grpc.RpcError as err:
                if err.code() not in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
                    raise error_from_rpc(err, f"meta {self.address}") from None
                refused += "refused" in (err.details() or "").lower()
                if "refused" not in (err.details() or "").lower() and self.address not in probed:
                    probed.add(self.address)  # it answered, but gRPC could not talk to it: is TLS why?
                    why = await asyncio.to_thread(_tls.explain, self.address, self.ca, "meta")
                    if why is not None:
                        raise Unavailable(why) from None
                self._current += 1
                if refused >= 5 * len(self.addresses) or backoff.remaining <= 0.1:
                    raise Unavailable(
                        f"cannot reach an fs3 meta server at {', '.join(self.addresses)} "
                        "(is the cluster running? start one with `fs3 up`)"
                    ) from None
                await backoff.asleep()

    async def _connect_waiting(self) -> cluster_pb2.GetRoutingInfoReply:
        backoff = Backoff(self.failover_timeout)
        wait = self.outage.wait()
        try:
            while True:
                try:
                    return await self.connect(min(self.timeout, max(0.1, backoff.remaining)))
                except Unavailable as exc:
                    if backoff.expired:
                        raise wait.give_up(self.failover_timeout, "connecting", exc) from exc
                    wait.failed(exc, self.failover_timeout)
                    await backoff.asleep()
        finally:
            wait.end()

    async def __call__(self, method: str, request, *, timeout: float | None = None):
        """Call ``method`` on a meta server, moving on to the next one while they are unreachable, for
        ``failover_timeout`` seconds (a restart of every meta server is waited out)."""
        backoff = Backoff(self.failover_timeout)
        wait = self.outage.wait()
        try:
            while True:
                ch = self._channel()
                try:
                    if self.framed and method in _call_wire.NUMBER:
                        calls = await self._calls(ch)
                        if calls is not None:
                            try:
                                return await calls.call(method, request, timeout or self.timeout)
                            except Unreachable:  # relearn the listener: a restarted server has a new port
                                ch.drop_calls(calls)
                                raise
                    return await acall(getattr(ch.stub(method), method), request, timeout=timeout or self.timeout,
                                       what=f"meta {ch.address}", metadata=self.metadata)
                except (asyncio.CancelledError, grpc.aio.UsageError):
                    if not _cut_short(ch):
                        raise
                    # gRPC cancels the calls of a channel it closes, and refuses new ones on it; this
                    # process closed it before a fork (client/_fork.py), and the call goes on over a new
                    # one (a mutation's request id makes a repeat return the first reply)
                    continue
                except Unreachable as exc:
                    if backoff.expired:
                        # Unreachable still: a mutation given up on may or may not have happened
                        raise wait.give_up(self.failover_timeout, method, exc, Unreachable) from exc
                    wait.failed(exc, self.failover_timeout)
                    self._current += 1
                    if self._current % len(self.addresses) == 0:  # a whole round failed: wait a little
                        await backoff.asleep()
        finally:
            wait.end()

    async def _calls(self, ch: _Channel) -> CallConnection | None:
        """The framed connection to ``ch``'s meta server, opened on first use; None to use gRPC (the
        server has no listener, or it could not be reached lately)."""
        if ch.calls is not None and ch.calls.usable:
            return ch.calls
        if ch.calls_opening is None:
            ch.calls_opening = asyncio.Lock()
        async with ch.calls_opening:  # concurrent first calls share one connection
            if ch.calls is not None:
                if ch.calls.usable:
                    return ch.calls
                ch.drop_calls(ch.calls)
            if ch.call_address is None:  # ask this server where it listens (once per server start)
                reply = await acall(ch.cluster.GetRoutingInfo, cluster_pb2.GetRoutingInfoRequest(),
                                    timeout=self.timeout, what=f"meta {ch.address}", metadata=self.metadata)
                ch.call_address = reply.call_address
            if not ch.call_address or time.monotonic() < ch.calls_retry_at:
                return None
            try:
                calls = await CallConnection.open(ch.call_address, self.token, tls=self.tls)
            except Unavailable:  # e.g. a port a container does not publish: gRPC still works
                ch.calls, ch.calls_retry_at = None, time.monotonic() + 30.0
                return None
            if ch.dropped:  # closed for a fork while this opened: not left open on a channel no one uses
                calls.close()
                return None
            ch.calls = calls
            return calls

    async def watch(self, address: str, epoch: int, after: int, wait: float) -> meta_pb2.WatchChangesReply:
        """The inode changes made through the meta server at ``address`` after change ``after`` of its
        feed ``epoch`` (meta/_change_feed.py), waiting up to ``wait`` seconds for one. No failover: each
        server's feed is its own; an unreachable server raises ``Unreachable``."""
        while True:
            ch = self._channel(address)
            try:
                return await acall(ch.meta.WatchChanges, meta_pb2.WatchChangesRequest(
                    epoch=epoch, after=after, wait_ms=int(wait * 1000)), timeout=wait + self.timeout,
                    what=f"meta {address}", metadata=self.metadata)
            except (asyncio.CancelledError, grpc.aio.UsageError):
                if not _cut_short(ch):
                    raise

    async def call_status(self) -> dict:
        """How namespace calls reach the meta server in use: over its framed listener, or over gRPC
        and why (connects first, as a namespace call would)."""
        ch = self._channel()
        calls = await self._calls(ch) if self.framed else None
        if calls is not None:
            return {"meta": ch.address, "namespace_calls": "framed", "listener": ch.call_address, "why_not": ""}
        if not self.framed:
            why = "framed calls turned off in this client"
        elif not ch.call_address:
            why = "the server has no framed listener (fs3 meta --calls off)"
        else:
            why = f"its framed listener {ch.call_address} could not be reached (tried again within 30 s)"
        return {"meta": ch.address, "namespace_calls": "grpc", "listener": ch.call_address or "", "why_not": why}

    async def routing(self, known_version: int = 0, *, with_history: bool = False) -> cluster_pb2.GetRoutingInfoReply:
        reply = await self("GetRoutingInfo", cluster_pb2.GetRoutingInfoRequest(
            known_version=known_version, with_history=with_history))
        if not reply.unchanged:
            self.learn(reply.routing.meta_addresses)
        return reply

    async def close(self) -> None:
        for ch in self._channels.values():
            if ch.calls is not None:
                ch.calls.close()
            await ch.channel.close(None)  # no grace: calls in flight end now
        self._channels.clear()
