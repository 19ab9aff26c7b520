"""Chain scrub (anti-entropy): the serving members of each chain compare their chunk lists, and a chunk
that some lack, or hold in another version or content, is restored from the authoritative copy, or
removed from all of them when its file no longer needs it.

Why: recovery runs only when a target comes back (syncing). A chunk lost from a replica that goes on
serving (a removal forged with node credentials, a removal a crash cut short between two members)
would read as a hole, zeros without an error, for as long as that replica serves, and would be lost
for good once the other copies went.

A pass, chain by chain (its serving members only: a syncing one is recovery's):

1. **List**: meta pages through the head's chunk list (``ListChunks``: ids, committed versions,
   checksums, pending versions; ``PAGE`` at a time) and each other member's over the same key range
   (``until``), and compares them (``classify``, a pure function): a chunk is in sync when every member
   holds the same committed copy and nothing is pending; pending when an update is in flight somewhere
   (left alone); else it differs.
2. **Judge** each chunk that differs (``chunk_verdict``): live when its inode is a file and the chunk
   lies within its length, or a write session is open (a writer's length may lag its chunks); garbage
   when the inode is gone, or the chunk lies past the end of a file nobody writes (a truncation cut
   short); undecided while a removed file waits for the collector, which owns its chunks.
3. **Repair**: the chain's head (storage/_scrub.py) takes each chunk's lock, looks again at every copy
   and restores or removes it. A chunk the head itself lacked, and took from a successor, is judged
   again afterwards and removed should its file have gone meanwhile, so a removal racing the scrub
   cannot leave it behind for good.

The periodic pass runs on the meta server that holds the cluster manager's lease, every ``interval``
seconds (``--scrub-interval``, 0: off); an admin runs one at once with ``fs3 cluster scrub``, on the
meta server that answers. One scrub at a time per meta server.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import grpc

from fs3._auth import NodeSigner
from fs3._errors import FS3Error, NotFound
from fs3._periodic import PeriodicThread
from fs3._rpc import CHANNEL_OPTIONS, call
from fs3._tls import channel as open_channel
from fs3.proto import cluster_pb2, common_pb2, storage_pb2, storage_pb2_grpc

from . import _keys as keys
from ._cluster import ClusterManager
from .kv import KVStore
from .ops import FILE, get_inode

log = logging.getLogger(__name__)

PAGE = 10_000          # chunks per ListChunks page
REPAIR_BATCH = 64      # chunks per ScrubChunks call to a head
CALL_TIMEOUT = 120.0
LIVE, GARBAGE, UNDECIDED = "live", "garbage", "undecided"
_ACTIONS = {storage_pb2.SCRUB_RESTORED: "restored", storage_pb2.SCRUB_REMOVED: "removed",
            storage_pb2.SCRUB_PENDING: "pending", storage_pb2.SCRUB_FAILED: "failed"}


@dataclass(frozen=True)
class Copy:
    """One member's copy of a chunk, as its listing shows it (0: no such version)."""

    version: int
    checksum: int
    pending: int


def classify(listings: list[dict[bytes, Copy]]) -> tuple[list[bytes], list[bytes], list[bytes]]:
    """The members' listings of one key range (head first) -> (every key seen, keys that differ, keys
    with a pending version somewhere), each sorted."""
    seen = sorted(set().union(*listings))
    differ, pending = [], []
    for key in seen:
        copies = [listing.get(key) for listing in listings]
        if any(c is not None and c.pending for c in copies):
            pending.append(key)
        elif any(c is None or not c.version for c in copies) or len({(c.version, c.checksum)
                                                                   for c in copies if c is not None}) > 1:
            differ.append(key)
    return seen, differ, pending


def chunk_verdict(txn, ino: int, index: int) -> str:
    """Whether chunk ``index`` of inode ``ino`` is still needed: ``LIVE``, ``GARBAGE`` or ``UNDECIDED``
    (see the module docstring)."""
    inode = get_inode(txn, ino)
    if inode is None:
        return UNDECIDED if txn.get(keys.garbage(ino)) is not None else GARBAGE
    if inode.type != FILE:
        return GARBAGE
    if txn.get_range(*keys.prefix_range(keys.session_prefix(ino)), limit=1):
        return LIVE
    return LIVE if index * max(1, inode.layout.chunk_size) < inode.length else GARBAGE


def split(key: bytes) -> tuple[int, int]:
    return int.from_bytes(key[:8], "big"), int.from_bytes(key[8:16], "big")


class _Interrupted(Exception):
    """A chain's scrub cannot go on now (its head is unreachable, or the chain changed)."""


class ChainScrubber:
    """Scrubs chains (see the module docstring): ``scrub()`` at once, or every ``interval`` seconds on
    its own thread while ``active()`` (the manager lease holder); storage nodes are reached over TLS,
    verified against ``ca``, when the cluster has it on. ``statistics()``: totals since start."""

    def __init__(self, cluster: ClusterManager, kv: KVStore, *, interval: float = 0.0,
                 active: Callable[[], bool] | None = None, ca: Path | None = None):
        self.cluster = cluster
        self.kv = kv
        self.interval = interval
        self.active = active or (lambda: True)
        self._ca = ca
        self._channels: dict[str, grpc.Channel] = {}
        self._signer = NodeSigner(cluster.secret, "meta")
        self._lock = threading.Lock()  # one scrub at a time
        self._totals = dict.fromkeys(("passes", "chunks", "restored", "removed", "pending", "undecided",
                                      "failed"), 0)
        self._thread = PeriodicThread("chain-scrub", interval, self._pass, log=log,
                                      failure="chain scrub pass failed") if interval > 0 else None

    def statistics(self) -> dict[str, int]:
        """Passes run and chunks compared, restored, removed, left pending, left undecided and failed,
        since this server started."""
        return dict(self._totals)

    # -- passes ------------------------------------------------------------------------------------

    def scrub(self, chain_id: int = 0) -> cluster_pb2.ScrubReply:
        """Scrub one chain (``chain_id``) or every chain now, and report what was found and done."""
        routing = self.cluster.routing().routing
        chains = [c for c in routing.chains if not chain_id or c.id == chain_id]
        if chain_id and not chains:
            raise NotFound(f"No such chain: {chain_id} (`fs3 cluster chains` lists them)")
        started = time.monotonic()
        with self._lock:
            reports = []
            for chain in chains:
                if self._thread is not None and self._thread.stopping:
                    break  # the server is stopping: the next start scrubs again
                reports.append(self._chain(chain, routing))
            self._totals["passes"] += 1
            for r in reports:
                for name in ("chunks", "restored", "removed", "pending", "undecided", "failed"):
                    self._totals[name] += getattr(r, name)
        reply = cluster_pb2.ScrubReply(chains=reports, seconds=time.monotonic() - started)
        repaired = sum(r.restored + r.removed for r in reports)
        (log.warning if repaired or any(r.failed for r in reports) else log.info)(
            "scrub: %d chains, %d chunks compared, %d restored, %d removed, %d failed, %d left to the "
            "collector (%.1f s)", len(reports), sum(r.chunks for r in reports), sum(r.restored for r in reports),
            sum(r.removed for r in reports), sum(r.failed for r in reports),
            sum(r.undecided for r in reports), reply.seconds)
        return reply

    def _pass(self) -> None:
        if self.active():
            self.scrub()

    def start(self) -> None:
        if self._thread is not None:
            self._thread.start()

    def request_stop(self) -> None:
        if self._thread is not None:
            self._thread.request_stop()

    def stop(self) -> None:
        if self._thread is not None:
            self._thread.stop()
        for channel in self._channels.values():
            channel.close()
        self._channels.clear()

    # -- one chain ---------------------------------------------------------------------------------

    def _chain(self, chain: cluster_pb2.ChainInfo, routing: cluster_pb2.RoutingInfo) -> cluster_pb2.ChainScrubReport:
        report = cluster_pb2.ChainScrubReport(chain_id=chain.id, chain_version=chain.version)
        targets = {t.id: t for t in routing.targets}
        nodes = {n.id: n for n in routing.nodes}
        members = [t for t in chain.targets if targets[t].public_state == cluster_pb2.SERVING]
        report.targets.extend(members)
        if not members or members[0] != chain.targets[0]:
            report.skipped = "its head does not serve"
        elif len(members) < 2:
            report.skipped = "fewer than two serving replicas: nothing to compare"
        elif any(nodes.get(targets[t].node_id) is None for t in members):
            report.skipped = "a member's node is unknown"
        if report.skipped:
            return report
        addresses = [nodes[targets[t].node_id].address for t in members]
        try:
            self._compare(chain, members, addresses, report)
        except (_Interrupted, FS3Error) as exc:
            report.skipped = f"interrupted: {exc}; the next scrub takes it up again"
            log.warning("scrub of chain %d v%d interrupted: %s", chain.id, chain.version, exc)
        return report

    def _stub(self, address: str) -> storage_pb2_grpc.StorageStub:
        channel = self._channels.get(address)
        if channel is None:
            channel = self._channels[address] = open_channel(address, self._ca, CHANNEL_OPTIONS)
        return storage_pb2_grpc.StorageStub(channel)

    def _list(self, address: str, target_id: int, after: bytes, until: bytes = b"",
              limit: int = PAGE) -> tuple[dict[bytes, Copy], bool]:
        reply = call(self._stub(address).ListChunks,
                     storage_pb2.ListChunksRequest(target_id=target_id, start_after=after, limit=limit, until=until),
                     timeout=CALL_TIMEOUT, what="storage", metadata=self._signer.metadata())
        return {c.key: Copy(c.committed_version, c.checksum, c.pending_version) for c in reply.chunks}, reply.more

    def _compare(self, chain, members: list[int], addresses: list[str], report) -> None:
        after = b""
        while True:
            head, more = self._list(addresses[0], members[0], after)
            until = max(head) if more else b""
            listings = [head]
            for address, target_id in zip(addresses[1:], members[1:], strict=True):
                listing, start = {}, after
                while True:  # the same key range as the head's page
                    page, page_more = self._list(address, target_id, start, until)
                    listing.update(page)
                    if not page_more or not page:
                        break
                    start = max(page)
                listings.append(listing)
            seen, differ, pending = classify(listings)
            report.chunks += len(seen)
            report.pending += len(pending)
            self._repair(chain, addresses[0], differ, report, compared=len(seen))
            if not more:
                return
            after = until

    def _repair(self, chain, head: str, differ: list[bytes], report, *, compared: int) -> None:
        chunks = [split(key) for key in differ]
        verdicts = self._verdicts(chunks)
        todo = []
        for chunk, verdict in zip(chunks, verdicts, strict=True):
            if verdict == UNDECIDED:
                report.undecided += 1
            else:
                todo.append((chunk, verdict == LIVE))
        results = self._send(chain, head, todo, compared)
        # A chunk the head lacked and took from a successor: judged again now that it is back, so that a
        # removal or truncation that ran meanwhile (it found nothing at the head to remove) is not undone.
        taken = [(r.chunk.inode, r.chunk.index) for r in results if r.head_restored]
        again = {chunk for chunk, verdict in zip(taken, self._verdicts(taken), strict=True) if verdict != LIVE}
        if again:
            undone = {(r.chunk.inode, r.chunk.index): r for r in self._send(chain, head, [(c, False) for c in again])}
            results = [undone.get((r.chunk.inode, r.chunk.index), r) for r in results]
        for r in results:
            action = _ACTIONS.get(r.action)
            if action is None:  # in sync by now (an update was in flight when listed)
                continue
            setattr(report, action, getattr(report, action) + 1)
            report.repairs.add(inode=r.chunk.inode, index=r.chunk.index, action=action, targets=r.targets,
                               detail=r.detail)

    def _verdicts(self, chunks: list[tuple[int, int]]) -> list[str]:
        if not chunks:
            return []
        return self.kv.transact(lambda txn: [chunk_verdict(txn, ino, index) for ino, index in chunks],
                                readonly=True)

    def _send(self, chain, head: str, todo: list[tuple[tuple[int, int], bool]],
              compared: int = 0) -> list[storage_pb2.ScrubbedChunk]:
        out: list[storage_pb2.ScrubbedChunk] = []
        for start in range(0, max(len(todo), 1 if compared else 0), REPAIR_BATCH):
            batch = todo[start : start + REPAIR_BATCH]
            request = storage_pb2.ScrubChunksRequest(
                chain_id=chain.id, chain_version=chain.version, compared=compared if start == 0 else 0,
                chunks=[storage_pb2.ChunkToScrub(chunk=common_pb2.ChunkId(inode=ino, index=index), live=live)
                        for (ino, index), live in batch])
            try:
                reply = call(self._stub(head).ScrubChunks, request, timeout=CALL_TIMEOUT, what="storage",
                             metadata=self._signer.metadata())
            except FS3Error as exc:
                raise _Interrupted(f"the head of chain {chain.id} did not scrub ({exc})") from None
            out.extend(reply.chunks)
        return out
