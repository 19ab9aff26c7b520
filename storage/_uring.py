"""Batches of positional reads in one system call, through Linux's io_uring where the kernel allows it.

A storage node answering a READ frame of many small items used to issue one blocking ``preadv`` per item:
the disk saw one read at a time per event loop, and every read cost a sleep and a wake-up. A ``Ring``
submits all of a frame's reads at once and waits for all of them in a single ``io_uring_enter`` (the GIL
is released while it waits), so the disk serves them in parallel.

The ring is driven with raw system calls through ctypes (no liburing needed): the submission and
completion queues are mapped once; a batch fills one 64-byte SQE per read, publishes the new tail and
enters the kernel with ``min_complete`` set to the batch size, so every completion is in place when the
call returns. One ring per thread (``thread_ring()``). Where io_uring is missing or forbidden (old
kernels, seccomp, ``FS3_IO_URING=0``), ``read_all`` falls back to one ``preadv`` per read.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import logging
import mmap
import os
import platform
import struct
import threading

log = logging.getLogger(__name__)

ENTRIES = 64  # reads in flight per ring; bigger batches go in rounds

_SYS_SETUP, _SYS_ENTER = {"x86_64": (425, 426), "aarch64": (425, 426)}.get(platform.machine(), (None, None))
_OFF_SQ_RING, _OFF_SQES = 0, 0x10000000
_ENTER_GETEVENTS = 1
_FEAT_SINGLE_MMAP = 1
_OP_READ = 22
_SQE = struct.Struct("<BBHiQQIIQHHiQQ")  # opcode flags ioprio fd off addr len rw_flags user_data ...
_CQE = struct.Struct("<QiI")             # user_data res flags
_U32 = struct.Struct("<I")


class _Params(ctypes.Structure):
    _fields_ = [
        ("sq_entries", ctypes.c_uint32), ("cq_entries", ctypes.c_uint32), ("flags", ctypes.c_uint32),
        ("sq_thread_cpu", ctypes.c_uint32), ("sq_thread_idle", ctypes.c_uint32), ("features", ctypes.c_uint32),
        ("wq_fd", ctypes.c_uint32), ("resv", ctypes.c_uint32 * 3),
        # io_sqring_offsets: head tail ring_mask ring_entries flags dropped array resv1 user_addr(u64)
        ("sq_off", ctypes.c_uint32 * 10),
        # io_cqring_offsets: head tail ring_mask ring_entries overflow cqes flags resv1 user_addr(u64)
        ("cq_off", ctypes.c_uint32 * 10),
    ]


_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)  # CDLL: calls drop the GIL
_syscall = _libc.syscall
_syscall.restype = ctypes.c_long


def _kernel_version() -> tuple[int, int]:
    parts = platform.release().split(".")
    try:
        return int(parts[0]), int("".join(c for c in parts[1] if c.isdigit()) or 0)
    except (IndexError, ValueError):
        return (0, 0)


def address_of(view: memoryview) -> int:
    """The address of a writable buffer's first byte (the buffer must outlive its use)."""
    holder = ctypes.c_char.from_buffer(view)
    try:
        return ctypes.addressof(holder)
    finally:
        del holder


class Ring:
    def __init__(self, entries: int = ENTRIES):
        if _SYS_SETUP is None:
            raise OSError(errno.ENOSYS, f"io_uring: no system call numbers for {platform.machine()}")
        if _kernel_version() < (5, 6):  # IORING_OP_READ arrived in Linux 5.6
            raise OSError(errno.ENOSYS, f"io_uring: kernel {platform.release()} predates IORING_OP_READ (5.6)")
        params = _Params()
        fd = _syscall(_SYS_SETUP, ctypes.c_uint(entries), ctypes.byref(params))
        if fd < 0:
            err = ctypes.get_errno()
            raise OSError(err, f"io_uring_setup: {os.strerror(err)}")
        self.fd = fd
        self.broken = False  # a batch could not be drained: the ring must never be used again
        self._generation = 0
        self._ring = self._sqes = None
        try:
            if not params.features & _FEAT_SINGLE_MMAP:
                raise OSError(errno.ENOSYS, "io_uring: kernel too old (no single-mmap rings)")
            sq, cq = params.sq_off, params.cq_off
            size = max(sq[6] + params.sq_entries * 4, cq[5] + params.cq_entries * _CQE.size)
            flags = mmap.MAP_SHARED | getattr(mmap, "MAP_POPULATE", 0)
            self._ring = mmap.mmap(fd, size, flags, mmap.PROT_READ | mmap.PROT_WRITE, offset=_OFF_SQ_RING)
            self._sqes = mmap.mmap(fd, params.sq_entries * _SQE.size, flags, mmap.PROT_READ | mmap.PROT_WRITE,
                                   offset=_OFF_SQES)
        except BaseException:
            self.close()
            raise
        self.entries = params.sq_entries
        self._sq_tail, self._sq_mask, self._sq_array = sq[1], _U32.unpack_from(self._ring, sq[2])[0], sq[6]
        self._cq_head, self._cq_tail = cq[0], cq[1]
        self._cq_mask, self._cqes = _U32.unpack_from(self._ring, cq[2])[0], cq[5]

    def read_all(self, reads: list[tuple[int, int, int, int]]) -> list[int]:
        """``reads``: (fd, buffer address, length, file offset). Returns, per read, the bytes read or
        ``-errno``. The buffers must stay valid until this returns."""
        out = [0] * len(reads)
        for first in range(0, len(reads), self.entries):
            self._batch(reads, first, min(len(reads), first + self.entries), out)
        return out

    def _batch(self, reads, first: int, last: int, out: list[int]) -> None:
        if self.broken:
            raise OSError(errno.EIO, "io_uring: this ring lost track of reads in flight")
        ring, sqes = self._ring, self._sqes
        # Completions carry (generation, read number): one left over from an abandoned batch can never be
        # taken for one of this batch's.
        self._generation = gen = (self._generation + 1) & 0xFFFFFFFF
        tag = gen << 32
        tail = _U32.unpack_from(ring, self._sq_tail)[0]
        mask = self._sq_mask
        for i in range(first, last):
            fd, addr, length, offset = reads[i]
            idx = (tail + i - first) & mask
            _SQE.pack_into(sqes, idx * _SQE.size, _OP_READ, 0, 0, fd, offset, addr, length, 0, tag | i,
                           0, 0, 0, 0, 0)
            _U32.pack_into(ring, self._sq_array + idx * 4, idx)
        count = last - first
        _U32.pack_into(ring, self._sq_tail, (tail + count) & 0xFFFFFFFF)
        submitted = reaped = 0
        try:
            while reaped < count:
                to_submit = count - submitted
                ret = _syscall(_SYS_ENTER, self.fd, to_submit, count - reaped, _ENTER_GETEVENTS, None, 0)
                if ret < 0:
                    err = ctypes.get_errno()
                    if err in (errno.EINTR, errno.EAGAIN, errno.EBUSY):
                        continue
                    raise OSError(err, f"io_uring_enter: {os.strerror(err)}")
                submitted += min(ret, to_submit)
                reaped += self._reap(tag, first, last, out)
        except BaseException:
            # The kernel may still be writing into the callers' buffers: wait for what was submitted
            # before they are handed back, or retire the ring if that fails too.
            self._drain(count - submitted, count - reaped, tag, first, last, out)
            raise

    def _reap(self, tag: int, first: int, last: int, out: list[int]) -> int:
        """Take the completions in the queue; returns how many belonged to this batch."""
        ring = self._ring
        head = _U32.unpack_from(ring, self._cq_head)[0]
        ctail = _U32.unpack_from(ring, self._cq_tail)[0]
        mine = 0
        while head != ctail:
            user_data, res, _flags = _CQE.unpack_from(ring, self._cqes + (head & self._cq_mask) * _CQE.size)
            i = user_data & 0xFFFFFFFF
            if user_data - i == tag and first <= i < last:
                out[i] = res
                mine += 1
            head = (head + 1) & 0xFFFFFFFF
        _U32.pack_into(ring, self._cq_head, head)
        return mine

    def _drain(self, unsubmitted: int, outstanding: int, tag: int, first: int, last: int, out: list[int]) -> None:
        """Submit what was published but not yet taken, and wait for every read of the batch."""
        try:
            while outstanding > 0:
                ret = _syscall(_SYS_ENTER, self.fd, unsubmitted, outstanding, _ENTER_GETEVENTS, None, 0)
                if ret < 0:
                    if ctypes.get_errno() not in (errno.EINTR, errno.EAGAIN, errno.EBUSY):
                        raise OSError(ctypes.get_errno(), "io_uring_enter")
                else:
                    unsubmitted -= min(ret, unsubmitted)
                outstanding -= self._reap(tag, first, last, out)
        except BaseException:
            self.broken = True  # left open on purpose: closing it could let late writes land in reused memory
            _local.ring = None
            log.error("io_uring: could not wait for %d reads in flight; this thread's ring is retired", outstanding)

    def __del__(self):  # a thread's ring goes with the thread
        self.close()

    def close(self) -> None:
        if getattr(self, "fd", -1) < 0 or getattr(self, "broken", False):
            return
        for m in (self._sqes, self._ring):
            if m is not None:
                m.close()
        os.close(self.fd)
        self.fd = -1


_local = threading.local()
_state = {"enabled": os.environ.get("FS3_IO_URING", "1") not in ("0", "off", "no"), "reason": ""}


def thread_ring() -> Ring | None:
    """This thread's ring, made on first use; None where io_uring cannot be used (see ``engine``)."""
    ring = getattr(_local, "ring", None)
    if ring is None and _state["enabled"]:
        try:
            ring = _local.ring = Ring()
        except OSError as exc:
            if exc.errno in (errno.ENOMEM, errno.EMFILE, errno.ENFILE, errno.EAGAIN):
                if not _state.get("short"):
                    _state["short"] = True  # said once: it may recur for every batch while it lasts
                    log.warning("io_uring: no ring for this thread now (%s); such batches read with preadv", exc)
                return None  # short of memory or descriptors for the moment: the next batch tries again
            _state["enabled"], _state["reason"] = False, str(exc)
            log.warning("io_uring unavailable (%s): disk reads use one preadv each", exc)
    return ring


def engine() -> str:
    """How disk reads are issued here, for status output: ``io_uring`` or ``preadv (why)``."""
    if thread_ring() is not None:
        return "io_uring"
    return f"preadv ({_state['reason'] or 'FS3_IO_URING=0'})"


def read_all(reads: list[tuple[int, memoryview, int]], *, errors: str = "raise") -> list[int]:
    """``reads``: (fd, writable buffer, file offset), each filling its whole buffer. Returns the bytes
    read per buffer. A failed read raises OSError, as ``preadv`` would, or with ``errors="return"``
    gives ``-errno`` in its place (the other reads of the batch still count)."""
    ring = thread_ring()
    if ring is None or len(reads) < 2:
        return [_preadv(fd, view, offset, errors) for fd, view, offset in reads]
    got = ring.read_all([(fd, address_of(view), len(view), offset) for fd, view, offset in reads])
    for i, n in enumerate(got):
        if n < 0:
            if -n in (errno.EINVAL, errno.EOPNOTSUPP):  # a kernel that refuses the read op: preadv says
                got[i] = _preadv(reads[i][0], reads[i][1], reads[i][2], errors)  # whether the read is bad
            elif errors == "raise":
                raise OSError(-n, os.strerror(-n))
    return got


def _preadv(fd: int, view: memoryview, offset: int, errors: str) -> int:
    try:
        return os.preadv(fd, [view], offset)
    except OSError as exc:
        if errors == "raise" or not exc.errno:
            raise
        return -exc.errno
