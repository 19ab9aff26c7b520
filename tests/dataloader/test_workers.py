"""TokenDataset under any DataLoader: a plain ``torch.utils.data.DataLoader`` with fork, forkserver and spawn
workers reading fs3 (a real cluster), persistent workers across epochs, torchdata's StatefulDataLoader
resuming exactly, a plain loader's state refused rather than wrong, and a trainer killed with SIGKILL
leaving no worker, helper or shared-memory region behind. Cases that fork run in a fresh interpreter
(tests/_workers.py), as a trainer does: this process holds earlier tests' gRPC state."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import uuid

import numpy as np
import pytest
from _timing import wait_for
from _workers import BATCH, SEQ, dataset, ids, reference, run

from fs3._errors import ChecksumMismatch, InvalidArgument
from fs3.dataloader import TokenDataset, TokenLoader

pytestmark = pytest.mark.needs_torch


@pytest.fixture
def fs3_set(cluster, client, counting_shards):
    """A counting shard set copied onto the session cluster; FS3_CLUSTER points workers at it."""
    local = counting_shards(12_000, 3)
    root = f"/workers-{uuid.uuid4().hex[:8]}"
    client.mkdir(root)
    for name in sorted(os.listdir(local)):
        with client.open(f"{root}/{name}", "wb") as f:
            f.write(open(os.path.join(local, name), "rb").read())
    old = os.environ.get("FS3_CLUSTER")
    os.environ["FS3_CLUSTER"] = str(cluster.data_dir)
    yield f"fs3://{root}"
    if old is None:
        os.environ.pop("FS3_CLUSTER", None)
    else:
        os.environ["FS3_CLUSTER"] = old


@pytest.mark.parametrize("context", ["fork", "forkserver", "spawn"])
def test_plain_dataloader_with_persistent_workers_reads_every_epoch_in_order(fs3_set, context):
    run(context, "plain_persistent_epochs", fs3_set, context)


def test_token_loader_with_persistent_workers_resumes_exactly(fs3_set):
    full = [ids([b]) for b in TokenLoader(dataset(fs3_set), num_workers=2)]
    loader = TokenLoader(dataset(fs3_set), num_workers=2, persistent_workers=True)
    head = []
    for k, b in enumerate(loader):
        head.append(ids([b]))
        if k == 4:
            state = loader.state_dict()
            break
    resumed = TokenLoader(dataset(fs3_set), num_workers=2, persistent_workers=True)
    resumed.load_state_dict(state)
    assert head + [ids([b]) for b in resumed] == full
    assert resumed.state_dict()["epoch"] == 1
    assert [ids([b]) for b in resumed] == [ids([b]) for b in TokenLoader(_at_epoch(dataset(fs3_set), 1))]


_LATE_CLUSTER = """
import multiprocessing, os, sys
import numpy as np
from fs3.dataloader import TokenDataset, TokenLoader

def ds(url):
    return TokenDataset(url, seq_len=SEQ_LEN, batch_size=BATCH_SIZE, seed=3, shuffle_block=8)

if __name__ == "__main__":
    url, cluster = sys.argv[1], sys.argv[2]
    os.environ["FS3_CLUSTER"] = "127.0.0.1:1"          # the settings when the forkserver starts ...
    p = multiprocessing.get_context("forkserver").Process(target=os.getpid)
    p.start(); p.join()
    os.environ["FS3_CLUSTER"] = cluster               # ... are not the ones the loader starts under
    loader = TokenLoader(ds(url), num_workers=1, multiprocessing_context="forkserver")
    got = np.concatenate([np.asarray(b).reshape(-1) for b in loader])
    want = np.concatenate([np.asarray(b).reshape(-1) for b in ds(url)])
    assert got.tolist() == want.tolist(), "the worker read something else"
    print("same batches")
""".replace("SEQ_LEN", str(SEQ)).replace("BATCH_SIZE", str(BATCH))


def test_forkserver_workers_use_the_cluster_their_parent_uses_now(fs3_set, cluster, tmp_path):
    # a forkserver outlives the test (or notebook cell) that started it: its children must not connect
    # to the cluster, with the token, that was configured back then
    script = tmp_path / "late.py"
    script.write_text(_LATE_CLUSTER)
    env = {k: v for k, v in os.environ.items() if k != "FS3_CLUSTER"}
    done = subprocess.run([sys.executable, str(script), fs3_set, str(cluster.data_dir)], env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "same batches" in done.stdout


def _at_epoch(ds, epoch):
    ds.set_epoch(epoch)
    return ds


@pytest.mark.parametrize("context", ["fork", "spawn"])
@pytest.mark.parametrize("stop", [0, 3, 7])
def test_stateful_dataloader_resumes_exactly(fs3_set, context, stop):
    pytest.importorskip("torchdata.stateful_dataloader")
    run(context, "stateful_resume", fs3_set, context, stop)


def test_stateful_dataloader_with_persistent_workers_resumes_in_the_next_epoch(fs3_set):
    pytest.importorskip("torchdata.stateful_dataloader")
    run("fork", "stateful_persistent_next_epoch", fs3_set)  # (torch's default context on Linux)


def test_stateful_dataloader_in_process(fs3_set):
    sdl = pytest.importorskip("torchdata.stateful_dataloader")
    ref = reference(fs3_set, 1)[0]
    first = sdl.StatefulDataLoader(dataset(fs3_set), batch_size=BATCH, num_workers=0)
    it = iter(first)
    head = ids([next(it) for _ in range(5)])
    resumed = sdl.StatefulDataLoader(dataset(fs3_set), batch_size=BATCH, num_workers=0)
    resumed.load_state_dict(first.state_dict())
    assert head + ids(resumed) == ref


# -- a killed trainer leaves nothing behind -----------------------------------------------------------

_TRAINER = """
import ctypes, os, sys, time
import torch
from fs3.dataloader import TokenDataset

class Stuck(TokenDataset):
    # Once the flag file is there, a worker hangs in C code that holds the GIL (none of its threads runs),
    # from its second read on: its first read maps its region (a slow worker may start after the flag).
    def _fetch_unit(self, epoch, batches):
        if (os.path.exists(sys.argv[4]) and torch.utils.data.get_worker_info() is not None
                and getattr(self, "_fetched", False)):
            ctypes.PyDLL(None).sleep(3600)
        rows = super()._fetch_unit(epoch, batches)
        self._fetched = True
        return rows

if __name__ == "__main__":
    kind = Stuck if sys.argv[3] == "stuck" else TokenDataset
    ds = kind(sys.argv[1], seq_len=16, batch_size=4, seed=1, shuffle_block=8)
    loader = torch.utils.data.DataLoader(ds, batch_size=4, num_workers=2, persistent_workers=True,
                                         multiprocessing_context=sys.argv[2])
    while True:
        for batch in loader:
            print("batch", flush=True)
            time.sleep(0.01)
"""


def _children(pid: int) -> set[int]:
    out = set()
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{task}/children") as f:
                out |= {int(x) for x in f.read().split()}
        except OSError:
            pass
    return out


def _descendants(pid: int) -> set[int]:
    seen, todo = set(), [pid]
    while todo:
        for child in _children(todo.pop()):
            if child not in seen:
                seen.add(child)
                todo.append(child)
    return seen


def _running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"  # a zombie has ended
    except OSError:
        return False


def _in_syscall(pid: int, number: int) -> bool:
    """Whether a thread of ``pid`` is blocked in system call ``number``."""
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return False
    for task in tasks:
        try:
            with open(f"/proc/{pid}/task/{task}/syscall") as f:
                if f.read().split(" ", 1)[0] == str(number):
                    return True
        except OSError:
            pass
    return False


def _regions_of(pids: set[int]) -> list[str]:
    return [n for n in os.listdir("/dev/shm") if n.startswith("fs3-") and n.split("-")[1].isdigit()
            and int(n.split("-")[1]) in pids]


@pytest.mark.parametrize(("context", "workers"), [("fork", "reading"), ("forkserver", "reading"),
                                                   ("fork", "stuck"), ("spawn", "stuck")])
def test_kill_9_of_a_trainer_leaves_no_process_and_no_region(fs3_set, tmp_path, context, workers):
    script = tmp_path / "trainer.py"
    script.write_text(textwrap.dedent(_TRAINER))
    log = open(tmp_path / "trainer.log", "wb")  # noqa: SIM115 - the trainer's, closed below
    flag = tmp_path / "stuck"
    trainer = subprocess.Popen([sys.executable, str(script), fs3_set, context, workers, str(flag)],
                               stdout=subprocess.PIPE, stderr=log, stdin=subprocess.DEVNULL)
    try:
        assert trainer.stdout.readline() == b"batch\n", (tmp_path / "trainer.log").read_text()
        flag.touch()  # ("stuck" workers hang from their next read on, holding the GIL)
        # both workers read (and so hold a client and a region of their own)
        family = wait_for(lambda: (lambda d: d if len(_regions_of(d | {trainer.pid})) >= 3 else None)(
            _descendants(trainer.pid)), what="the trainer's workers to map their regions")
        pids = family | {trainer.pid}
        if workers == "stuck":  # a worker is in its sleep(3600) (clock_nanosleep), holding the GIL
            wait_for(lambda: any(_in_syscall(p, 230) for p in family), what="a worker to hang")
    finally:
        trainer.send_signal(signal.SIGKILL)
        trainer.wait()
        log.close()
    assert len(family) >= 2
    wait_for(lambda: not [p for p in family if _running(p)], timeout=5.0, interval=0.05, max_interval=0.1,
             what="every worker and helper of the killed trainer to exit")
    wait_for(lambda: not _regions_of(pids), timeout=5.0, interval=0.05, max_interval=0.1,
             what="the killed trainer's shared-memory regions to be removed")


# -- resume checks ------------------------------------------------------------------------------------

def test_resume_refuses_another_global_batch_shard_set_or_tokenizer(counting_shards):
    import hashlib
    import json

    path = counting_shards(8_000, 2)
    ds = TokenDataset(path, seq_len=SEQ, batch_size=4, seed=1, rank=0, world_size=2)
    state = ds.state_dict()
    with pytest.raises(InvalidArgument, match="global batch of 8 samples, this dataset has 12"):
        TokenDataset(path, seq_len=SEQ, batch_size=6, seed=1, rank=0, world_size=2).load_state_dict(state)
    # the same global batch on another number of ranks is fine
    TokenDataset(path, seq_len=SEQ, batch_size=8, seed=1).load_state_dict(state)

    manifest = os.path.join(path, "manifest.json")
    raw = json.loads(open(manifest).read())
    tokenizer = b'{"model": "a stand-in: only its bytes matter here"}'
    with open(os.path.join(path, "tokenizer.json"), "wb") as f:
        f.write(tokenizer)
    raw["tokenizer"] = {"kind": "huggingface", "file": "tokenizer.json",
                        "sha256": hashlib.sha256(tokenizer).hexdigest()}
    with open(manifest, "w") as f:
        f.write(json.dumps(raw))
    with pytest.raises(InvalidArgument, match="tokenizer of shard set .* is not the one the state was saved with"):
        TokenDataset(path, seq_len=SEQ, batch_size=4, seed=1, rank=0, world_size=2).load_state_dict(state)
    state = TokenDataset(path, seq_len=SEQ, batch_size=4, seed=1, rank=0, world_size=2).state_dict()
    TokenDataset(path, seq_len=SEQ, batch_size=4, seed=1, rank=0, world_size=2).load_state_dict(state)
    with open(os.path.join(path, "tokenizer.json"), "ab") as f:
        f.write(b" ")  # the stored tokenizer changed after the build (and after the state was saved)
    with pytest.raises(ChecksumMismatch, match="tokenizer was changed after the build"):
        TokenDataset(path, seq_len=SEQ, batch_size=4, seed=1, rank=0, world_size=2).load_state_dict(state)
    with open(os.path.join(path, "tokenizer.json"), "wb") as f:
        f.write(tokenizer)

    raw["shards"][1]["bin_crc32c"] ^= 1  # a shard rewritten with other tokens (same sizes)
    with open(manifest, "w") as f:
        f.write(json.dumps(raw))
    with pytest.raises(InvalidArgument, match="not the one the state was saved with"):
        TokenDataset(path, seq_len=SEQ, batch_size=4, seed=1, rank=0, world_size=2).load_state_dict(state)


# -- batches handed over through shared memory ------------------------------------------------------

def test_token_loader_workers_hand_batches_over_through_shared_memory(counting_shards):
    path = counting_shards()
    ref = [ids([b]) for b in TokenLoader(dataset(path), num_workers=0)]
    ds = dataset(path)
    loader = TokenLoader(ds, num_workers=2)
    ring, taken = ds._ring, []
    take = ring.take
    ring.take = lambda slot: taken.append(slot) or take(slot)
    got = [b for b in loader]
    assert [ids([b]) for b in got] == ref
    # batches come through slots; near an epoch's end, when one worker has finished its share, the
    # loader may ask the other for more than its slots hold: those few come as tensors of their own
    assert len(taken) >= len(got) - 2 * 2
    assert not ring.full.any()      # and every slot was given back
    got[0][0, 0] = -1               # a batch is the caller's own copy, not a slot a worker will reuse
    assert all(b.shape == (BATCH, SEQ + 1) for b in got[:-1])


def test_a_worker_whose_slot_is_taken_sends_the_batch_itself():
    import torch

    from fs3.dataloader._handover import BatchRing, Slot

    ring = BatchRing(workers=2, per_worker=1, rows=4, width=SEQ + 1)
    batch = torch.arange(3 * (SEQ + 1)).reshape(3, SEQ + 1)
    slot = ring.put(1, batch)
    assert isinstance(slot, Slot) and slot.index == 1 and slot.rows == 3
    assert ring.put(1, batch) is batch             # its only slot is still the loader's
    assert ring.put(0, torch.zeros(5, SEQ + 1, dtype=torch.int64)).shape == (5, SEQ + 1)  # too big for a slot
    assert torch.equal(ring.take(slot), batch) and not ring.full.any()
    ring.begin(1)
    assert isinstance(ring.put(1, batch), Slot)


def test_uniform_shuffle_reads_whole_samples_in_one_batch_per_round(fs3_set):
    ds = TokenDataset(fs3_set, seq_len=SEQ, batch_size=BATCH, seed=5, shuffle_block=1, output="numpy")
    rows = np.concatenate([np.asarray(b).reshape(-1, SEQ + 1) for b in ds])
    first = rows[:, 0] // SEQ
    assert sorted(first.tolist()) == list(range(ds.epoch_length))  # every sample once, shuffled
    assert first.tolist() != sorted(first.tolist())
    # each row is its sample's tokens, also those that cross a shard boundary
    assert np.array_equal(rows, first[:, None] * SEQ + np.arange(SEQ + 1))


# -- worker start -------------------------------------------------------------------------------------

_FRESH = """
import sys, threading
from multiprocessing import forkserver
import numpy as np
from fs3.dataloader import TokenDataset, TokenLoader

def ds(url):
    return TokenDataset(url, seq_len=SEQ_LEN, batch_size=BATCH_SIZE, seed=3, shuffle_block=8)

def torch_mapped(pid):
    with open(f"/proc/{pid}/maps") as f:
        return "libtorch" in f.read()

def check_batches(loader, url):
    got = np.concatenate([np.asarray(b).reshape(-1) for b in loader])
    want = np.concatenate([np.asarray(b).reshape(-1) for b in ds(url)])
    assert got.tolist() == want.tolist(), "the workers read something else"
""".replace("SEQ_LEN", str(SEQ)).replace("BATCH_SIZE", str(BATCH))

_PRELOAD = _FRESH + """
if __name__ == "__main__":
    url = sys.argv[1]
    TokenLoader(ds(url), num_workers=1, multiprocessing_context="spawn")  # the caller's choice ...
    assert forkserver._forkserver._preload_modules == ["__main__"], "a context given was changed"
    assert forkserver._forkserver._forkserver_pid is None
    loader = TokenLoader(ds(url), num_workers=2)                          # ... and the default
    server = forkserver._forkserver._forkserver_pid
    assert server is not None, "the fork server was not started with the loader"
    assert forkserver._forkserver._preload_modules == ["__main__", "torch", "fs3.dataloader"]
    check_batches(loader, url)
    # the workers were forked from a server that had torch loaded: none imported it again
    assert torch_mapped(server), "the fork server did not preload torch"
    print("preloaded")
"""

_BUILD_FIRST = _FRESH + """
import torch
from fs3.dataloader._engines import LocalEngine

if __name__ == "__main__":
    url = sys.argv[1]
    stop = threading.Event()
    trainer_thread = threading.Thread(target=stop.wait, daemon=True)  # the build's workers: from a fork server
    trainer_thread.start()
    engine = LocalEngine(None, 2)
    assert engine.pool._ctx.get_start_method() == "forkserver"
    engine.close()
    server = forkserver._forkserver._forkserver_pid
    assert "torch" in forkserver._forkserver._preload_modules, forkserver._forkserver._preload_modules
    loader = TokenLoader(ds(url), num_workers=2)
    assert forkserver._forkserver._forkserver_pid == server, "one fork server a process"
    check_batches(loader, url)
    assert torch_mapped(server), "the build's fork server did not preload torch"
    stop.set()
    trainer_thread.join()
    print("preloaded")
"""


def _run_fresh(tmp_path, script: str, url: str) -> None:
    """Run ``script`` in a fresh interpreter (a fork server of its own) on the shard set ``url``."""
    path = tmp_path / "fresh.py"
    path.write_text(script)
    done = subprocess.run([sys.executable, str(path), url], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "preloaded" in done.stdout


def test_a_fork_server_a_shard_build_started_preloads_torch_for_a_later_loader(counting_shards, tmp_path):
    # a process has one fork server and its preload list is fixed when it starts: a build in a trainer
    # (torch imported) that started it must not leave a later TokenLoader's workers importing torch
    _run_fresh(tmp_path, _BUILD_FIRST, counting_shards())


def test_token_loader_starts_a_fork_server_that_preloads_torch(counting_shards, tmp_path):
    # each worker otherwise imports torch again (about a second) at every start; with the fork server
    # started with the loader and torch loaded in it once, a worker starts in milliseconds
    _run_fresh(tmp_path, _PRELOAD, counting_shards())
