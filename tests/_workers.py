"""DataLoader scenarios of tests/dataloader/test_workers.py, importable by name so that the cases that fork
can run in a fresh interpreter, as a trainer does. The pytest process holds the gRPC state of earlier
tests (channels on other loops, servers) that fs3's fork hook does not quiesce (client/_fork.py), and a
child forked from it can abort in gRPC's poller on a busy machine."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np

SEQ = 16
BATCH = 4


def ids(batches) -> list[int]:
    out = []
    for b in batches:
        b = np.asarray(b)
        out += (b.reshape(-1, b.shape[-1])[:, 0] // SEQ).tolist()
    return out


def dataset(url, **kw):
    from fs3.dataloader import TokenDataset
    return TokenDataset(url, seq_len=SEQ, batch_size=BATCH, seed=3, shuffle_block=8, **kw)


def reference(url, epochs: int) -> list[list[int]]:
    ds = dataset(url)
    return [ids(ds) for _ in range(epochs)]  # in-process: each pass continues with the next epoch


def plain_persistent_epochs(url: str, context: str) -> None:
    """A plain DataLoader with persistent workers reads every epoch in order, hears ``set_epoch``, and
    refuses to make up a position; this process's client works on after the forks."""
    import torch

    import fs3
    from fs3._errors import InvalidArgument

    client = fs3.connect()
    client.stat("/")  # this process has talked to the cluster (over gRPC) before its workers start
    ref = reference(url, 2)
    ds = dataset(url)
    loader = torch.utils.data.DataLoader(ds, batch_size=BATCH, num_workers=2, persistent_workers=True,
                                         multiprocessing_context=context)
    first = ids(loader)
    second = ids(loader)  # the same workers: they learn that the next pass is the next epoch
    assert first == ref[0] and second == ref[1], (first, second, ref)
    ds.set_epoch(0)  # the owner's word reaches persistent workers too
    assert ids(loader) == ref[0]
    it = iter(loader)  # where the training loop stands is the loader's to know: a plain one's is refused
    next(it)
    try:
        ds.state_dict()
    except InvalidArgument as exc:
        assert "StatefulDataLoader" in str(exc), exc
    else:
        raise AssertionError("a plain DataLoader's position was made up, not refused")
    del it
    client.stat("/")


def stateful_resume(url: str, context: str, stop: int) -> None:
    """torchdata's StatefulDataLoader stopped after ``stop`` batches resumes exactly, into the next epoch."""
    from torchdata.stateful_dataloader import StatefulDataLoader

    ref = reference(url, 2)
    expected = [x for epoch in ref for x in epoch]

    def loader():
        return StatefulDataLoader(dataset(url), batch_size=BATCH, num_workers=2, multiprocessing_context=context)

    got, first = [], loader()
    it = iter(first)
    for _ in range(stop):
        got += ids([next(it)])
    state = first.state_dict()
    del it
    resumed = loader()
    resumed.load_state_dict(state)
    got += ids(resumed)           # the rest of epoch 0
    got += ids(resumed)           # and epoch 1
    assert got == expected, (got, expected)


def stateful_persistent_next_epoch(url: str) -> None:
    """A StatefulDataLoader with persistent workers, stopped in its second epoch, resumes there."""
    from torchdata.stateful_dataloader import StatefulDataLoader

    ref = reference(url, 3)

    def loader():
        return StatefulDataLoader(dataset(url), batch_size=BATCH, num_workers=2, persistent_workers=True)

    first = loader()
    got = ids(first)              # epoch 0 whole: the same workers go on to epoch 1
    it = iter(first)
    got += ids([next(it) for _ in range(5)])
    state = first.state_dict()
    del it
    resumed = loader()
    resumed.load_state_dict(state)
    got += ids(resumed) + ids(resumed)  # the rest of epoch 1, then epoch 2
    assert got == ref[0] + ref[1] + ref[2], (got, ref)


def run(context: str, scenario: str, *args) -> None:
    """Run ``scenario(*args)``: here, or for fork in a fresh interpreter (FS3_CLUSTER passes on)."""
    if context != "fork":
        globals()[scenario](*args)
        return
    here = os.path.dirname(os.path.abspath(__file__))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [here, os.environ.get("PYTHONPATH")])))
    code = f"import _workers; _workers.{scenario}(*{args!r})"
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-4000:]
