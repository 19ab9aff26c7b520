"""``TokenLoader``: a ``torch.utils.data.DataLoader`` over a ``TokenDataset`` that knows how far the
training loop has got, so ``state_dict()`` is exact with any number of workers."""

from __future__ import annotations

from fs3._errors import InvalidArgument

from ._dataset import TokenDataset, torch

_Base = torch.utils.data.DataLoader if torch is not None else object


class TokenLoader(_Base):
    """``TokenLoader(dataset, num_workers=2, ...)``: batches of ``dataset.batch_size`` samples
    (``[batch, seq_len + 1]`` int64 tensors). Other keyword arguments go to ``DataLoader``."""

    def __init__(self, dataset: TokenDataset, **kwargs):
        if torch is None:
            raise InvalidArgument("TokenLoader needs PyTorch: pip install 'fs3[torch]' "
                                  "(or iterate the TokenDataset itself)")
        if kwargs.get("persistent_workers"):
            raise InvalidArgument("persistent workers would keep a stale position; TokenLoader restarts them")
        for key in ("batch_size", "shuffle", "sampler", "batch_sampler"):
            if key in kwargs:
                raise InvalidArgument(f"{key} is the dataset's to decide (TokenDataset(batch_size=...))")
        if kwargs.get("num_workers", 0) > 0 and "multiprocessing_context" not in kwargs \
                and any(s.reader is not None and s.reader.remote for s in dataset.sets):
            # A forked copy of a process that has used gRPC cannot use gRPC: workers come from a fresh
            # fork server instead (scripts need the usual `if __name__ == "__main__":` guard).
            kwargs["multiprocessing_context"] = "forkserver"
        dataset.yield_batches = True  # the dataset yields whole [batch, seq_len + 1] tensors
        super().__init__(dataset, batch_size=None, **kwargs)
        self._epoch = dataset._epoch
        self._local = dataset._position // dataset.world_size

    def __iter__(self):
        ds: TokenDataset = self.dataset
        self._epoch, self._local = ds._epoch, ds._position // ds.world_size
        for batch in super().__iter__():
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
