"""Read rounds running at once (the loader's prefetch threads) share the shuffle blocks they need: each
block is read once, whoever asks second waits for it, and a failed read fails every round waiting on it."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from _timing import wait_for

from fs3.dataloader import TokenDataset

SEQ = 16
BLOCK = 8  # samples per shuffle block


def _dataset(counting_shards) -> TokenDataset:
    return TokenDataset(counting_shards(tokens=50_000, shards=2), seq_len=SEQ, batch_size=4, output="numpy",
                        shuffle_block=BLOCK)


class _Gated:
    """Counts the shard set's reads, and holds the first round's read until another round has found
    blocks it is loading (claim_blocks handed out their futures): the rounds overlap by construction,
    not by timing. ``waited`` records the blocks each later round waited for."""

    def __init__(self, shard_set, fail: bool = False):
        self.reads: list = []
        self.waited: list[list[int]] = []
        self.overlap = threading.Event()
        self._lock = threading.Lock()
        self._fail = fail
        self._read, self._claim = shard_set.reader.read, shard_set.claim_blocks
        shard_set.reader.read, shard_set.claim_blocks = self.read, self.claim

    def claim(self, blocks):
        have, mine, theirs = self._claim(blocks)
        if theirs:
            self.waited.append(sorted(theirs))
            self.overlap.set()
        return have, mine, theirs

    def read(self, ranges, out):
        with self._lock:
            first = not self.reads
            self.reads.extend(ranges)
        if first:
            assert self.overlap.wait(60), "the second round never asked for a block being read"
        if self._fail:
            raise OSError("disk on fire")
        self._read(ranges, out)


def _round(ds, samples, out, errors):
    def run():
        try:
            ds._read_blocks(ds.sets[0], np.arange(len(samples)), samples, np.unique(samples // BLOCK), out)
        except OSError as exc:
            errors.append(exc)
    return threading.Thread(target=run)


def test_concurrent_rounds_read_each_block_once(counting_shards):
    ds = _dataset(counting_shards)
    gate = _Gated(ds.sets[0])
    first, second = np.arange(0, 48), np.arange(16, 80)  # blocks 0-5 and 2-9: 2-5 wanted by both
    outs = [np.zeros((len(first), SEQ + 1), np.int64), np.zeros((len(second), SEQ + 1), np.int64)]
    errors: list = []
    threads = [_round(ds, first, outs[0], errors)]
    threads[0].start()
    wait_for(lambda: ds.sets[0].loading, what="the first round to claim its blocks")
    threads.append(_round(ds, second, outs[1], errors))
    threads[1].start()
    for t in threads:
        t.join(60)
    assert not errors
    assert gate.waited == [[2, 3, 4, 5]]  # the second round waited for the first's reads of these
    starts = [(shard, off) for shard, off, _n in gate.reads]
    assert len(starts) == len(set(starts)), "a block was read twice"
    for samples, out in zip((first, second), outs, strict=True):
        want = samples[:, None] * SEQ + np.arange(SEQ + 1)  # token i is i: a sample names itself
        assert (out == want).all()
    assert not ds.sets[0].loading


def test_a_failed_block_read_fails_the_rounds_waiting_for_it(counting_shards):
    ds = _dataset(counting_shards)
    gate = _Gated(ds.sets[0], fail=True)
    samples = np.arange(0, 32)
    errors: list = []
    threads = [_round(ds, samples, np.zeros((32, SEQ + 1), np.int64), errors) for _ in range(2)]
    threads[0].start()
    wait_for(lambda: ds.sets[0].loading, what="the first round to claim its blocks")
    threads[1].start()
    for t in threads:
        t.join(60)
    assert gate.waited == [[0, 1, 2, 3]]  # the second round waited on the first's read...
    assert len(errors) == 2 and all("disk on fire" in str(e) for e in errors)  # ...and shares its failure
    assert not ds.sets[0].loading and not ds.sets[0].cache  # nothing half-read is kept
    with pytest.raises(OSError):  # and the next round tries again rather than waiting forever
        ds._read_blocks(ds.sets[0], np.arange(8), samples[:8], np.array([0]), np.zeros((8, SEQ + 1), np.int64))


def test_a_forked_worker_does_not_wait_for_its_parents_reads(counting_shards):
    """DataLoader workers forked while a prefetch thread is reading a block must read it themselves:
    the parent's thread does not exist in the child."""
    import os

    ds = _dataset(counting_shards)
    shard_set = ds.sets[0]
    _have, mine, _theirs = shard_set.claim_blocks([5])  # a parent round is reading block 5
    assert mine == [5]
    pid = os.fork()
    if pid == 0:  # the child: block 5 must be its own to read, not a wait on a read that never ends
        _have, mine, theirs = shard_set.claim_blocks([5])
        os._exit(0 if mine == [5] and not theirs else 1)
    _pid, status = os.waitpid(pid, 0)
    shard_set.blocks_loaded({}, [5], RuntimeError("test over"))
    assert os.waitstatus_to_exitcode(status) == 0
