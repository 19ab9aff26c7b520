"""Which sample comes where: the deterministic epoch order, mixing of several shard sets, and the split
across ranks and DataLoader workers. Pure functions of (seed, epoch, sizes); nothing here reads data.

Order of one shard set in one epoch (a "block-window" shuffle, like MosaicML Streaming's py1b):
samples are grouped into blocks of ``block`` consecutive samples; the blocks are permuted; consecutive
runs of ``window`` permuted blocks form windows, and the samples of each window are permuted among
themselves. ``block=1`` is a uniform shuffle of the whole epoch; larger blocks let a reader fetch
contiguous extents instead of scattered samples. Everything is drawn from ``numpy``'s PCG64 seeded with
(seed, epoch[, window]), so any position is computed directly and resumption needs no replay.

Mixing: a fixed schedule of ``period`` slots holds each source in proportion to its weight (largest
remainder); position *g* of the mixed stream (counted across epochs) takes slot ``g % period`` and is that
source's ``(g // period) * count + rank of the slot``-th sample, counted across the source's own epochs,
so a small source repeats (with a new order each time) while a large one is sampled.

Split: global position *p* of an epoch goes to rank ``p % world_size``; a rank's local samples are cut
into batches of ``batch_size`` and batch *k* (counted from where this iteration started) goes to worker
``k % num_workers``. Global step *s* therefore consumes positions ``[s*G, (s+1)*G)`` with
``G = batch_size * world_size`` for any world size: changing the number of ranks with the same global
batch continues the same global order.
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np

from fs3._errors import InvalidArgument


def _rng(*key: int) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64([int(k) & 0xFFFFFFFFFFFFFFFF for k in key]))


class EpochOrder:
    """The shuffled order of ``n`` samples per epoch; ``samples(epoch, positions)`` maps positions of an
    epoch to sample ids. Keeps the last few epochs' block orders and windows cached."""

    def __init__(self, n: int, seed: int, *, block: int = 1, window: int = 1, shuffle: bool = True):
        if n < 1:
            raise InvalidArgument("a shard set needs at least one sample (more tokens than seq_len)")
        if block < 1 or window < 1:
            raise InvalidArgument("shuffle block and window must be at least 1")
        self.n, self.seed, self.shuffle = n, seed, shuffle
        self.block = min(block, n)
        self.window = window
        self.num_blocks = -(-n // self.block)
        self._epochs: OrderedDict[int, tuple[np.ndarray, np.ndarray]] = OrderedDict()
        self._windows: OrderedDict[tuple[int, int], np.ndarray] = OrderedDict()

    def _block_size(self, b: np.ndarray) -> np.ndarray:
        return np.minimum(self.block, self.n - b * self.block)

    def _epoch(self, epoch: int) -> tuple[np.ndarray, np.ndarray]:
        """(block order, start position of each window) for an epoch."""
        got = self._epochs.get(epoch)
        if got is None:
            blocks = _rng(self.seed, epoch, 0).permutation(self.num_blocks)
            sizes = self._block_size(blocks)
            per_window = np.add.reduceat(sizes, np.arange(0, self.num_blocks, self.window))
            starts = np.concatenate([[0], np.cumsum(per_window)])
            got = self._epochs[epoch] = (blocks, starts)
            while len(self._epochs) > 2:
                self._epochs.popitem(last=False)
        return got

    def _window(self, epoch: int, w: int) -> np.ndarray:
        """Sample ids of window ``w`` of an epoch, in their shuffled order."""
        key = (epoch, w)
        got = self._windows.get(key)
        if got is None:
            blocks, _ = self._epoch(epoch)
            ids = np.concatenate([np.arange(b * self.block, b * self.block + int(self._block_size(b)))
                                  for b in blocks[w * self.window:(w + 1) * self.window]])
            got = self._windows[key] = _rng(self.seed, epoch, w + 1).permutation(ids)
            while len(self._windows) > 8:
                self._windows.popitem(last=False)
        return got

    def samples(self, epoch: int, positions: np.ndarray) -> np.ndarray:
        positions = np.asarray(positions, dtype=np.int64)
        if not self.shuffle:
            return positions.copy()
        if len(positions) and (positions.min() < 0 or positions.max() >= self.n):
            raise IndexError("position outside the epoch")
        _, starts = self._epoch(epoch)
        windows = np.searchsorted(starts, positions, side="right") - 1
        out = np.empty_like(positions)
        for w in np.unique(windows):
            sel = windows == w
            out[sel] = self._window(epoch, int(w))[positions[sel] - starts[w]]
        return out


class Mixture:
    """Positions of a mixed stream to (source, sample id) over sources of given sizes and weights."""

    def __init__(self, orders: list[EpochOrder], weights: list[float], seed: int, period: int = 0):
        if not orders:
            raise InvalidArgument("no shard sets to read")
        w = np.asarray(weights, dtype=np.float64)
        if len(w) != len(orders) or np.any(w <= 0) or not np.all(np.isfinite(w)):
            raise InvalidArgument("each shard set needs a positive weight")
        self.orders = orders
        w = w / w.sum()
        period = period or (1 if len(orders) == 1 else 1000)
        counts = np.floor(w * period).astype(np.int64)
        rest = period - counts.sum()
        counts[np.argsort(-(w * period - counts), kind="stable")[:rest]] += 1
        if np.any(counts == 0):
            raise InvalidArgument(f"a weight is below 1/{period} of the total: raise it or drop that set")
        self.counts = counts
        slots = np.repeat(np.arange(len(orders)), counts)
        self.schedule = _rng(seed, 0xC0FFEE).permutation(slots) if len(orders) > 1 else slots
        self.rank_in_period = np.zeros(period, dtype=np.int64)
        for s in range(len(orders)):
            where = self.schedule == s
            self.rank_in_period[where] = np.arange(int(where.sum()))
        self.period = period
        # One mixed epoch: as many samples as all sources hold together.
        self.epoch_length = int(sum(o.n for o in orders))

    def locate(self, epoch: int, positions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(source index, sample id) of each position of a mixed epoch."""
        g = epoch * self.epoch_length + np.asarray(positions, dtype=np.int64)
        off = g % self.period
        src = self.schedule[off]
        k = (g // self.period) * self.counts[src] + self.rank_in_period[off]
        sample = np.empty_like(k)
        for s, order in enumerate(self.orders):
            sel = src == s
            if np.any(sel):
                ks = k[sel]
                eps, idx = ks // order.n, ks % order.n
                out = np.empty_like(ks)
                for e in np.unique(eps):
                    m = eps == e
                    out[m] = order.samples(int(e), idx[m])
                sample[sel] = out
        return src, sample


def worker_batches(local_start: int, local_total: int, batch_size: int, worker: int,
                   num_workers: int) -> list[tuple[int, int]]:
    """The ``[begin, end)`` local-sample ranges of the batches one worker produces, in order."""
    out = []
    k = worker
    while True:
        begin = local_start + k * batch_size
        if begin >= local_total:
            return out
        out.append((begin, min(begin + batch_size, local_total)))
        k += num_workers
