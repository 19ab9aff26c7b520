"""Shard builds in parts and stages: the parts (how the inputs are cut for workers), the number of
processes and the engine (local processes or Ray) never change the result; a build killed with SIGKILL
goes on from its last finished stage and ends with the same shard set as one never stopped; an
unfinished build is never mixed with a build of other settings."""

from __future__ import annotations

import gzip
import json
import os
import random
import signal
import subprocess
import sys
import threading

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from _timing import wait_for

from fs3.dataloader import build_shards
from fs3.dataloader._format import Manifest


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """JSONL (cut into several parts when parts are small), gzipped JSONL, Parquet with row groups and
    text files, with exact and near duplicates within and across them."""
    d = tmp_path_factory.mktemp("corpus") / "in"
    d.mkdir()
    rnd = random.Random(5)
    words = [f"w{i}" for i in range(2000)]
    docs = []
    for i in range(900):
        t = [rnd.choice(words) for _ in range(50)]
        docs.append(" ".join(t))
        if i % 6 == 0:
            t2 = list(t)
            t2[rnd.randrange(50)] = "changed"
            docs.append(" ".join(t2))
        if i % 9 == 0:
            docs.append(docs[-1].upper())
    with open(d / "a.jsonl", "w") as f:
        for k, x in enumerate(docs[:600]):
            f.write(json.dumps({"text": x}) + "\n" + ("\n" if k % 50 == 0 else ""))  # blank lines too
    with gzip.open(d / "b.jsonl.gz", "wt") as f:
        for x in docs[600:800]:
            f.write(json.dumps({"text": x}) + "\n")
    pq.write_table(pa.table({"text": docs[300:1000]}), d / "c.parquet", row_group_size=100)
    for k in range(5):
        (d / f"t{k}.txt").write_text(docs[k * 7])
    return d


def _tokens(out) -> np.ndarray:
    m = Manifest.from_json(open(os.path.join(out, "manifest.json"), "rb").read())
    return np.concatenate([np.fromfile(os.path.join(out, f"{s.name}.bin"), dtype=m.dtype) for s in m.shards])


def _same_set(a, b) -> None:
    ma = json.loads(open(os.path.join(a, "manifest.json")).read())
    mb = json.loads(open(os.path.join(b, "manifest.json")).read())
    for m in (ma, mb):
        m.pop("created")
    assert ma == mb
    for s in ma["shards"]:
        for ext in (".bin", ".idx"):
            assert open(os.path.join(a, s["name"] + ext), "rb").read() == \
                open(os.path.join(b, s["name"] + ext), "rb").read()


def test_parts_and_processes_do_not_change_what_is_kept_or_written(corpus, tmp_path):
    whole = build_shards([str(corpus)], str(tmp_path / "whole"), processes=1)
    cut = build_shards([str(corpus)], str(tmp_path / "cut"), processes=2, part_size=16 << 10)
    assert len(json.loads((tmp_path / "cut" / "manifest.json").read_text())["shards"]) > 5  # many parts
    assert list(cut.names) == list(whole.names)  # line numbers of a JSONL file cut into pieces included
    assert "in/a.jsonl:3" in list(whole.names) and "in/c.parquet#699" in list(whole.names)
    assert np.array_equal(cut.dedup.keep, whole.dedup.keep)
    assert whole.dedup.near_removed > 0 and whole.dedup.exact_removed > 0
    assert np.array_equal(_tokens(tmp_path / "cut"), _tokens(tmp_path / "whole"))
    build_shards([str(corpus)], str(tmp_path / "again"), processes=1, part_size=16 << 10)
    _same_set(tmp_path / "cut", tmp_path / "again")


def test_partitions_of_the_coordinators_sorts_do_not_change_the_result(corpus, tmp_path, monkeypatch):
    from fs3.dataloader import _build, _partitions

    groups = []  # (judgement tasks, candidates of the largest) of each build

    class Recorded(_partitions.SpilledGroups):
        def __init__(self, *args):
            super().__init__(*args)
            groups.append((len(self), int(np.bincount(self.group).max())))

    monkeypatch.setattr(_build, "SpilledGroups", Recorded)
    one = build_shards([str(corpus)], str(tmp_path / "one"), processes=1, part_size=16 << 10)
    assert _partitions.partitions_for(len(one.names)) == 1
    assert _partitions.partitions_for(len(one.names), 97) > 10  # a few dozen partitions
    many = build_shards([str(corpus)], str(tmp_path / "many"), processes=1, part_size=16 << 10, partition_docs=97)
    # the coordinator hands out judgement tasks of at most about partition_docs candidates
    (tasks_one, largest_one), (tasks_many, largest_many) = groups
    assert largest_one > 97 and tasks_many > tasks_one and largest_many < largest_one
    assert np.array_equal(many.dedup.keep, one.dedup.keep)
    assert many.dedup.clusters == one.dedup.clusters
    assert many.dedup.stats(len(many.names)) == one.dedup.stats(len(one.names))
    _same_set(tmp_path / "one", tmp_path / "many")


def test_bands_cut_into_spans_of_partitions_give_the_same_result(corpus, tmp_path, monkeypatch):
    """With many workers each band is sorted by several tasks, a run of its key partitions each; the
    buckets, the kept documents and the shard set are those of one task a band."""
    from fs3.dataloader import _build, _partitions

    assert _partitions.partition_spans(21, 1, 100) == [(0, 1)]  # one partition: nothing to cut
    assert _partitions.partition_spans(21, 40, 2) == [(0, 40)]  # fewer workers than bands: a band a task
    spans = _partitions.partition_spans(21, 40, 100)  # 100 workers: about 200 tasks
    assert len(spans) == 10 and spans[0][0] == 0 and spans[-1][1] == 40
    assert all(a[1] == b[0] and a[0] < a[1] for a, b in zip(spans[:-1], spans[1:], strict=True))
    assert len(_partitions.partition_spans(21, 1000, 3200)) == _partitions.MAX_SPANS  # each span reads the band

    one = build_shards([str(corpus)], str(tmp_path / "one"), processes=1, part_size=16 << 10, partition_docs=97)
    cuts = []
    monkeypatch.setattr(_build, "partition_spans", lambda bands, partitions, width: cuts.append(partitions) or
                        _partitions.partition_spans(bands, partitions, 3 * bands))
    cut = build_shards([str(corpus)], str(tmp_path / "cut"), processes=1, part_size=16 << 10, partition_docs=97)
    assert cuts and cuts[0] > 6  # six spans a band, of at least one partition each
    assert np.array_equal(cut.dedup.keep, one.dedup.keep)
    assert cut.dedup.clusters == one.dedup.clusters
    _same_set(tmp_path / "one", tmp_path / "cut")


def test_build_workers_are_forks_of_this_process_only_while_no_other_thread_could_hold_a_lock(tmp_path):
    """A fork copies the locks other threads hold (gRPC's, for an fs3 client anywhere in the process; a
    trainer's own): a CI run hung forking build workers from a process with a session client. With such a
    thread the workers come from a fork server."""
    from fs3.dataloader._engines import LocalEngine

    probe = [sys.executable, "-c", "from fs3.dataloader._engines import LocalEngine\n"
             "e = LocalEngine(None, 2); print(e.pool._ctx.get_start_method()); e.close()"]
    alone = subprocess.run(probe, capture_output=True, text=True, timeout=120)
    assert alone.stdout.split() == ["fork"], alone.stderr
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        engine = LocalEngine(None, 2)
        try:
            assert engine.pool._ctx.get_start_method() == "forkserver"
        finally:
            engine.close()
    finally:
        stop.set()
        other.join()


def test_ray_and_local_builds_give_the_same_shard_set(corpus, tmp_path):
    pytest.importorskip("ray")
    build_shards([str(corpus)], str(tmp_path / "local"), processes=2, part_size=32 << 10)
    report = build_shards([str(corpus)], str(tmp_path / "ray"), processes=2, part_size=32 << 10, engine="ray")
    assert report.dedup.near_removed > 0
    _same_set(tmp_path / "local", tmp_path / "ray")


def _build_cmd(corpus, out, *extra):
    return [sys.executable, "-m", "fs3", "shards", "build", str(corpus), "--out", str(out), "-j", "2",
            "--part-size", "16K", "--no-progress", "--json", *extra]


STAGES = ["hash", "exact", "bands", "shingles", "compare", "write"]


@pytest.mark.parametrize("stage", STAGES)
def test_a_build_killed_after_a_stage_goes_on_from_there(corpus, tmp_path, stage):
    ref = tmp_path / "ref"
    build_shards([str(corpus)], str(ref), processes=2, part_size=16 << 10)
    out = tmp_path / "out"
    env = dict(os.environ, FS3_TEST_PAUSE_AFTER_STAGE=stage)
    proc = subprocess.Popen(_build_cmd(corpus, out), env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    stages = out / ".fs3-build" / "stages.json"
    try:
        wait_for(lambda: stages.exists() and stage in json.loads(stages.read_text())["done"], timeout=300,
                 what=f"the build to finish its {stage} stage")
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert not (out / "manifest.json").exists()
    done = subprocess.run(_build_cmd(corpus, out), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    seconds = json.loads(done.stdout)["seconds"]
    timed = ["tokenize" if s == "write" else s for s in STAGES]  # (the write stage is timed as "tokenize")
    at = STAGES.index(stage) + 1
    assert not set(timed[:at]) & set(seconds), seconds  # the finished stages are not done again
    assert set(timed[at:]) <= set(seconds), seconds  # the others are
    _same_set(ref, out)
    assert not (out / ".fs3-build").exists()


def test_the_scratch_of_a_killed_build_is_removed_by_the_next_one(corpus, tmp_path):
    """A build killed with SIGKILL cannot remove its local scratch (spilled sort partitions); the next
    build on the machine finds its owner's lock free and removes it, and leaves a live build's alone."""
    from fs3.dataloader._scratch import Scratch, sweep

    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = dict(os.environ, FS3_TEST_PAUSE_AFTER_STAGE="bands", TMPDIR=str(tmp))
    proc = subprocess.Popen(_build_cmd(corpus, tmp_path / "out"), env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    stages = tmp_path / "out" / ".fs3-build" / "stages.json"
    try:
        wait_for(lambda: stages.exists() and "bands" in json.loads(stages.read_text())["done"], timeout=300,
                 what="the build to finish its bands stage")
        left = [p.name for p in tmp.iterdir()]
        assert [n for n in left if n.startswith("fs3-build-partitions-")], left
        assert sweep(str(tmp)) == []  # its owner is alive
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    live = Scratch("band", str(tmp))  # a build running beside the next one
    try:
        done = subprocess.run(_build_cmd(corpus, tmp_path / "again"), env=dict(env, FS3_TEST_PAUSE_AFTER_STAGE=""),
                              capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr[-2000:]
        assert [p.name for p in tmp.iterdir()] == [os.path.basename(live.path)]
    finally:
        live.close()
    assert list(tmp.iterdir()) == []


def test_an_unfinished_build_is_not_mixed_with_other_settings(corpus, tmp_path):
    out = tmp_path / "out"
    env = dict(os.environ, FS3_TEST_PAUSE_AFTER_STAGE="hash")
    proc = subprocess.Popen(_build_cmd(corpus, out), env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    stages = out / ".fs3-build" / "stages.json"
    try:
        wait_for(lambda: stages.exists() and "hash" in json.loads(stages.read_text())["done"], timeout=300,
                 what="the build to finish hashing")
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    other = subprocess.run(_build_cmd(corpus, out, "--threshold", "0.5"), capture_output=True, text=True,
                           timeout=600)
    assert other.returncode != 0
    assert "unfinished build" in other.stderr and "--overwrite" in other.stderr
    assert "Traceback" not in other.stderr
    assert stages.exists()  # left as it was
    fresh = subprocess.run(_build_cmd(corpus, out, "--threshold", "0.5", "--overwrite"), capture_output=True,
                           text=True, timeout=600)
    assert fresh.returncode == 0, fresh.stderr[-2000:]
    assert "hash" in json.loads(fresh.stdout)["seconds"]  # started again
    assert json.loads((out / "manifest.json").read_text())["dedup"]["minhash"]["threshold"] == 0.5


def _free_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_build_on_an_existing_ray_cluster_gives_the_same_shard_set(corpus, tmp_path):
    pytest.importorskip("ray")
    import socket
    port = _free_port()
    # token authentication, with a token of the test's own (nothing from ~/.ray)
    env = dict(os.environ, RAY_AUTH_MODE="token", RAY_AUTH_TOKEN=os.urandom(16).hex())
    head = subprocess.Popen([sys.executable, "-m", "ray.scripts.scripts", "start", "--head", "--port", str(port),
                             "--num-cpus", "2", "--include-dashboard", "false", "--disable-usage-stats",
                             "--ray-client-server-port", str(_free_port()), "--block"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        def answers():
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return True
            except OSError:
                return head.poll() is not None  # (then the assertion below says so)
        wait_for(answers, timeout=120, what="the Ray head to listen")
        assert head.poll() is None, "ray start --head failed"
        build_shards([str(corpus)], str(tmp_path / "local"), processes=1, part_size=32 << 10)
        cmd = [a if a != "16K" else "32K" for a in _build_cmd(corpus, tmp_path / "ray", "--engine", "ray",
                                                              "--ray-address", f"127.0.0.1:{port}")]
        done = subprocess.run(cmd,
                              env=env, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr[-3000:]
        _same_set(tmp_path / "local", tmp_path / "ray")
    finally:
        for sig, grace in ((signal.SIGTERM, 60), (signal.SIGKILL, 30)):
            try:
                os.killpg(head.pid, sig)
                head.wait(grace)
                break
            except (ProcessLookupError, subprocess.TimeoutExpired):
                continue
        # the head's record of the "current" cluster would send a later ray.init() here to a dead one
        current = "/tmp/ray/ray_current_cluster"
        if os.path.exists(current) and open(current).read().strip().endswith(f":{port}"):
            os.unlink(current)
