"""TokenDataset order, split, resumption and mixing on local shard sets whose tokens count up, so each
sample names itself (its first token / seq_len). Tests of TokenLoader (a torch DataLoader) need PyTorch;
the dataset's own run without it (it then yields numpy arrays)."""

from __future__ import annotations

import numpy as np
import pytest

from fs3._errors import InvalidArgument
from fs3.dataloader import TokenDataset, TokenLoader

SEQ = 16


def ids(batches) -> list[int]:
    out = []
    for b in batches:
        b = np.asarray(b)
        b = b.reshape(-1, b.shape[-1])
        out += (b[:, 0] // SEQ).tolist()
    return out


def test_samples_are_consecutive_tokens_across_shard_boundaries(counting_shards):
    ds = TokenDataset(counting_shards(tokens=5000, shards=7), seq_len=SEQ, shuffle=False, output="numpy")
    rows = list(ds)
    assert len(rows) == (5000 - 1) // SEQ
    for k, row in enumerate(rows):
        assert row.dtype == np.int64 and row.shape == (SEQ + 1,)
        assert np.array_equal(row, np.arange(k * SEQ, k * SEQ + SEQ + 1))


def test_same_seed_same_order_new_epoch_new_order(counting_shards):
    path = counting_shards()
    a = ids(TokenDataset(path, seq_len=SEQ, seed=3, shuffle_block=8, shuffle_window=4))
    b = ids(TokenDataset(path, seq_len=SEQ, seed=3, shuffle_block=8, shuffle_window=4))
    assert a == b
    assert sorted(a) == list(range(len(a)))  # a permutation of every sample
    ds = TokenDataset(path, seq_len=SEQ, seed=3, shuffle_block=8, shuffle_window=4)
    ds.set_epoch(1)
    c = ids(ds)
    assert sorted(c) == sorted(a) and c != a
    assert ids(TokenDataset(path, seq_len=SEQ, seed=4, shuffle_block=8, shuffle_window=4)) != a
    # iterating again continues with the next epoch
    again = TokenDataset(path, seq_len=SEQ, seed=3, shuffle_block=8, shuffle_window=4)
    assert ids(again) == a and ids(again) == c


@pytest.mark.needs_torch
def test_four_ranks_two_workers_no_overlap_full_coverage(counting_shards):
    path = counting_shards(tokens=30_000)
    seen = []
    for rank in range(4):
        ds = TokenDataset(path, seq_len=SEQ, batch_size=5, seed=1, rank=rank, world_size=4)
        got = ids(TokenLoader(ds, num_workers=2))
        assert len(got) == len(ds)
        seen += got
    n = TokenDataset(path, seq_len=SEQ).epoch_length
    n -= n % 4
    assert len(seen) == len(set(seen)) == n
    assert set(seen) <= set(range((30_000 - 1) // SEQ))


@pytest.mark.needs_torch
@pytest.mark.parametrize("workers", [0, 1, 3])
def test_worker_count_does_not_change_the_order(counting_shards, workers):
    path = counting_shards()
    ref = ids(TokenLoader(TokenDataset(path, seq_len=SEQ, batch_size=4, seed=2), num_workers=0))
    got = ids(TokenLoader(TokenDataset(path, seq_len=SEQ, batch_size=4, seed=2), num_workers=workers))
    assert got == ref


@pytest.mark.needs_torch
@pytest.mark.parametrize("workers", [0, 2])
def test_resume_after_k_steps_equals_uninterrupted(counting_shards, workers):
    path = counting_shards()
    full = [ids([b]) for b in TokenLoader(TokenDataset(path, seq_len=SEQ, batch_size=4, seed=5),
                                           num_workers=workers)]
    loader = TokenLoader(TokenDataset(path, seq_len=SEQ, batch_size=4, seed=5), num_workers=workers)
    first = []
    for k, b in enumerate(loader):
        first.append(ids([b]))
        if k == 6:
            state = loader.state_dict()
            break
    resumed_ds = TokenDataset(path, seq_len=SEQ, batch_size=4, seed=5)
    resumed = TokenLoader(resumed_ds, num_workers=workers)
    resumed.load_state_dict(state)
    rest = [ids([b]) for b in resumed]
    assert first + rest == full
    # past the end of the epoch the state points at the next one
    assert resumed.state_dict()["epoch"] == 1 and resumed.state_dict()["position"] == 0


def test_resume_in_process_without_loader(counting_shards):
    path = counting_shards()
    ds = TokenDataset(path, seq_len=SEQ, seed=9)
    it = iter(ds)
    head = [int(next(it)[0]) // SEQ for _ in range(10)]
    state = ds.state_dict()
    again = TokenDataset(path, seq_len=SEQ, seed=9)
    again.load_state_dict(state)
    assert head + ids(again) == ids(TokenDataset(path, seq_len=SEQ, seed=9))


@pytest.mark.needs_torch
def test_resume_from_four_ranks_on_two_with_the_same_global_batch(counting_shards):
    path = counting_shards(tokens=40_000)
    def step_batches(world, batch, state=None, steps=None):
        loaders = []
        for rank in range(world):
            ds = TokenDataset(path, seq_len=SEQ, batch_size=batch, seed=7, rank=rank, world_size=world)
            loader = TokenLoader(ds, num_workers=0)
            if state is not None:
                loader.load_state_dict(state)
            loaders.append(loader)
        out, its = [], [iter(x) for x in loaders]
        while steps is None or len(out) < steps:
            step = []
            try:
                for i in its:
                    step += ids([next(i)])
            except StopIteration:
                break
            out.append(sorted(step))
        return out, loaders[0].state_dict()
    uninterrupted, _ = step_batches(4, 3)           # global batch 12
    head, state = step_batches(4, 3, steps=5)
    tail, _ = step_batches(2, 6, state=state)        # same global batch on 2 ranks
    # every step continues the same global order; 2 ranks drop a smaller remainder at the epoch's end,
    # which can add one last short step
    assert (head + tail)[:len(uninterrupted)] == uninterrupted
    assert len(head + tail) - len(uninterrupted) <= 1


def test_resume_refuses_a_position_the_ranks_cannot_split(counting_shards):
    path = counting_shards()
    ds = TokenDataset(path, seq_len=SEQ, batch_size=3, rank=0, world_size=3)
    state = ds.state_dict() | {"position": 9}
    other = TokenDataset(path, seq_len=SEQ, batch_size=3, rank=0, world_size=2)
    with pytest.raises(InvalidArgument, match="global batch"):
        other.load_state_dict(state)
    with pytest.raises(InvalidArgument, match="seed"):
        TokenDataset(path, seq_len=SEQ, seed=99).load_state_dict(state)


def test_weighted_mixing(counting_shards):
    small = counting_shards(tokens=3_000, name="small")  # 187 samples
    big = counting_shards(tokens=60_000, name="big")      # 3749 samples
    ds = TokenDataset({small: 1.0, big: 3.0}, seq_len=SEQ, seed=1, output="numpy")
    sources = ds.mixture.locate(0, np.arange(4000))[0]
    share = np.bincount(sources) / len(sources)
    assert abs(share[0] - 0.25) < 0.02 and abs(share[1] - 0.75) < 0.02
    rows = list(ds)
    assert len(rows) == ds.mixture.epoch_length
    # the small set repeats, each pass a full permutation of its samples
    src, sample = ds.mixture.locate(0, np.arange(len(rows)))
    small_ids = sample[src == 0]
    first = small_ids[:187]
    assert sorted(first.tolist()) == list(range(187))
    assert list(TokenDataset({small: 1.0, big: 3.0}, seq_len=SEQ, seed=1, output="numpy").mixture.locate(
        0, np.arange(100))[1]) == list(sample[:100])
    for x, row in zip(sample, rows, strict=True):
        assert row[0] == x * SEQ  # both sets count from 0: the row is that set's sample


def test_bad_arguments_are_clear(counting_shards, tmp_path):
    path = counting_shards(tokens=100)
    with pytest.raises(InvalidArgument, match="fewer than one sample"):
        TokenDataset(path, seq_len=1000)
    with pytest.raises(InvalidArgument, match="rank"):
        TokenDataset(path, seq_len=SEQ, rank=2, world_size=2)
    with pytest.raises(FileNotFoundError):
        TokenDataset(str(tmp_path / "missing"), seq_len=SEQ)
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "manifest.json").write_text("{not json")
    with pytest.raises(InvalidArgument, match="manifest"):
        TokenDataset(str(tmp_path / "junk"), seq_len=SEQ)
