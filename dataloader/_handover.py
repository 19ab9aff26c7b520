"""How ``TokenLoader``'s workers hand whole batches to the training process: through slots of one block of
shared memory made before the workers start, rather than a tensor per batch. (Torch sends a worker's
tensor by moving it into a new shared-memory segment and passing its file descriptor over a socket, about
a millisecond per batch; here a batch costs one copy in, one copy out and a few bytes on the queue.)

Each worker writes into its own ``prefetch_factor + 1`` slots in turn: the loader never has more than
``prefetch_factor`` of a worker's batches in flight and copies each out as it arrives, so the slot a
worker turns to is free. A worker that finds it taken after all sends its batch the ordinary way."""

from __future__ import annotations

import time
from dataclasses import dataclass

try:
    import torch
except ImportError:  # pragma: no cover - without torch there are no DataLoader workers
    torch = None

WAIT = 0.05  # seconds a worker waits for its slot before sending the batch as a tensor instead


@dataclass(frozen=True)
class Slot:
    """A batch in a ring slot: what the worker sends in place of the batch."""

    index: int
    rows: int


class BatchRing:
    def __init__(self, workers: int, per_worker: int, rows: int, width: int):
        self.per_worker = per_worker
        self.data = torch.empty((workers * per_worker, rows, width), dtype=torch.int64).share_memory_()
        self.full = torch.zeros(workers * per_worker, dtype=torch.int64).share_memory_()  # rows held, 0: free
        self._full = self.full.numpy()
        self._next = 0  # (a worker's copy) its next slot, counted within its own

    def __getstate__(self):
        return {"data": self.data, "full": self.full, "per_worker": self.per_worker}

    def __setstate__(self, state) -> None:
        self.data, self.full, self.per_worker = state["data"], state["full"], state["per_worker"]
        self._full = self.full.numpy()
        self._next = 0

    def begin(self, worker: int) -> None:
        """A worker starts a pass: batches of its earlier pass still in its slots were dropped by the loader."""
        self._full[worker * self.per_worker:(worker + 1) * self.per_worker] = 0
        self._next = 0

    def put(self, worker: int, batch):
        """In a worker: ``batch`` placed in this worker's next slot (a ``Slot`` to send), or ``batch``
        itself when the slot is not free in time or the batch does not fit."""
        index = worker * self.per_worker + self._next % self.per_worker
        if batch.shape[0] > self.data.shape[1] or batch.shape[1:] != self.data.shape[2:]:
            return batch
        deadline = None
        while self._full[index]:
            now = time.monotonic()
            deadline = deadline or now + WAIT
            if now > deadline:
                return batch
            time.sleep(0.0002)
        self._next += 1
        rows = batch.shape[0]
        self.data[index, :rows].copy_(batch)
        self._full[index] = rows
        return Slot(index, rows)

    def take(self, slot: Slot):
        """In the loader: the batch of ``slot``, copied out, and the slot freed."""
        batch = self.data[slot.index, :slot.rows].clone()
        self._full[slot.index] = 0
        return batch
