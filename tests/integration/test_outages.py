"""Outages are waited out for one deadline (``retry_timeout=``, ``FS3_RETRY_TIMEOUT``, default 300 s):
every storage node stopped for a minute under a training loader, the meta server restarted mid-epoch,
and the clear error of a deadline shorter than the outage. Real processes, each test on its own cluster
(it stops nodes the shared session cluster's other tests need)."""

from __future__ import annotations

import logging
import os
import signal
import threading
import time

import pytest
from _shards import first_sample_and_deadline, log_fs3_client_to, write_counting_shards
from _timing import wait_for

import fs3
from fs3.dataloader import TokenDataset
from fs3.local import LocalCluster, LocalClusterConfig

OUTAGE = 60.0  # seconds every storage node stays stopped: twice the 30 s that used to kill training
KiB = 1 << 10


@pytest.fixture
def private_cluster(tmp_path):
    cluster = LocalCluster.start(LocalClusterConfig(data_dir=tmp_path / "cluster", chunk_size=64 * KiB, stripe=3,
                                                    replicas=1, gc_delay=0.0), timeout=90)
    try:
        yield cluster
    finally:
        for p in cluster.processes:  # a stopped process cannot be stopped: wake any a failed test left
            if p.role == "storage" and p.alive():
                os.kill(p.pid, signal.SIGCONT)
        cluster.stop()


def storage_nodes(cluster) -> list[str]:
    return [p.name for p in cluster.processes if p.role == "storage"]


def upload_shards(cluster, tmp_path, tokens: int = 200_000) -> tuple[str, str]:
    """A shard set whose token i is i (a sample names itself), locally and the same on fs3: (local
    path, fs3 URL)."""
    root = tmp_path / "set"
    write_counting_shards(root, tokens, shards=2, doc_len=50)
    with fs3.connect(cluster.meta[0]) as client:
        client.mkdir("/set")
        for f in sorted(root.iterdir()):
            client.write(f"/set/{f.name}", f.read_bytes())
    return str(root), f"fs3://{cluster.meta[0]}/set"


def dataset(url: str, **kwargs) -> TokenDataset:
    # A uniform shuffle reads every sample from the nodes when it comes (no block another read cached),
    # and no prefetch: the reads after the outage begins really wait for it.
    return TokenDataset(url, seq_len=127, batch_size=4, seed=3, rank=0, world_size=1, shuffle_block=1,
                        prefetch=0, output="numpy", **kwargs)


def messages(caplog, logger: str, text: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == logger and text in r.getMessage()]


@pytest.mark.timeout(600)
def test_a_loader_rides_out_every_storage_node_stopped_for_a_minute(private_cluster, tmp_path, caplog):
    caplog.set_level(logging.WARNING, logger="fs3.client")
    local, url = upload_shards(private_cluster, tmp_path)
    expected = [int(s[0]) for s in dataset(local)]  # the same order, read from local disk
    nodes = storage_nodes(private_cluster)
    it = iter(dataset(url, retry_timeout=240))
    got = [int(next(it)[0]) for _ in range(20)]
    waking: list[float] = []

    def wake_after_the_outage() -> None:
        try:
            wait_for(lambda: messages(caplog, "fs3.client._chunk_io", "waiting up to 240 s"), timeout=120,
                     what="the loader to say it waits for the storage nodes")
            # The outage's length is what this test is about: the nodes stay stopped OUTAGE seconds.
            wait_for(lambda: time.monotonic() - stopped_at >= OUTAGE, timeout=OUTAGE + 5, interval=1.0,
                     max_interval=1.0, what="the outage to last its minute")
        finally:
            for name in nodes:
                private_cluster.kill(name, signal.SIGCONT)
            waking.append(time.monotonic())

    stopped_at = time.monotonic()
    for name in nodes:
        private_cluster.kill(name, signal.SIGSTOP)
    waker = threading.Thread(target=wake_after_the_outage)
    waker.start()
    try:
        got += [int(s[0]) for s in it]  # blocks at the next read until the nodes answer again
    finally:
        waker.join()
    assert waking[0] - stopped_at >= OUTAGE
    assert got == expected  # nothing lost or repeated, in the same order
    assert len(messages(caplog, "fs3.client._chunk_io", "waiting up to")) == 1  # one line when it began
    assert len(messages(caplog, "fs3.client._chunk_io", "answer again after")) == 1  # one when it ended


@pytest.mark.timeout(600)
def test_a_loader_and_a_client_ride_out_a_meta_restart_mid_epoch(private_cluster, tmp_path, caplog):
    caplog.set_level(logging.WARNING, logger="fs3.client")
    local, url = upload_shards(private_cluster, tmp_path)
    expected = [int(s[0]) for s in dataset(local)]
    it = iter(dataset(url, retry_timeout=240))
    got = [int(next(it)[0]) for _ in range(20)]
    data = os.urandom(300 * KiB)
    with fs3.connect(private_cluster.meta[0], retry_timeout=240) as client:
        client.write("/f", data)
        private_cluster.kill("meta-1", signal.SIGKILL)
        restarted: list[str] = []

        def restart_once_waited_for() -> None:
            try:
                wait_for(lambda: messages(caplog, "fs3.client._meta", "waiting up to 240 s"), timeout=120,
                         what="the client to say it waits for meta")
            finally:
                restarted.append(private_cluster.restart("meta-1").address)

        restarter = threading.Thread(target=restart_once_waited_for)
        restarter.start()
        try:
            assert client.read("/f") == data  # a stat at meta and chunk reads: waits for the restart
            got += [int(s[0]) for s in it]  # the loader's epoch goes on past the restart
        finally:
            restarter.join()
        assert restarted == [private_cluster.meta[0]]
        client.write("/g", data)  # mutations work again
        assert client.read("/g") == data
    assert got == expected
    assert len(messages(caplog, "fs3.client._meta", "waiting up to")) == 1
    assert len(messages(caplog, "fs3.client._meta", "answer again after")) == 1


@pytest.mark.needs_torch
@pytest.mark.timeout(600)
def test_loader_workers_that_start_while_meta_is_down_wait_for_it(private_cluster, tmp_path):
    # A new epoch starts new workers, and each connects anew: during a meta restart it must wait like
    # any other call, not give up as a command does when no cluster runs.
    import functools

    from fs3.dataloader import TokenLoader

    local, url = upload_shards(private_cluster, tmp_path, tokens=40_000)
    expected = [int(s[0]) for s in dataset(local)]
    log = tmp_path / "workers.log"
    ds = TokenDataset(url, seq_len=127, batch_size=4, seed=3, shuffle_block=1, retry_timeout=240)
    loader = TokenLoader(ds, num_workers=2, worker_init_fn=functools.partial(log_fs3_client_to, str(log)))
    private_cluster.kill("meta-1", signal.SIGKILL)

    def restart_once_a_worker_waits() -> None:
        try:
            wait_for(lambda: log.exists() and "waiting up to 240 s" in log.read_text(), timeout=120,
                     what="a worker to say it waits for meta")
        finally:
            private_cluster.restart("meta-1")

    restarter = threading.Thread(target=restart_once_a_worker_waits)
    restarter.start()
    try:
        got = [int(s[0]) for batch in loader for s in batch]
    finally:
        restarter.join()
    assert got == expected
    assert "answer again after" in log.read_text()


@pytest.mark.timeout(300)
def test_a_deadline_shorter_than_the_outage_fails_naming_the_outage(private_cluster, caplog, monkeypatch):
    caplog.set_level(logging.WARNING, logger="fs3.client")
    data = os.urandom(300 * KiB)  # five chunks over the three nodes
    monkeypatch.setenv("FS3_RETRY_TIMEOUT", "4")  # the environment sets the deadline where no code does
    with fs3.connect(private_cluster.meta[0]) as client:
        assert client.retry_timeout == 4.0
        client.write("/f", data)
        stat = client.stat("/f")
        nodes = storage_nodes(private_cluster)
        for name in nodes:
            private_cluster.kill(name, signal.SIGSTOP)
        try:
            began = time.monotonic()
            with pytest.raises(fs3.Unavailable) as failed:
                client.read_batch([(stat, 0, len(data))])
            took = time.monotonic() - began
            with pytest.raises(fs3.Unavailable) as failed_write:
                client.write("/g", data)
        finally:
            for name in nodes:
                private_cluster.kill(name, signal.SIGCONT)
        # The cause, not the last symptom: nodes unreachable for the whole deadline, not "stale routing".
        message = str(failed.value)
        assert message.startswith("storage nodes unavailable: reading chunk"), message
        assert "timed out after 4 s" in message and "FS3_RETRY_TIMEOUT" in message and "last error:" in message
        assert not isinstance(failed.value, fs3.StaleRouting)
        assert "storage nodes unavailable: writing chunk" in str(failed_write.value)
        assert took >= 4.0
        assert messages(caplog, "fs3.client._chunk_io", "waiting up to 4 s")
        assert messages(caplog, "fs3.client._chunk_io", "gave up waiting after")
        # Once they answer again, the same client reads (the deadline bounds a wait, not the client).
        client.retry_timeout = 120
        assert client.read("/f") == data
        client.retry_timeout = 3
        private_cluster.kill("meta-1", signal.SIGKILL)
        with pytest.raises(fs3.Unavailable) as meta_failed:
            client.stat("/f")
        assert str(meta_failed.value).startswith("meta servers unavailable: Stat timed out after 3 s")
        assert "last error: meta" in str(meta_failed.value)
        private_cluster.restart("meta-1")
        client.retry_timeout = 120
        assert client.read("/f") == data


def test_a_datasets_deadline_reaches_its_spawned_workers_client(private_cluster, tmp_path):
    import multiprocessing
    _, url = upload_shards(private_cluster, tmp_path, tokens=20_000)
    ds = dataset(url, retry_timeout=42)
    with multiprocessing.get_context("spawn").Pool(1) as pool:  # a fresh process: only the pickle carries it
        first, deadline = pool.apply(first_sample_and_deadline, (ds,))
    assert deadline == 42.0 and first % 127 == 0
    with pytest.raises(fs3.InvalidArgument, match="retry_timeout must be a number of seconds >= 0"):
        dataset(url, retry_timeout=-5)


def test_retry_timeout_is_checked_before_connecting(monkeypatch):
    monkeypatch.setenv("FS3_RETRY_TIMEOUT", "five minutes")
    with pytest.raises(fs3.InvalidArgument, match="FS3_RETRY_TIMEOUT='five minutes' is not a number of seconds"):
        fs3.connect("127.0.0.1:1")
    monkeypatch.delenv("FS3_RETRY_TIMEOUT")
    with pytest.raises(fs3.InvalidArgument, match="retry_timeout must be a number of seconds >= 0, not -1"):
        fs3.connect("127.0.0.1:1", retry_timeout=-1)


def test_closing_a_client_ends_a_call_that_waits_out_an_outage(private_cluster, caplog):
    # A thread's read waits for stopped storage nodes; the program gives up and closes the client. The
    # read must end at once with a clear error (it used to wait forever: the loop it waited on was gone),
    # and later calls too.
    from fs3.client._client import ClientClosed

    caplog.set_level(logging.WARNING, logger="fs3.client")
    client = fs3.connect(private_cluster.meta[0], retry_timeout=240)
    client.write("/f", os.urandom(200 * KiB))
    for name in storage_nodes(private_cluster):
        private_cluster.kill(name, signal.SIGSTOP)
    outcome: list[BaseException] = []

    def reader() -> None:
        try:
            client.read("/f")
        except BaseException as exc:  # noqa: BLE001 - recorded for the test
            outcome.append(exc)

    t = threading.Thread(target=reader)
    t.start()
    wait_for(lambda: messages(caplog, "fs3.client._chunk_io", "waiting up to 240 s"), timeout=120,
             what="the read to wait for the storage nodes")
    client.close()
    t.join(timeout=60)
    assert not t.is_alive(), "the read still waits on a closed client"
    assert len(outcome) == 1 and isinstance(outcome[0], ClientClosed), outcome
    with pytest.raises(ClientClosed, match="closed fs3 client"):
        client.stat("/")
