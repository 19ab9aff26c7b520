"""CRAQ chains under faults, with real processes: a cluster of 3 storage nodes, replication factor 3.

A writer records every write the moment it is acknowledged; storage nodes are killed (SIGKILL), hung
(SIGSTOP) and restarted meanwhile; afterwards every acknowledged write must read back byte for byte, also
from each replica alone.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time

import pytest
from _timing import wait_for

import fs3
from fs3.local import LocalCluster, LocalClusterConfig
from fs3.proto import cluster_pb2

# The suite's 120 s per test would cut short a cluster start, faults, recovery and reads from every
# replica (waits of up to 60-120 s each on a loaded machine): a test's own waits must fail first, saying
# what they waited for.
pytestmark = pytest.mark.timeout(600)

CHUNK = 64 << 10


@pytest.fixture
def rf3(tmp_path, request):
    loops = getattr(request, "param", 1)  # data-plane event loops per node (writes hop to the first)
    cluster = LocalCluster.start(LocalClusterConfig(
        data_dir=tmp_path, storage_nodes=3, replicas=3, chunk_size=CHUNK, stripe=4, heartbeat_timeout=3.0,
        extra_env={"FS3_DATA_LOOPS": str(loops)},
    ), timeout=90)
    yield cluster
    for p in cluster.processes:  # a test may leave a node stopped
        try:
            os.kill(p.pid, signal.SIGCONT)
        except ProcessLookupError:
            pass
    cluster.stop()


class Writer(threading.Thread):
    """Writes files of random content as fast as it can; ``acked`` holds what was acknowledged."""

    def __init__(self, address: str, prefix: str, seed: int):
        super().__init__(daemon=True)
        self.client = fs3.connect(address)
        self.prefix = prefix
        self.rng = random.Random(seed)
        self.acked: dict[str, bytes] = {}
        self.unsettled: set[str] = set()  # paths whose last write failed: their content is undefined
        self.attempted: dict[str, list[bytes]] = {}
        self.ack_times: list[float] = []
        self.errors: list[BaseException] = []
        self.stop = threading.Event()

    def run(self) -> None:
        n = 0
        while not self.stop.is_set():
            path = f"{self.prefix}/f{n % 40}"  # rewrites files too, not only new ones
            data = self.rng.randbytes(self.rng.randrange(1, 5 * CHUNK))
            self.attempted.setdefault(path, []).append(data)
            try:
                self.client.write(path, data)
            except OSError as exc:  # not acknowledged: the next write of this path replaces it
                self.errors.append(exc)
                self.unsettled.add(path)
                continue
            self.acked[path] = data
            self.unsettled.discard(path)
            self.ack_times.append(time.monotonic())
            n += 1

    def finish(self) -> None:
        self.stop.set()
        self.join(timeout=120)
        self.client.close()


def node_targets(routing, address: str) -> list[int]:
    node = next(n for n in routing.nodes if n.address == address)
    return [t.id for t in routing.targets if t.node_id == node.id]


def all_serving(client) -> bool:
    return all(t.public_state == cluster_pb2.SERVING for t in client.routing_info().targets)


def read_from_each_replica(client, files: dict[str, bytes]) -> None:
    """Take all targets but one node's offline, read everything, for each node in turn."""
    routing = client.routing_info()
    for node in routing.nodes:
        others = [t.id for t in routing.targets if t.node_id != node.id]
        for t in others:
            client.set_target_offline(t, True)
        wait_for(lambda others=others: all(
            t.public_state == cluster_pb2.OFFLINE for t in client.routing_info().targets if t.id in others),
            what="other targets offline")
        for path, data in files.items():
            assert client.read(path) == data, f"{path} differs when read from node {node.id} alone"
        for t in others:
            client.set_target_offline(t, False)
        wait_for(lambda: all_serving(client), what="all targets serving again")


def run_faulty_writes(cluster, fault: int, *, resume: bool):
    with fs3.connect(cluster.meta[0]) as client:
        client.mkdir("/w")
        writer = Writer(cluster.meta[0], "/w", seed=fault)
        writer.start()
        wait_for(lambda: len(writer.ack_times) >= 20, what="writes before the fault")
        victim = cluster.process("storage-2")
        fault_at = time.monotonic()
        os.kill(victim.pid, fault)
        # Writes stall until the manager declares the node offline, then go on with two replicas.
        wait_for(lambda: len([t for t in writer.ack_times if t > fault_at + 1.0]) >= 20, timeout=60,
                 what="writes to continue after the fault")
        chains = client.routing_info().chains
        assert all(len(c.targets) == 3 for c in chains)
        targets = {t.id: t for t in client.routing_info().targets}
        down = node_targets(client.routing_info(), victim.address)
        assert all(targets[t].public_state == cluster_pb2.OFFLINE for t in down)
        assert all(c.targets[-1] in down for c in chains)  # moved to the end of its chain
        if resume:  # writes go on while the resumed node, fenced, finds its lease lapsed and comes back
            resumed_ns = time.time_ns()
            os.kill(victim.pid, signal.SIGCONT)
            wait_for(lambda: any(n.last_heartbeat_ns > resumed_ns for n in client.routing_info().nodes
                                 if n.address == victim.address), what="a heartbeat of the resumed node")
        acked = len(writer.ack_times)
        wait_for(lambda: len(writer.ack_times) >= acked + 10, what="writes after the node came back")
        writer.finish()
        acked = {p: d for p, d in writer.acked.items() if p not in writer.unsettled}
        lost = [p for p, data in acked.items() if client.read(p) != data]
        print(f"\n{fault!r}: {len(writer.ack_times)} writes acknowledged, {len(writer.errors)} failed "
              f"(not acknowledged), {len(lost)} acknowledged writes lost")
        assert not lost
        return client, acked


@pytest.mark.parametrize("rf3", [1, 2], indirect=True, ids=["one-loop", "two-loops"])
def test_sigkill_a_node_while_writing_loses_nothing(rf3):
    run_faulty_writes(rf3, signal.SIGKILL, resume=False)


def test_sigstop_a_node_while_writing_loses_nothing(rf3):
    client_acked = run_faulty_writes(rf3, signal.SIGSTOP, resume=True)
    del client_acked
    with fs3.connect(rf3.meta[0]) as client:
        # The resumed node found its lease lapsed, stopped serving, and comes back through recovery.
        wait_for(lambda: all_serving(client), timeout=60, what="the hung node to recover")


def test_restarted_node_syncs_then_serves_the_latest_data(rf3, tmp_path):
    with fs3.connect(rf3.meta[0]) as client:
        before = {f"/r/a{i}": os.urandom(3 * CHUNK + i) for i in range(6)}
        client.mkdir("/r")
        for p, d in before.items():
            client.write(p, d)
        victim = rf3.process("storage-3")
        killed_ns = time.time_ns()  # the meta server's clock: same machine
        rf3.kill("storage-3", signal.SIGKILL)
        wait_for(lambda: any(t.public_state == cluster_pb2.OFFLINE for t in client.routing_info().targets),
                 what="the killed node's target to go offline")
        during = {f"/r/b{i}": os.urandom(2 * CHUNK + i) for i in range(6)}
        for p, d in during.items():
            client.write(p, d)
        client.write("/r/a0", b"rewritten while the node was down")
        before["/r/a0"] = b"rewritten while the node was down"
        client.remove("/r/a5")
        del before["/r/a5"]
        rf3.restart("storage-3")
        mine = node_targets(client.routing_info(), victim.address)

        def back(t) -> bool:  # serving again, by a change made after the kill
            return t.public_state == cluster_pb2.SERVING and t.history[-1].time_ns > killed_ns

        wait_for(lambda: all(back(t) for t in client.routing_info(history=True).targets if t.id in mine),
                 timeout=120, what="the restarted node's targets to serve again")
        # It went through recovery before serving: the manager recorded every public-state change, and
        # `fs3 cluster targets` shows them (a window of a second or two cannot be missed this way).
        out = json.loads(subprocess.run(
            [sys.executable, "-m", "fs3", "--cluster", rf3.meta[0], "cluster", "targets", "--json"],
            capture_output=True, check=True, timeout=120).stdout)
        for t in (t for t in out if t["id"] in mine):
            since = [h for h in t["history"] if h["time_ns"] > killed_ns]
            states = [h["public_state"] for h in since]
            assert states[0] == "offline" and states[-2:] == ["syncing", "serving"], states
            assert set(states[1:-2]) <= {"offline", "waiting", "syncing"}, states
            assert since[-1]["local_state"] == "up-to-date"  # served once its node said it caught up
            versions = [h["chain_version"] for h in since]
            assert versions == sorted(set(versions)), versions  # each change a new chain version
        # Read with every other target offline: only the restarted node serves.
        others = [t.id for t in client.routing_info().targets if t.id not in mine]
        for t in others:
            client.set_target_offline(t, True)
        wait_for(lambda: all(t.public_state == cluster_pb2.OFFLINE
                             for t in client.routing_info().targets if t.id in others), what="others offline")
        for p, d in {**before, **during}.items():
            assert client.read(p) == d
        assert not client.exists("/r/a5")


def _diagnosis(cluster, client, path: str, got: bytes, want: bytes) -> str:
    """What a lost acknowledged write needs for its hunt: where the bytes differ, which chunk and chain,
    each target's recorded state changes, and the nodes' logs (the run's directory may be gone later)."""
    at = next((i for i, (a, b) in enumerate(zip(got, want, strict=False)) if a != b), min(len(got), len(want)))
    st = client.stat(path)
    index = at // CHUNK
    chain = st.chains[index % st.stripe]
    routing = client.routing_info(history=True)
    history = "\n".join(f"target {t.id} (node {t.node_id}, chain {t.chain_id}): "
                        + ", ".join(f"{cluster_pb2.PublicState.Name(h.public_state)}@{h.chain_version}"
                                             for h in t.history)
                        for t in routing.targets)
    logs = "".join(f"\n--- {p.name}\n" + "".join(p.read_text().splitlines(True)[-60:])
                   for p in sorted((cluster.data_dir / "logs").glob("*.log")))
    return (f"{path} (inode {st.inode}, {len(got)} bytes read, {len(want)} acknowledged) differs at byte "
            f"{at}: chunk {index} on chain {chain}\n{history}{logs}")


def test_random_kills_never_leave_uncommitted_data(rf3):
    """Kill a node at random moments during writes and restart it, several times: afterwards each
    replica alone serves every acknowledged write, and files whose write was cut off read as one of the
    versions that was written, never a mix."""
    rng = random.Random(7)
    with fs3.connect(rf3.meta[0]) as client:
        client.mkdir("/k")
        writer = Writer(rf3.meta[0], "/k", seed=11)
        writer.start()
        for _round in range(3):
            acked = len(writer.ack_times) + rng.randrange(5, 40)  # a random moment: after some writes
            wait_for(lambda acked=acked: len(writer.ack_times) >= acked, what="writes before a kill")
            name = rng.choice(["storage-1", "storage-2", "storage-3"])
            rf3.kill(name, signal.SIGKILL)
            time.sleep(rng.uniform(0.2, 1.0))  # only picks when it comes back: nothing asserts on timing
            rf3.restart(name)
            wait_for(lambda: all_serving(client), timeout=60, what="recovery after a kill")
        writer.finish()
        final = {}
        for path, versions in writer.attempted.items():
            data = client.read(path)
            if path not in writer.unsettled:  # its last write was acknowledged
                assert data == writer.acked[path], _diagnosis(rf3, client, path, data, writer.acked[path])
            else:  # a cut-off write: each chunk holds some committed version of it, or is a hole
                for i in range(0, len(data), CHUNK):
                    piece = data[i : i + CHUNK]
                    candidates = [v[i : i + CHUNK].ljust(len(piece), b"\0") for v in versions]
                    assert piece in candidates or piece == bytes(len(piece)), f"{path} chunk {i // CHUNK}"
            final[path] = data
        read_from_each_replica(client, final)
        print(f"\nrandom kills: {len(writer.ack_times)} writes acknowledged, {len(writer.errors)} failed, "
              f"{len(final)} files checked on every replica")


def test_corrupted_replica_is_never_served_and_is_repaired(rf3, corrupt):
    with fs3.connect(rf3.meta[0]) as client:
        data = os.urandom(4 * CHUNK)
        client.write("/c", data)
        st = client.stat("/c")
        # (On a loaded machine a node may miss a heartbeat deadline and go through recovery: wait until
        # every replica serves, so the reads below reach the damaged one.)
        wait_for(lambda: all_serving(client), what="every replica serving")
        target_dir = corrupt(rf3.data_dir, st.inode, 1, offset=5000)  # one replica of chunk 1
        def logs() -> str:
            return "".join(p.read_text() for p in (rf3.data_dir / "logs").glob("storage-*.log"))

        for _ in range(30):  # reads rotate over replicas: one hits the damaged copy and retries elsewhere
            wait_for(lambda: all_serving(client), what="every replica serving")
            assert client.read("/c") == data
            assert hashlib.sha256(client.read("/c", CHUNK, CHUNK)).digest() == hashlib.sha256(
                data[CHUNK : 2 * CHUNK]).digest()
            if re.search(rf"chunk {st.inode}:1 version \d+ failed its CRC32C", logs()):
                break
        assert re.search(rf"chunk {st.inode}:1 version \d+ failed its CRC32C", logs())
        wait_for(lambda: "repaired chunk" in logs(), what="the repair")
        wait_for(lambda: any(t.repairs for t in client.routing_info().targets), what="the repair to be reported")
        # The repaired replica alone serves the right bytes.
        damaged_node = next(p for p in rf3.processes if p.role == "storage"
                            and str(target_dir).startswith(str(rf3.data_dir / p.name)))
        mine = node_targets(client.routing_info(), damaged_node.address)
        others = [t.id for t in client.routing_info().targets if t.id not in mine]
        for t in others:
            client.set_target_offline(t, True)
        wait_for(lambda: all(t.public_state == cluster_pb2.OFFLINE
                             for t in client.routing_info().targets if t.id in others), what="others offline")
        assert client.read("/c") == data


def test_a_fast_restart_is_resynced_not_trusted(rf3):
    """A node killed and restarted well inside the heartbeat timeout (the manager never saw it go) may
    have missed updates: registering again sends its targets through the offline transition, so they come
    back by syncing (a new chain version), never by serving what they held."""
    with fs3.connect(rf3.meta[0]) as client:
        client.write("/fast", os.urandom(2 * CHUNK))
        routing = client.routing_info()
        node = next(p for p in rf3.processes if p.name == "storage-2")
        mine = set(node_targets(routing, node.address))
        before = {c.id: c.version for c in routing.chains if mine.intersection(c.targets)}
        rf3.kill("storage-2", signal.SIGKILL)
        rf3.restart("storage-2")  # about a second: the heartbeat timeout is 3 s
        wait_for(lambda: all_serving(client), timeout=60, what="resync after a fast restart")
        after = {c.id: c.version for c in client.routing_info().chains if c.id in before}
        assert all(after[c] > before[c] for c in before), (before, after)
        assert client.read("/fast") == client.read("/fast")  # served, and consistent


@pytest.mark.parametrize("where", ["middle", "tail"])
def test_a_copy_left_by_a_missed_removal_never_stands_for_a_new_write(rf3, where):
    """The random-kill flake, made deterministic. A member that misses a removal (it was offline while
    a rewrite truncated the file, and its recovery had not yet reached the chunk when writes resumed)
    keeps the old file's chunk at version 1; versions start again at 1, so the next write of that chunk
    arrives as version 1 too. The member must take it, not answer "already held" and keep the old bytes
    (nor, as a middle member, stop it there before the tail)."""
    from _node_creds import cluster_secret, forge_update, list_chunks

    from fs3._wire import ChunkId

    with fs3.connect(rf3.meta[0]) as client:
        old, new = os.urandom(3 * CHUNK), os.urandom(3 * CHUNK)
        client.write("/stale", old)
        wait_for(lambda: all_serving(client), what="every replica serving")
        st = client.stat("/stale")
        chunk = ChunkId(st.inode, 2)
        chain = next(c for c in client.routing_info().chains if c.id == st.chains[2 % st.stripe])
        member = chain.targets[1 if where == "middle" else 2]
        secret = cluster_secret(rf3.data_dir)
        client.truncate("/stale", CHUNK)  # chunk 2 goes on every member...
        routing = client.routing_info()
        # ... but one keeps it: the state a removal it missed leaves (installed as recovery would).
        assert forge_update(secret, routing, member, chunk, data=old[2 * CHUNK :], version=1) == 0
        client.write("/stale", new)  # acknowledged: chunk 2 is version 1 again, with new bytes
        copies = {t: list_chunks(secret, routing, t).get(tuple(chunk)) for t in chain.targets}
        assert len(set(copies.values())) == 1 and None not in copies.values(), copies
        for _ in range(6):  # reads rotate over the three replicas
            assert client.read("/stale", 2 * CHUNK, CHUNK) == new[2 * CHUNK :]
        assert client.read("/stale") == new


def test_recovery_that_meets_a_chunk_damaged_on_every_replica_reports_it_lost_and_finishes(rf3):
    """It used to fail on that chunk and start again every second, forever: the chain stayed degraded
    until the file was removed. Now the chunk is reported lost, its reads fail (never bad bytes), and
    every other chunk is synced."""
    from conftest import corrupt_chunk

    from fs3._errors import ChecksumMismatch

    with fs3.connect(rf3.meta[0]) as client:
        wait_for(lambda: all_serving(client), what="every replica serving")
        node = next(p for p in rf3.processes if p.name == "storage-3")
        gone = set(node_targets(client.routing_info(), node.address))
        rf3.kill("storage-3", signal.SIGKILL)
        wait_for(lambda: all(t.public_state != cluster_pb2.SERVING for t in client.routing_info().targets
                             if t.id in gone), what="storage-3's targets out of their chains")
        doomed, fine = os.urandom(2 * CHUNK), os.urandom(3 * CHUNK)
        client.write("/doomed", doomed)  # on the two other replicas only: recovery must send it
        client.write("/fine", fine)
        corrupt_chunk(rf3.data_dir, client.stat("/doomed").inode, 0, offset=100, everywhere=True)
        rf3.restart("storage-3")  # comes back syncing: its predecessors feed it, and meet the damage
        wait_for(lambda: all_serving(client), timeout=90, what="recovery to finish despite the lost chunk")
        wait_for(lambda: sum(t.lost_chunks for t in client.routing_info().targets) >= 1,
                 what="the lost chunk to be reported")
        shown = subprocess.run([sys.executable, "-m", "fs3", "--cluster", str(rf3.data_dir), "cluster", "targets",
                                "--json"], capture_output=True, text=True, timeout=120, check=True)
        assert sum(t["lost_chunks"] for t in json.loads(shown.stdout)) >= 1
        assert client.read("/fine") == fine
        assert client.read("/doomed", CHUNK, CHUNK) == doomed[CHUNK:]
        for _ in range(3):  # whichever replica answers: an error, never the damaged bytes
            with pytest.raises(ChecksumMismatch):
                client.read("/doomed", 0, CHUNK)
