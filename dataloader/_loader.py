"""``TokenLoader``: a ``torch.utils.data.DataLoader`` over a ``TokenDataset`` that knows how far the
training loop has got, so ``state_dict()`` is exact with any number of workers."""

from __future__ import annotations

from fs3._errors import InvalidArgument

from ._dataset import TokenDataset, torch
from ._forkserver import LOADER_PRELOAD, forkserver_context
from ._handover import Slot

_Base = torch.utils.data.DataLoader if torch is not None else object


def _preload_forkserver() -> None:
    """Have the fork server import torch and the loader once, so each worker it forks starts with them
    instead of importing them again (about a second each), and start it now: it imports them while the
    trainer builds its model, not when the first epoch begins."""
    forkserver_context(*LOADER_PRELOAD)


class TokenLoader(_Base):
    """``TokenLoader(dataset, num_workers=2, ...)``: batches of ``dataset.batch_size`` samples
    (``[batch, seq_len + 1]`` int64 tensors). Other keyword arguments go to ``DataLoader``
    (``persistent_workers=True`` keeps the workers from one epoch to the next).
    ``state_dict()`` counts the batches the training loop took, whatever the workers read ahead."""

    def __init__(self, dataset: TokenDataset, **kwargs):
        if torch is None:
            raise InvalidArgument("TokenLoader needs PyTorch: pip install 'fs3[torch]' "
                                  "(or iterate the TokenDataset itself)")
        for key in ("batch_size", "shuffle", "sampler", "batch_sampler"):
            if key in kwargs:
                raise InvalidArgument(f"{key} is the dataset's to decide (TokenDataset(batch_size=...))")
        # Any start method works (fs3 clients close their gRPC channels across a fork), but a fork still
        # copies what other gRPC users of the process left running, which can abort the worker: the
        # default is forkserver. Persistent workers learn each new pass's start from the shared state.
        if kwargs.get("num_workers", 0) > 0 and "multiprocessing_context" not in kwargs:
            kwargs["multiprocessing_context"] = "forkserver"
            _preload_forkserver()
        dataset.yield_batches = True  # the dataset yields whole [batch, seq_len + 1] tensors
        workers = kwargs.get("num_workers", 0)
        if workers > 0 and dataset.output == "torch":  # batches come back through shared memory
            from ._handover import BatchRing

            per_worker = (kwargs.get("prefetch_factor") or 2) + 1
            dataset._ring = BatchRing(workers, per_worker, dataset.batch_size, dataset.seq_len + 1)
        else:
            dataset._ring = None
        super().__init__(dataset, batch_size=None, **kwargs)
        self._epoch = dataset._epoch
        self._local = dataset._position // dataset.world_size

    def __iter__(self):
        ds: TokenDataset = self.dataset
        self._epoch, self._local = ds._epoch, ds._position // ds.world_size
        ring = ds._ring
        for batch in super().__iter__():
            if ring is not None and isinstance(batch, Slot):
                batch = ring.take(batch)
                if self.pin_memory:
                    batch = batch.pin_memory()
            self._local += len(batch)
            yield batch
        ds.set_epoch(self._epoch + 1)
        self._epoch, self._local = ds._epoch, 0

    def state_dict(self) -> dict:
        ds: TokenDataset = self.dataset
        return ds._state(self._epoch, self._local * ds.world_size)

    def load_state_dict(self, state: dict) -> None:
        self.dataset.load_state_dict(state)
        self._epoch, self._local = self.dataset._epoch, self.dataset._position // self.dataset.world_size
