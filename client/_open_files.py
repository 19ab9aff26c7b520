"""What this client's open files of one inode have written between them, so that each sees the others'
bytes: a descriptor opened while another of the same client writes, or reading after it wrote, sees
every acknowledged byte (read-after-write within a client, as JuiceFS promises; across clients fs3
promises close-to-open, see docs/consistency.md).

An entry lives while a file of that inode is open in this client: ``end`` is the furthest acknowledged
write of any of them, lowered by a truncate.
"""

from __future__ import annotations


class OpenFiles:
    __slots__ = ("_ends", "_open")

    def __init__(self):
        self._ends: dict[int, int] = {}
        self._open: dict[int, int] = {}

    def opened(self, inode: int) -> None:
        self._open[inode] = self._open.get(inode, 0) + 1

    def closed(self, inode: int) -> None:
        left = self._open.get(inode, 1) - 1
        if left > 0:
            self._open[inode] = left
        else:
            self._open.pop(inode, None)
            self._ends.pop(inode, None)

    def wrote(self, inode: int, end: int) -> None:
        """A write of an open file of ``inode`` up to ``end`` was acknowledged."""
        if inode in self._open and end > self._ends.get(inode, 0):
            self._ends[inode] = end

    def truncated(self, inode: int, size: int) -> None:
        if self._ends.get(inode, 0) > size:
            self._ends[inode] = size

    def end(self, inode: int) -> int:
        return self._ends.get(inode, 0)
