"""Slot files: chunk data lives in fixed-size slots of a few large preallocated files, one per size class.

A chunk of ``n`` bytes occupies one slot of the smallest power-of-two class (4 KiB to 64 MiB) that holds
it. Updates are copy-on-write: new content goes to a fresh slot, the chunk's metadata switches to it in
one durable commit, and only then is the old slot freed. Which slots are used is derived from the chunk
metadata alone, so a crash at any moment leaves at worst an unreferenced slot, which is free again on
restart. A freed slot is not reused while a read that may still be looking at it is in flight.
"""

from __future__ import annotations

import heapq
import threading
from collections.abc import Iterable
from pathlib import Path

from fs3._private import check_private, make_private_dir

from ._direct_io import ALIGN, DirectFile

MIN_CLASS = 12  # 4 KiB
MAX_CLASS = 26  # 64 MiB
GROW_BYTES = 64 << 20  # the most a class file grows by at once when it runs out of slots


def size_class(length: int) -> int:
    """The class (log2 of the slot size) that holds ``length`` bytes."""
    return max(MIN_CLASS, (max(length, 1) - 1).bit_length())


class SlotFiles:
    def __init__(self, root: Path, used: Iterable[tuple[int, int]], *, direct: bool = True):
        """Open the class files under ``root``; ``used`` lists the (class, slot) pairs chunk metadata
        references, and every other slot is free. The class files hold the chunks' bytes: they are
        made 0600 in a 0700 directory, and one found open to group/other is refused."""
        self.root = root
        make_private_dir(root)
        self._lock = threading.Lock()
        self._files: dict[int, DirectFile] = {}
        self._free: dict[int, list[int]] = {}
        # Free slots whose disk space was handed back (holes): taken again with fallocate on reuse.
        # At start-up every free slot counts as one, as a crash may have left holes anywhere.
        self._released: dict[int, set[int]] = {}
        self._capacity: dict[int, int] = {}
        self._want_direct = direct
        self._deferred: list[tuple[int, int, int, bool]] = []  # (epoch freed, class, slot, release)
        self._epoch = 0
        self._readers: dict[int, int] = {}  # epoch -> reads in flight that began in it
        by_class: dict[int, set[int]] = {}
        for cls, slot in used:
            by_class.setdefault(cls, set()).add(slot)
        for path in root.glob("c*.dat"):
            check_private(path)
            cls = int(path.stem[1:])
            self._open(cls)
        for cls in set(by_class) | set(self._files):
            f = self._open(cls)
            capacity = max(f.size() >> cls, max(by_class.get(cls, {-1})) + 1)
            self._capacity[cls] = capacity
            taken = by_class.get(cls, set())
            self._free[cls] = [s for s in range(capacity) if s not in taken]
            heapq.heapify(self._free[cls])
            self._released[cls] = set(self._free[cls])

    @property
    def direct(self) -> bool:
        return all(f.direct for f in self._files.values()) if self._files else self._probe_direct()

    def _probe_direct(self) -> bool:
        probe = DirectFile(self.root / ".direct-probe", direct=self._want_direct)
        try:
            return probe.direct
        finally:
            probe.close()
            (self.root / ".direct-probe").unlink(missing_ok=True)

    def _open(self, cls: int) -> DirectFile:
        f = self._files.get(cls)
        if f is None:
            f = DirectFile(self.root / f"c{cls}.dat", direct=self._want_direct)
            self._files[cls] = f
            self._free.setdefault(cls, [])
            self._released.setdefault(cls, set())
            self._capacity.setdefault(cls, f.size() >> cls)
        return f

    def file(self, cls: int) -> DirectFile:
        return self._files[cls]

    def allocate(self, cls: int) -> int:
        """A free slot of class ``cls``, growing its file (with real disk space) when none is left."""
        with self._lock:
            f = self._open(cls)
            free = self._free[cls]
            if not free:
                self._collect_deferred()
            if not free:
                start = self._capacity[cls]
                # Grow geometrically (small files stay small), at most GROW_BYTES at a time.
                grow = max(1, min(GROW_BYTES >> cls, max(16, start)))
                f.reserve(start << cls, grow << cls)  # raises ENOSPC when the disk is full
                self._capacity[cls] = start + grow
                free.extend(range(start, start + grow))
                heapq.heapify(free)
                return heapq.heappop(free)
            slot = heapq.heappop(free)
            released = slot in self._released[cls]
            self._released[cls].discard(slot)
        if released:  # its disk space was given back: take it again before data goes there
            try:
                f.reserve(slot << cls, 1 << cls)
            except OSError:
                self.unallocate(cls, slot, released=True)
                raise
        return slot

    def unallocate(self, cls: int, slot: int, *, released: bool = False) -> None:
        """Return a slot that was allocated but never referenced (a failed write)."""
        with self._lock:
            heapq.heappush(self._free[cls], slot)
            if released:
                self._released[cls].add(slot)

    def free(self, cls: int, slot: int, *, release: bool = False) -> None:
        """Free a slot that metadata no longer references. Reuse waits for reads that began earlier;
        ``release`` also gives its disk space back (for removed chunks, not for copy-on-write updates
        whose slots are soon reused)."""
        with self._lock:
            self._deferred.append((self._epoch, cls, slot, release))
            self._epoch += 1
            self._collect_deferred()

    def begin_read(self) -> int:
        with self._lock:
            epoch = self._epoch
            self._readers[epoch] = self._readers.get(epoch, 0) + 1
            return epoch

    def end_read(self, epoch: int) -> None:
        with self._lock:
            left = self._readers[epoch] - 1
            if left:
                self._readers[epoch] = left
            else:
                del self._readers[epoch]
                self._collect_deferred()

    def _collect_deferred(self) -> None:
        # A slot freed in epoch e may be reused once no read that began at or before e is in flight.
        if not self._deferred:
            return
        oldest = min(self._readers, default=self._epoch + 1)
        keep = []
        for item in self._deferred:
            epoch, cls, slot, release = item
            if epoch < oldest:
                if release:
                    self._files[cls].release(slot << cls, 1 << cls)
                    self._released[cls].add(slot)
                heapq.heappush(self._free[cls], slot)
            else:
                keep.append(item)
        self._deferred = keep

    def close(self) -> None:
        for f in self._files.values():
            f.close()
        self._files.clear()


assert (1 << MIN_CLASS) % ALIGN == 0
