"""The kernel's attribute and entry caches of a mount (client/_mount_cache.py): stats are answered by the
kernel, and what another client changes shows at once, though the mounts here keep attributes for ten
minutes (only meta's change feed, an open's check or a lock can make a change show within a test)."""

from __future__ import annotations

import fcntl
import os
import signal
import threading
import urllib.request
import uuid

import pytest
from _fuse import mounted
from _timing import wait_for

from fs3.local import LocalCluster, LocalClusterConfig

LONG = "600"  # seconds: longer than any test, so that expiry cannot be what makes a change show


@pytest.fixture(scope="module")
def cached(cluster, tmp_path_factory):
    where = tmp_path_factory.mktemp("cachedmnt")
    with mounted(cluster, where, "--attr-timeout", LONG):
        yield where


@pytest.fixture
def spot(cached, client):
    """A fresh directory: (its path on the mount, its fs3 path)."""
    name = f"cache-{uuid.uuid4().hex[:10]}"
    client.mkdir("/" + name)
    return cached / name, "/" + name


def test_another_clients_write_shows_in_a_cached_stat(spot, client):
    mnt, path = spot
    client.write(path + "/f", b"abc")
    assert os.stat(mnt / "f").st_size == 3  # now in the kernel's cache
    client.write(path + "/f", b"x" * 5000)
    wait_for(lambda: os.stat(mnt / "f").st_size == 5000, timeout=30, what="the new length through the feed")
    client.chmod(path + "/f", 0o600)
    wait_for(lambda: os.stat(mnt / "f").st_mode & 0o777 == 0o600, timeout=30, what="the new mode")


def test_a_file_another_client_appended_to_reads_whole_when_opened(spot, client):
    mnt, path = spot
    client.write(path + "/log", b"first\n")
    assert os.stat(mnt / "log").st_size == 6
    with client.open(path + "/log", "ab") as f:
        f.write(b"second\n")
    # at once, not waiting for the feed: the open checks the kernel's length (close-to-open)
    assert (mnt / "log").read_bytes() == b"first\nsecond\n"


def test_a_name_another_client_removed_is_gone_and_can_be_made_again(spot, client):
    mnt, path = spot
    client.write(path + "/j", b"old")
    assert os.path.exists(mnt / "j")
    client.remove(path + "/j")
    # at once: the kernel's stale name is looked up again (ESTALE), and O_CREAT makes the file anew
    with open(mnt / "j", "ab") as f:
        f.write(b"new")
    assert client.read(path + "/j") == b"new"
    client.remove(path + "/j")
    wait_for(lambda: not os.path.exists(mnt / "j"), timeout=30, what="the removal through the feed")
    with pytest.raises(FileNotFoundError):
        open(mnt / "j", "rb")  # noqa: SIM115


def test_a_name_another_client_made_shows_at_once(spot, client):
    mnt, path = spot
    assert not os.path.exists(mnt / "n")  # (names that do not exist are never cached)
    client.write(path + "/n", b"here")
    assert (mnt / "n").read_bytes() == b"here"


def test_a_rename_elsewhere_shows_under_both_names(spot, client):
    mnt, path = spot
    client.write(path + "/a", b"aaa")
    client.write(path + "/b", b"bbbbbb")
    assert os.stat(mnt / "a").st_size == 3 and os.stat(mnt / "b").st_size == 6
    client.rename(path + "/a", path + "/b")
    wait_for(lambda: not os.path.exists(mnt / "a"), timeout=30, what="the old name to go")
    wait_for(lambda: os.stat(mnt / "b").st_size == 3, timeout=30, what="the new name to lead to the moved file")
    assert (mnt / "b").read_bytes() == b"aaa"


def test_changes_through_the_mount_itself_show_at_once(spot):
    mnt, _ = spot
    (mnt / "m").write_bytes(b"12345")
    assert os.stat(mnt / "m").st_size == 5
    with open(mnt / "m", "ab") as f:
        f.write(b"678")
    assert os.stat(mnt / "m").st_size == 8
    os.chmod(mnt / "m", 0o640)
    assert os.stat(mnt / "m").st_mode & 0o777 == 0o640
    os.rename(mnt / "m", mnt / "m2")
    assert not os.path.exists(mnt / "m") and os.stat(mnt / "m2").st_size == 8


@pytest.fixture
def own_cluster(tmp_path):
    cluster = LocalCluster.start(LocalClusterConfig(data_dir=tmp_path / "cluster", replicas=1), timeout=90)
    try:
        yield cluster
    finally:
        for p in cluster.processes:
            if p.alive():
                os.kill(p.pid, signal.SIGCONT)
        cluster.stop()


def test_a_cached_stat_does_not_reach_meta_and_an_uncached_one_does(own_cluster, tmp_path):
    """With meta stopped, a stat the kernel holds is answered; with --attr-timeout 0 it waits for meta."""
    cached, uncached = tmp_path / "c", tmp_path / "u"
    cached.mkdir()
    uncached.mkdir()
    with mounted(own_cluster, cached, "--attr-timeout", LONG), mounted(own_cluster, uncached, "--attr-timeout", "0"):
        (cached / "f").write_bytes(b"data")
        for where in (cached, uncached):
            assert os.stat(where / "f").st_size == 4
        meta = next(p for p in own_cluster.processes if p.role == "meta")
        os.kill(meta.pid, signal.SIGSTOP)
        try:
            answers: dict[str, int] = {}
            stats = [threading.Thread(target=lambda w=w: answers.__setitem__(w.name, os.stat(w / "f").st_size),
                                      daemon=True) for w in (cached, uncached)]
            for t in stats:
                t.start()
            stats[0].join(timeout=60)
            assert answers.get("c") == 4  # from the kernel, while meta cannot answer
            assert "u" not in answers and stats[1].is_alive()  # this one waits for meta
        finally:
            os.kill(meta.pid, signal.SIGCONT)
        stats[1].join(timeout=120)
        assert answers.get("u") == 4


def _meta_requests(cluster) -> dict[str, float]:
    """Calls meta served so far, by method (its /metrics, read with the admin token)."""
    from prometheus_client.parser import text_string_to_metric_families

    token = (cluster.data_dir / "admin.token").read_text().strip()
    req = urllib.request.Request(cluster.http[0] + "/metrics", headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(req, timeout=30) as reply:
        text = reply.read().decode()
    out: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        if family.name == "fs3_meta_requests":
            for s in family.samples:
                if s.name.endswith("_total"):
                    out[s.labels["method"]] = out.get(s.labels["method"], 0) + s.value
    return out


def test_a_create_and_close_ask_meta_only_what_they_must(own_cluster, tmp_path):
    """Per file made and closed: its Open, a lookup of the new name and the directory's attributes
    (which the kernel drops after a create), where there were 4.5 stats and a lock call; no lock call (nothing was locked) and no stat of the new
    file (the create's answer has it). A locked file's close still releases its lock at meta."""
    where = tmp_path / "m"
    where.mkdir()
    with mounted(own_cluster, where):
        (where / "d").mkdir()
        before = _meta_requests(own_cluster)
        for i in range(20):
            os.close(os.open(where / "d" / f"f{i}", os.O_CREAT | os.O_WRONLY, 0o644))
        after = _meta_requests(own_cluster)
        delta = {k: after.get(k, 0) - before.get(k, 0) for k in after}
        assert delta.get("Open") == 20 and delta.get("Lock", 0) == 0, delta
        # (the directory's attributes may be asked twice: once as the kernel drops them after the create,
        # once more when the feed's news of the directory's new mtime comes after that)
        assert delta.get("Stat", 0) <= 3 * 20, delta
        with open(where / "d" / "f0", "r+b") as f:
            fcntl.lockf(f, fcntl.LOCK_EX)
            locked = _meta_requests(own_cluster).get("Lock", 0)
        assert _meta_requests(own_cluster).get("Lock", 0) == locked + 1  # released at close
