"""``TokenDataset``: fixed-length samples from one or more shard sets, in a deterministic order per
(seed, epoch), split across ranks and DataLoader workers, resumable mid-epoch. See ``_order`` for the
order and split, docs/shards.md for the format."""

from __future__ import annotations

import hashlib
import json
import os
import threading
import weakref
from collections import OrderedDict
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np

from fs3._errors import InvalidArgument
from fs3._retry import retry_timeout as resolve_retry_timeout

from . import _files
from ._control import Control, exit_with
from ._format import MANIFEST_NAME, Manifest, verify_tokenizer
from ._order import EpochOrder, Mixture, worker_batches

try:  # torch is optional: without it the dataset yields numpy arrays
    import torch
    from torch.utils.data import IterableDataset as _Base
except ImportError:  # pragma: no cover - exercised where torch is absent
    torch = None
    _Base = object

STATE_VERSION = 1
GAP = 64 << 10        # ranges closer than this are read as one extent
UNIT_BYTES = 16 << 20  # samples fetched per read round (per worker)


_LIVE_SETS: weakref.WeakSet = weakref.WeakSet()  # reset in a forked child (see _after_fork)


def _after_fork() -> None:
    # A forked DataLoader worker inherits the parent's blocks in flight, whose reads no thread here
    # will finish, and possibly a held lock: it starts with neither.
    for shard_set in list(_LIVE_SETS):
        shard_set._cache_lock = threading.Lock()
        shard_set.loading = {}
    _files._lock = threading.Lock()  # (a thread of the parent may have held it: its client is not ours)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork)


class ShardSet:
    """One shard set: its manifest, its shards' token offsets, and a reader for byte ranges."""

    def __init__(self, url: str, *, memmap: bool = False):
        _LIVE_SETS.add(self)
        self._cache_lock = threading.Lock()
        self.url = url.rstrip("/") or url
        self.manifest = Manifest.from_json(_files.read_bytes(_files.join(self.url, MANIFEST_NAME)))
        if not self.manifest.shards:
            raise InvalidArgument(f"shard set {url} holds no shards")
        self.dtype = self.manifest.np_dtype
        self.tokens = np.array([s.tokens for s in self.manifest.shards], dtype=np.int64)
        self.starts = np.concatenate([[0], np.cumsum(self.tokens)])
        self.total = int(self.starts[-1])
        self.bins = [_files.join(self.url, s.name + ".bin") for s in self.manifest.shards]
        self.memmap = memmap
        self.reader = None if memmap else _files.RangeReader(self.bins)
        self._maps = None
        self.block = 1                 # samples per shuffle block (set by the dataset)
        self.cache: OrderedDict[int, np.ndarray] = OrderedDict()  # block id -> its tokens
        self.loading: dict[int, Future] = {}  # block id -> its tokens, once the round reading it has them
        self.cache_bytes = 0
        self.cache_limit = 64 << 20

    def claim_blocks(self, blocks: list[int]) -> tuple[dict, list[int], dict]:
        """Split ``blocks`` into those cached (block -> tokens, held by the caller from here on), those
        this caller must read (now marked as loading) and those another read round is loading now
        (block -> its Future): concurrent rounds read each block once."""
        have, mine, theirs = {}, [], {}
        with self._cache_lock:
            for b in blocks:
                tokens = self.cache.get(b)
                if tokens is not None:
                    have[b] = tokens
                elif b in self.loading:
                    theirs[b] = self.loading[b]
                else:
                    self.loading[b] = Future()
                    mine.append(b)
        return have, mine, theirs

    def blocks_loaded(self, loaded: dict[int, np.ndarray], failed: list[int], exc: BaseException | None = None) -> None:
        """Cache the blocks this caller read and hand them to rounds waiting for them (or the error)."""
        with self._cache_lock:
            for b, tokens in loaded.items():
                self.cache[b] = tokens
                self.cache_bytes += tokens.nbytes
            while self.cache_bytes > self.cache_limit and len(self.cache) > 1:
                _, old = self.cache.popitem(last=False)
                self.cache_bytes -= old.nbytes
            futures = [(self.loading.pop(b), tokens) for b, tokens in loaded.items()]
            dropped = [self.loading.pop(b) for b in failed if b in self.loading]
        for future, tokens in futures:
            future.set_result(tokens)
        for future in dropped:
            future.set_exception(exc or RuntimeError("block read abandoned"))

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_maps"] = None
        state["cache"], state["cache_bytes"], state["loading"] = OrderedDict(), 0, {}
        del state["_cache_lock"]
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._cache_lock = threading.Lock()
        _LIVE_SETS.add(self)

    def segments(self, token_start: int, count: int) -> list[tuple[int, int, int, int]]:
        """(shard, first token in shard, tokens, offset in the sample) pieces of a token range."""
        out = []
        pos, done = token_start, 0
        shard = int(np.searchsorted(self.starts, pos, side="right")) - 1
        while done < count:
            within = pos - int(self.starts[shard])
            n = min(count - done, int(self.tokens[shard]) - within)
            out.append((shard, within, n, done))
            done += n
            pos += n
            shard += 1
        return out

    def pieces(self, rows: np.ndarray, samples: np.ndarray, seq_len: int) -> tuple[np.ndarray, ...]:
        """Where samples' tokens lie, as arrays: shard, first token in the shard, tokens, output row,
        column. Most samples are one piece; one that crosses a shard boundary is several."""
        width = seq_len + 1
        first = samples * seq_len
        shard = np.searchsorted(self.starts, first, side="right") - 1
        whole = first + width <= self.starts[shard + 1]
        pieces = [shard[whole], first[whole] - self.starts[shard[whole]],
                  np.full(int(whole.sum()), width, dtype=np.int64), rows[whole],
                  np.zeros(int(whole.sum()), dtype=np.int64)]
        split = [(sh, tok, n, r, col) for r, x in zip(rows[~whole].tolist(), first[~whole].tolist(), strict=True)
                 for sh, tok, n, col in self.segments(x, width)]
        if split:
            extra = np.array(split, dtype=np.int64).T
            pieces = [np.concatenate([a, b]) for a, b in zip(pieces, extra, strict=True)]
        return tuple(pieces)

    def identity(self) -> tuple[str, str]:
        """(shard-set digest, tokenizer digest): SHA-256 of what the samples are made of (dtype, shards
        and their checksums) and of the tokenizer recorded in the manifest (with its file's SHA-256)."""
        m = self.manifest
        data = {"dtype": m.dtype, "vocab_size": m.vocab_size, "eod_id": m.eod_id,
                "shards": [[s.name, s.tokens, s.bin_crc32c, s.idx_crc32c] for s in m.shards]}
        return _digest(data), _digest(m.tokenizer)

    def maps(self) -> list[np.ndarray]:
        if self._maps is None:  # plain ndarray views: slicing a memmap subclass costs more than the copy
            self._maps = [np.memmap(b, dtype=self.dtype, mode="r").view(np.ndarray) for b in self.bins]
        return self._maps


class TokenDataset(_Base):
    """Samples of ``seq_len + 1`` tokens (inputs and shifted targets) packed across document boundaries.

    ``sources``: a shard set URL (local directory or ``fs3://``), a list of them, or ``{url: weight}`` /
    ``[(url, weight), ...]`` for weighted mixing. ``batch_size`` is the per-rank batch the DataLoader will
    collate (use ``TokenLoader``, or ``DataLoader(ds, batch_size=ds.batch_size)``): workers take whole
    batches in turn, so the loader's order is the same for any number of workers.
    Any DataLoader reads it, with fork, forkserver or spawn workers, persistent or not. To resume, save the
    state of ``TokenLoader`` or of torchdata's ``StatefulDataLoader`` (exact with workers); the dataset's
    own ``state_dict()`` is exact in-process and refused once a plain DataLoader's workers read it.
    ``rank``/``world_size`` default to ``torch.distributed`` when it is initialized.
    ``shuffle_block`` (samples, default about 1 MiB of tokens) and ``shuffle_window`` (blocks) set the
    block-window shuffle; ``shuffle_block=1`` is a uniform shuffle.
    ``retry_timeout``: seconds reads from fs3 wait out an outage (stopped storage nodes, a meta restart)
    before they fail, in this process and in its DataLoader workers (default ``FS3_RETRY_TIMEOUT``,
    else 300).
    """

    def __init__(self, sources, seq_len: int = 2048, *, batch_size: int = 1, seed: int = 0,
                 rank: int | None = None, world_size: int | None = None, shuffle: bool = True,
                 shuffle_block: int | None = None, shuffle_window: int = 16, prefetch: int = 2,
                 output: str = "torch", reader: str = "batched", retry_timeout: float | None = None):
        if seq_len < 1 or batch_size < 1:
            raise InvalidArgument("seq_len and batch_size must be at least 1")
        if output not in ("torch", "numpy"):
            raise InvalidArgument("output must be 'torch' or 'numpy'")
        if reader not in ("batched", "memmap"):
            raise InvalidArgument("reader must be 'batched' or 'memmap'")
        if isinstance(sources, str):
            sources = [(sources, 1.0)]
        elif isinstance(sources, dict):
            sources = list(sources.items())
        else:
            sources = [(s, 1.0) if isinstance(s, str) else tuple(s) for s in sources]
        self.seq_len, self.batch_size, self.seed = seq_len, batch_size, seed
        self.output = output if torch is not None else "numpy"
        self.prefetch = max(0, prefetch)
        if rank is None or world_size is None:
            rank, world_size = _distributed()
        if not 0 <= rank < world_size:
            raise InvalidArgument(f"rank {rank} is not in [0, {world_size})")
        self.rank, self.world_size = rank, world_size
        self.retry_timeout = None if retry_timeout is None else resolve_retry_timeout(retry_timeout)
        self.sets = [ShardSet(url, memmap=reader == "memmap") for url, _ in sources]
        for shard_set in self.sets:  # pickled with the reader: its client in each worker uses it too
            if shard_set.reader is not None:
                shard_set.reader.retry_timeout = self.retry_timeout
        self.weights = [float(w) for _, w in sources]
        sample_bytes = (seq_len + 1) * max(s.dtype.itemsize for s in self.sets)
        block = shuffle_block or max(1, (1 << 20) // sample_bytes)
        self.orders = [EpochOrder(self._samples_in(s), seed + 7919 * i, block=block, window=shuffle_window,
                                  shuffle=shuffle) for i, s in enumerate(self.sets)]
        self.mixture = Mixture(self.orders, self.weights, seed)
        for shard_set, order in zip(self.sets, self.orders, strict=True):
            shard_set.block = order.block
            # two windows of blocks: a read round that straddles windows finds the earlier one cached
            shard_set.cache_limit = max(64 << 20, 2 * shuffle_window * order.block * sample_bytes)
        self.out_dtype = np.int64
        self.unit_batches = max(1, UNIT_BYTES // (sample_bytes * batch_size))
        self.yield_batches = False  # TokenLoader sets it: whole batches, no per-sample collation
        self._ctl = Control()      # where the next pass starts, shared with DataLoader workers
        self._local_yielded = None  # in-process pass: local samples of the epoch yielded so far
        self._worker_pass = None    # in a worker: [epoch, position, worker, workers, samples yielded]
        self._worker_resume = None  # in a worker: the pass a StatefulDataLoader restored, not yet begun
        self._pickled_by = None     # the process that sent this copy to a worker (spawn, forkserver)
        self._ring = None           # TokenLoader's: shared memory its workers hand batches over through
        self._identity = [s.identity() for s in self.sets]

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_pickled_by"] = os.getpid()
        return state

    def _samples_in(self, s: ShardSet) -> int:
        n = (s.total - 1) // self.seq_len
        if n < 1:
            raise InvalidArgument(f"shard set {s.url} has {s.total} tokens: fewer than one sample of "
                                  f"{self.seq_len + 1}")
        return n

    # -- sizes and state -----------------------------------------------------------------------------

    @property
    def epoch_length(self) -> int:
        """Samples in one epoch over all ranks (the remainder that does not divide across ranks is
        dropped)."""
        n = self.mixture.epoch_length
        return n - n % self.world_size

    def __len__(self) -> int:
        """Samples this rank yields per epoch (from the epoch's start)."""
        return self.mixture.epoch_length // self.world_size

    @property
    def _epoch(self) -> int:
        return self._ctl.start[0]

    @property
    def _position(self) -> int:
        """Global samples of the epoch consumed before the next pass starts."""
        return self._ctl.start[1]

    def set_epoch(self, epoch: int) -> None:
        self._ctl.set(int(epoch), 0)

    def state_dict(self) -> dict:
        """Where this rank stands: resumes with ``load_state_dict``, also on another number of ranks
        when the global batch (batch_size x world_size) is the same. In a DataLoader worker (torchdata's
        ``StatefulDataLoader`` asks each one), where that worker stands in its share of the batches."""
        if _in_worker():
            return self._worker_state()
        if self._ctl.workers_read:
            raise InvalidArgument(
                "TokenDataset.state_dict(): DataLoader workers read this dataset, and only the loader knows "
                "how many of their batches the training loop has taken: save the state of a TokenLoader "
                "(fs3.dataloader.TokenLoader) or of torchdata's StatefulDataLoader instead")
        epoch, position = self._ctl.start
        if self._local_yielded is not None:
            position = self._local_yielded * self.world_size
        return self._state(epoch, position)

    def _worker_state(self) -> dict:
        if self._worker_pass is not None:
            epoch, position, worker, workers, samples = self._worker_pass
        elif self._worker_resume is not None:
            epoch, position, worker, workers, samples = self._worker_resume
        else:
            (epoch, position), (worker, workers), samples = self._ctl.start, _worker(), 0
        return self._state(epoch, position, wrap=False) | {"worker": [worker, workers, samples]}

    def _state(self, epoch: int, position: int, *, wrap: bool = True) -> dict:
        if wrap and position >= self.epoch_length:
            epoch, position = epoch + 1, 0
        return {"version": STATE_VERSION, "epoch": epoch, "position": position, "seed": self.seed,
                "seq_len": self.seq_len, "samples": self.mixture.epoch_length,
                "global_batch": self.batch_size * self.world_size,
                "shard_sets": [data for data, _ in self._identity],
                "tokenizers": [tok for _, tok in self._identity]}

    def load_state_dict(self, state: dict) -> None:
        """Continue where ``state`` (from ``state_dict``) stood. Refuses a state of another order: other
        seed, sequence length, global batch, shard sets (their checksums) or tokenizer (the manifest's, and
        the tokenizer file stored with the set must still have the SHA-256 the manifest records)."""
        if state.get("version") != STATE_VERSION:
            raise InvalidArgument(f"unsupported data loader state version {state.get('version')!r}")
        for key, mine in (("seed", self.seed), ("seq_len", self.seq_len), ("samples", self.mixture.epoch_length)):
            if state[key] != mine:
                raise InvalidArgument(f"state was saved with {key}={state[key]}, this dataset has {mine}")
        self._check_identity(state)
        if "global_batch" in state and state["global_batch"] != self.batch_size * self.world_size:
            raise InvalidArgument(
                f"state was saved with a global batch of {state['global_batch']} samples, this dataset has "
                f"{self.batch_size * self.world_size} (batch_size {self.batch_size} x {self.world_size} ranks): "
                "keep batch_size x world_size the same to resume")
        if state["position"] % self.world_size:
            raise InvalidArgument(f"state is at global position {state['position']}, which {self.world_size} "
                                  "ranks cannot split evenly: keep the global batch the same")
        epoch, position = int(state["epoch"]), int(state["position"])
        self._local_yielded = None
        worker = state.get("worker")
        if worker is None:
            self._worker_resume = None
            self._ctl.set(epoch, position)
            return
        if not _in_worker():
            raise InvalidArgument("this state is one DataLoader worker's (from a StatefulDataLoader): load the "
                                  "loader's state with its load_state_dict()")
        if tuple(worker[:2]) != _worker():
            raise InvalidArgument(f"state is DataLoader worker {worker[0]}'s of {worker[1]}, this is worker "
                                  f"{_worker()[0]} of {_worker()[1]}: resume with the same number of workers")
        self._worker_resume = [epoch, position, int(worker[0]), int(worker[1]), int(worker[2])]

    def _check_identity(self, state: dict) -> None:
        data, toks = state.get("shard_sets"), state.get("tokenizers")
        if data is None and toks is None:
            return  # a state from before these were recorded
        if data is not None and len(data) != len(self.sets):
            raise InvalidArgument(f"state was saved with {len(data)} shard sets, this dataset has {len(self.sets)}")
        for i, (shard_set, (my_data, my_tok)) in enumerate(zip(self.sets, self._identity, strict=True)):
            if toks is not None and toks[i] != my_tok:
                raise InvalidArgument(f"the tokenizer of shard set {shard_set.url} is not the one the state was "
                                      f"saved with (its manifest's tokenizer changed): resume on the same tokens")
            # and the tokenizer file stored with the set is still the one the manifest (so the state) names
            verify_tokenizer(shard_set.url, shard_set.manifest)
            if data is not None and data[i] != my_data:
                raise InvalidArgument(f"shard set {shard_set.url} is not the one the state was saved with (its "
                                      "manifest's shards or checksums changed): resume on the same shard set")

    # -- iteration ------------------------------------------------------------------------------------

    def _batches(self, epoch: int, local_start: int) -> list[tuple[int, int]]:
        worker, workers = _worker()
        return worker_batches(local_start, len(self), self.batch_size, worker, workers)

    def __iter__(self) -> Iterator:
        in_worker = _in_worker()
        if in_worker:
            exit_with(self._pickled_by or os.getppid())  # a worker ends with its trainer
            self._ctl.begin(_worker()[1])
        resume, self._worker_resume = self._worker_resume, None
        if resume is not None:
            epoch, position, skip = resume[0], resume[1], resume[4]
        else:
            (epoch, position), skip = self._ctl.start, 0
        local_start = position // self.world_size
        batches = _skip(self._batches(epoch, local_start), skip)
        if in_worker:
            self._worker_pass = [epoch, position, *_worker(), skip]
            if self._ring is not None:
                self._ring.begin(_worker()[0])
        else:
            self._local_yielded = local_start
        return self._pass(epoch, batches, in_worker)  # (where it starts is settled now, not at the first next())

    def _pass(self, epoch: int, batches: list[tuple[int, int]], in_worker: bool) -> Iterator:
        for rows in self._units(epoch, batches):
            if self.yield_batches:
                yield from self._count(rows, in_worker)
                continue
            for row in rows:
                self._counted(1, in_worker)  # counted before the caller sees it: state_dict() resumes after it
                yield row
        if in_worker:
            self._worker_pass[4] = -1  # this worker's share of the epoch is done (-1: all of it)
            self._ctl.ended(_worker()[0], epoch)
        else:
            self._local_yielded = None
            self._ctl.set(epoch + 1, 0)

    def _counted(self, n: int, in_worker: bool) -> None:
        if in_worker:
            self._worker_pass[4] += n
        else:
            self._local_yielded += n

    def _count(self, batches, in_worker: bool):
        ring = self._ring if in_worker else None
        for batch in batches:
            self._counted(len(batch), in_worker)
            yield batch if ring is None else ring.put(_worker()[0], batch)

    def _units(self, epoch: int, batches: list[tuple[int, int]]) -> Iterator:
        """This pass's samples, a read round at a time: rows (or whole batches when ``yield_batches``)."""
        units, i, size = [], 0, 1  # read rounds grow from one batch, so the first batch comes soon
        while i < len(batches):
            units.append(batches[i:i + size])
            i += size
            size = min(size * 2, self.unit_batches)
        remote = any(st.reader is not None and st.reader.remote for st in self.sets)
        threads = self.prefetch if remote else 1  # overlapping network reads helps; page-cache copies not
        pool = ThreadPoolExecutor(threads, thread_name_prefix="fs3-prefetch") if self.prefetch and units else None
        wrap = torch.from_numpy if self.output == "torch" else (lambda a: a)
        try:
            pending = []
            for i in range(len(units)):
                while pool is not None and len(pending) <= self.prefetch and i + len(pending) < len(units):
                    pending.append(pool.submit(self._fetch_unit, epoch, units[i + len(pending)]))
                rows = pending.pop(0).result() if pool is not None else self._fetch_unit(epoch, units[i])
                if self.yield_batches:
                    at, out = 0, []
                    for begin, end in units[i]:
                        out.append(wrap(rows[at:at + end - begin]))
                        at += end - begin
                    yield out
                else:
                    yield wrap(rows)
        finally:
            if pool is not None:
                pool.shutdown(wait=True, cancel_futures=True)

    def _fetch_unit(self, epoch: int, batches: list[tuple[int, int]]) -> np.ndarray:
        """Samples of a run of local batches, read in one round: (n, seq_len + 1) int64."""
        local = np.concatenate([np.arange(b, e) for b, e in batches])
        positions = self.rank + self.world_size * local
        src, sample = self.mixture.locate(epoch, positions)
        return self.read_samples(src, sample)

    def read_samples(self, src: np.ndarray, sample: np.ndarray) -> np.ndarray:
        """Tokens of samples (source index, sample id): (n, seq_len + 1) int64."""
        width = self.seq_len + 1
        out = np.empty((len(sample), width), dtype=self.out_dtype)
        for s, shard_set in enumerate(self.sets):
            rows = np.nonzero(src == s)[0]
            if len(rows):
                self._read_set(shard_set, rows, sample[rows], out)
        return out

    def _read_set(self, shard_set: ShardSet, rows: np.ndarray, samples: np.ndarray, out: np.ndarray) -> None:
        width = self.seq_len + 1
        # Blocks smaller than a read extent (a uniform shuffle's are one sample) are not worth their
        # bookkeeping: their samples are read as extents, every one of a read round in one batch.
        if not shard_set.memmap and shard_set.block * self.seq_len * shard_set.dtype.itemsize >= GAP:
            dense = self._dense_blocks(shard_set, samples)
            if dense is not None:  # whole blocks, read once and cached across read rounds
                self._read_blocks(shard_set, rows, samples, dense, out)
                keep = ~np.isin(samples // shard_set.block, dense)
                if not keep.any():
                    return
                rows, samples = rows[keep], samples[keep]
        p_shard, p_tok, p_n, p_row, p_col = shard_set.pieces(rows, samples, self.seq_len)
        if shard_set.memmap:
            maps = shard_set.maps()
            whole_piece = (p_n == width) & (p_col == 0)
            for sh in np.unique(p_shard[whole_piece]).tolist():  # one gather per shard
                sel = whole_piece & (p_shard == sh)
                base = (-int(shard_set.starts[sh])) % self.seq_len  # first sample start within the shard
                view = _samples_view(maps[sh], base, self.seq_len, width)
                out[p_row[sel]] = view[(p_tok[sel] - base) // self.seq_len]
            for sh, tok, n, r, col in zip(p_shard[~whole_piece].tolist(), p_tok[~whole_piece].tolist(),
                                          p_n[~whole_piece].tolist(), p_row[~whole_piece].tolist(),
                                          p_col[~whole_piece].tolist(), strict=True):
                out[r, col:col + n] = maps[sh][tok:tok + n]
            return
        item = shard_set.dtype.itemsize
        order = np.lexsort((p_tok, p_shard))
        p_shard, p_tok, p_n, p_row, p_col = p_shard[order], p_tok[order], p_n[order], p_row[order], p_col[order]
        begin, end = p_tok * item, (p_tok + p_n) * item
        # extents: runs of pieces of one shard with gaps of at most GAP bytes between them
        reach = np.maximum.accumulate(end + (p_shard << 48)) - (p_shard << 48)
        new = np.ones(len(begin), dtype=bool)
        new[1:] = (p_shard[1:] != p_shard[:-1]) | (begin[1:] - reach[:-1] > GAP)
        heads = np.nonzero(new)[0]
        ext_off = begin[heads]
        ext_len = np.maximum.reduceat(end, heads) - ext_off
        ext_pos = np.concatenate([[0], np.cumsum(ext_len)])
        scratch = np.empty(int(ext_pos[-1]), dtype=np.uint8)
        shard_set.reader.read(list(zip(p_shard[heads].tolist(), ext_off.tolist(), ext_len.tolist(), strict=True)),
                              scratch)
        eid = np.cumsum(new) - 1
        at = ext_pos[eid] + begin - ext_off[eid]
        tokens = scratch.view(shard_set.dtype) if len(scratch) % item == 0 else None
        if tokens is not None and len(tokens) >= width:
            whole = (p_n == width) & (p_col == 0) & (at % item == 0)
            if whole.any():  # one gather for the whole samples: rows of a sliding window over the extents
                out[p_row[whole]] = np.lib.stride_tricks.sliding_window_view(tokens, width)[at[whole] // item]
                at, p_n, p_row, p_col = at[~whole], p_n[~whole], p_row[~whole], p_col[~whole]
        for a, n, r, col in zip(at.tolist(), p_n.tolist(), p_row.tolist(), p_col.tolist(), strict=True):
            if tokens is not None and a % item == 0:
                out[r, col:col + n] = tokens[a // item:a // item + n]
            else:
                out[r, col:col + n] = scratch[a:a + n * item].view(shard_set.dtype)


    def _dense_blocks(self, shard_set: ShardSet, samples: np.ndarray) -> np.ndarray | None:
        """Shuffle blocks this read round needs at least a quarter of (or has cached): cheaper to read whole."""
        blocks, counts = np.unique(samples // shard_set.block, return_counts=True)
        cached = np.fromiter((b in shard_set.cache for b in blocks.tolist()), dtype=bool, count=len(blocks))
        # A reader that takes at least a quarter of every window (one rank, few workers) uses whole
        # blocks over the window anyway: read them whole from the first round on.
        share = 1.0 / (self.world_size * _worker()[1])
        dense = blocks[cached | (counts * 4 >= shard_set.block) | (share >= 0.25)]
        return dense if len(dense) else None

    def _read_blocks(self, shard_set: ShardSet, rows, samples, dense: np.ndarray, out) -> None:
        width, seq = self.seq_len + 1, self.seq_len
        span = shard_set.block * seq + 1
        have, missing, theirs = shard_set.claim_blocks(dense.tolist())  # held here: eviction cannot take them
        if missing:
            item = shard_set.dtype.itemsize
            ranges, sizes = [], []
            loaded = {}
            try:
                for b in missing:
                    start = b * shard_set.block * seq
                    n = min(span, shard_set.total - start)
                    sizes.append(n)
                    ranges += [(sh, tok * item, k * item) for sh, tok, k, _ in shard_set.segments(start, n)]
                buf = np.empty(sum(sizes), dtype=shard_set.dtype)
                shard_set.reader.read(ranges, buf)
                at = 0
                for b, n in zip(missing, sizes, strict=True):
                    loaded[b] = have[b] = buf[at:at + n]
                    at += n
            except BaseException as exc:
                shard_set.blocks_loaded({}, missing, exc)
                raise
            shard_set.blocks_loaded(loaded, [])
        for b, future in theirs.items():
            have[b] = future.result()
        block_of = samples // shard_set.block
        for b, tokens in have.items():  # one gather per block: its samples are rows of a strided view
            sel = block_of == b
            if sel.any():
                view = _samples_view(tokens, 0, seq, width)
                out[rows[sel]] = view[samples[sel] - b * shard_set.block]


def _samples_view(tokens: np.ndarray, base: int, seq: int, width: int) -> np.ndarray:
    """Read-only (rows, width) view of ``tokens`` whose row i is ``tokens[base + i*seq : ... + width]``."""
    rows = max(0, (len(tokens) - base - width) // seq + 1)
    return np.lib.stride_tricks.as_strided(tokens[base:], shape=(rows, width),
                                           strides=(seq * tokens.strides[0], tokens.strides[0]), writeable=False)


def _skip(batches: list[tuple[int, int]], samples: int) -> list[tuple[int, int]]:
    """``batches`` without their first ``samples`` samples (-1: all of them)."""
    if samples < 0:
        return []
    out = []
    for begin, end in batches:
        if samples >= end - begin:
            samples -= end - begin
            continue
        out.append((begin + samples, end))
        samples = 0
    return out


def _digest(obj) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def _worker() -> tuple[int, int]:
    if torch is None:
        return 0, 1
    info = torch.utils.data.get_worker_info()
    return (info.id, info.num_workers) if info is not None else (0, 1)


def _in_worker() -> bool:
    return torch is not None and torch.utils.data.get_worker_info() is not None


def _distributed() -> tuple[int, int]:
    if torch is not None and torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank(), torch.distributed.get_world_size()
    rank, world = os.environ.get("RANK"), os.environ.get("WORLD_SIZE")
    if rank is not None and world is not None:
        return int(rank), int(world)
    return 0, 1
