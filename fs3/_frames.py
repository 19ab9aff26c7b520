"""Framing shared by fs3's binary protocols: one 16-byte header, one ``ProtocolError``, and one sans-I/O
frame reader that both ends of the data plane (fs3/_wire.py, magic ``F3``) and of the framed meta calls
(fs3/_call_wire.py, magic ``FM``) use. No asyncio here: drivers hand the reader bytes, or let it name the
buffer the next bytes go to, and take complete frames out.

The header, little-endian::

    magic   2s   the protocol's two bytes
    version u8   protocol version
    type    u8   frame type
    flags   u16  per-protocol bits
    count   u16  items in the frame (the meta calls: a method number)
    req_id  u32  chosen by the requester, echoed in the reply
    length  u32  payload bytes after the header

Zero copy. A driver on ``asyncio.BufferedProtocol`` asks ``get_buffer()`` where the kernel should put the
next bytes. Usually that is the reader's receive buffer, where several small frames arrive per system
call. A frame's payload may instead be split (``head``): its first bytes are buffered and handed over as
the frame's payload, and the rest goes wherever the driver's ``place`` says, received there directly:
a node puts a large write's data in a page-aligned pooled buffer, a client puts a read's data in the
caller's buffers.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from typing import NamedTuple

from ._errors import Status

HEADER = struct.Struct("<2sBBHHII")
HEADER_SIZE = HEADER.size  # 16
RECEIVE_BUFFER = 256 << 10  # frames arrive here, several per system call
JOIN_LIMIT = 64 << 10       # frames up to this size are sent as one buffer (one system call)


class ProtocolError(Exception):
    """A frame that breaks the protocol; the connection cannot continue. ``status`` is the fs3 status
    the peer is told (in an ERROR frame) before the connection is closed."""

    def __init__(self, message: str, status: int = Status.INVALID_ARGUMENT):
        super().__init__(message)
        self.status = status


class Header(NamedTuple):
    type: int
    count: int  # type: ignore[assignment]  # (a field named like tuple.count, which nothing here uses)
    req_id: int
    length: int
    flags: int = 0


class Frame(NamedTuple):
    """A complete frame: its header, the buffered part of its payload (all of it unless the driver split
    it), and what the driver's ``place`` returned beside the buffers it filled (None if nothing was)."""

    header: Header
    payload: bytes
    placed: object = None


# Per-frame constructors without a NamedTuple's Python-level __new__ (a C call instead of a Python one:
# the hot path builds a header and a frame for every frame received).
_header = partial(tuple.__new__, Header)
_frame = partial(tuple.__new__, Frame)


@dataclass(frozen=True)
class Framing:
    """One protocol's framing over the shared header: its magic, version, frame types and payload limit.
    ``name`` and ``speaker`` word the errors ("data-plane" ... "this node speaks 1")."""

    name: str
    magic: bytes
    version: int
    frame_types: frozenset[int]
    max_payload: int
    speaker: str = "node"

    def pack_header(self, frame_type: int, count: int, req_id: int, length: int, flags: int = 0) -> bytes:
        return HEADER.pack(self.magic, self.version, frame_type, flags, count, req_id, length)

    def parse_header(self, data, max_payload: int | None = None) -> Header:
        """Check and decode a header; ProtocolError for anything a peer must not send."""
        magic, version, frame_type, flags, count, req_id, length = HEADER.unpack(data)
        if magic != self.magic:
            raise ProtocolError(f"not an fs3 {self.name} frame (bad magic)")
        if version != self.version:
            raise ProtocolError(f"unsupported {self.name} protocol version {version} "
                                f"(this {self.speaker} speaks {self.version})")
        if frame_type not in self.frame_types:
            raise ProtocolError(f"unknown frame type {frame_type}")
        limit = self.max_payload if max_payload is None else max_payload
        if length > limit:
            raise ProtocolError(f"frame of {length} bytes exceeds the limit of {limit}")
        return _header((frame_type, count, req_id, length, flags))

    def frame(self, frame_type: int, payload=b"", *, count: int = 0, req_id: int = 0, flags: int = 0) -> bytes:
        """One whole frame as bytes."""
        return self.pack_header(frame_type, count, req_id, len(payload), flags) + payload

    def encode(self, frame_type: int, parts: list, *, count: int = 0, req_id: int = 0, flags: int = 0) -> list:
        """The buffers to send, in order, for a frame whose payload is ``parts`` back to back: one joined
        buffer for a small frame (one system call), else the header and the parts themselves (large data
        is never copied)."""
        length = sum([len(p) for p in parts])
        head = self.pack_header(frame_type, count, req_id, length, flags)
        if length <= JOIN_LIMIT:
            return [b"".join([head, *parts])]
        return [head, *parts]


Target = memoryview | int  # where placed bytes go; an int: that many bytes to drop


class FrameReader:
    """Reassembles one connection's frames (sans I/O).

    Bytes come in by ``feed(data)``, or by ``get_buffer()`` + ``buffer_updated(n)`` (BufferedProtocol);
    ``next_frame()`` returns the next complete frame, or None until more bytes have come. Frames are
    taken one at a time, so a driver may stop taking (a paused connection) and go on later.

    ``head(header, buffered)`` (optional) says how many payload bytes to buffer and hand over as the
    frame's payload; it is asked whenever a header is at the front, with the payload bytes buffered so
    far, and may raise ProtocolError to refuse the frame before its payload arrives. For the rest of the
    payload, ``place(header, head)`` returns (targets, placed): the buffers it fills, in order, and a value
    returned with the frame. A head longer than ``max_head`` is refused as oversized.
    """

    def __init__(self, framing: Framing, buffer_size: int = RECEIVE_BUFFER, *, max_head: int | None = None,
                 head: Callable[[Header, int], int] | None = None,
                 place: Callable[[Header, bytes], tuple[list[Target], object]] | None = None):
        self.framing = framing
        self._parse = framing.parse_header
        self.max_head = framing.max_payload if max_head is None else max_head
        self._head = head
        self._place = place
        self._size = buffer_size  # the buffer grows for a large frame, and shrinks back when it is empty
        self._buf = bytearray(buffer_size)
        self._view = memoryview(self._buf)
        self._start = 0
        self._end = 0
        # a frame whose rest is being placed: its targets, where in them, and the frame to return then
        self._targets: list[Target] | None = None
        self._ti = 0
        self._to = 0
        self._placing: Frame | None = None
        self._ready: Frame | None = None
        self._scratch: memoryview | None = None

    @property
    def buffered(self) -> int:
        """Bytes received and not yet taken as frames."""
        return self._end - self._start

    @property
    def placing(self) -> object:
        """The ``placed`` value of a frame whose rest is still arriving (so a driver that closes can
        release the buffers it handed out), else None."""
        return self._placing.placed if self._placing is not None else None

    # -- bytes in ----------------------------------------------------------------------------------

    def get_buffer(self) -> memoryview:
        """Where the next bytes received should go (never empty)."""
        targets = self._targets
        if targets is not None:  # straight into the placed frame's buffers
            target = targets[self._ti]
            if isinstance(target, int):  # bytes nobody wants any more
                if self._scratch is None:
                    self._scratch = memoryview(bytearray(1 << 16))
                return self._scratch[: min(len(self._scratch), target - self._to)]
            return target[self._to :]
        if self._end == len(self._buf):
            self._make_room(1)
        return self._view[self._end :]

    def buffer_updated(self, nbytes: int) -> None:
        """``nbytes`` were written into the buffer ``get_buffer()`` returned."""
        if self._targets is not None:
            self._to += nbytes
            self._advance()
        else:
            self._end += nbytes

    def feed(self, data) -> None:
        """Take received bytes (copied into the buffer, or into a placed frame's targets)."""
        view = memoryview(data)
        if self._targets is not None:
            view = view[self._fill(view) :]
        if not len(view):
            return
        if len(self._buf) - self._end < len(view):
            self._make_room(len(view))
        self._view[self._end : self._end + len(view)] = view
        self._end += len(view)

    # -- frames out --------------------------------------------------------------------------------

    def next_frame(self) -> Frame | None:
        """The next complete frame, or None until more bytes come; ProtocolError at a bad one."""
        ready = self._ready
        if ready is not None:
            self._ready = None
            return ready
        if self._targets is not None:
            return None
        start = self._start
        if self._end - start < HEADER_SIZE:
            self._settle()
            return None
        view = self._view
        header = self._parse(view[start : start + HEADER_SIZE])
        body = start + HEADER_SIZE
        buffered = self._end - body
        size = header.length if self._head is None else self._head(header, buffered)
        if size > self.max_head:
            raise ProtocolError(f"oversized frame of type {header.type} ({header.length} bytes)")
        if buffered < size:
            self._settle()
            return None
        payload = bytes(view[body : body + size])
        self._start = body + size
        rest = header.length - size
        if not rest:
            return _frame((header, payload, None))
        if self._place is None:
            raise ValueError("a reader that splits frames (head) needs place")
        targets, placed = self._place(header, payload)
        total = 0
        for t in targets:
            total += t if isinstance(t, int) else len(t)
        if total != rest:
            raise ProtocolError(f"frame of type {header.type}: its data does not fit where it goes")
        frame = _frame((header, payload, placed))
        self._targets, self._ti, self._to, self._placing = targets, 0, 0, frame
        # What is already buffered goes to the targets now; the rest is received there directly.
        if self._start < self._end:
            self._start += self._fill(view[self._start : self._end])
        ready = self._ready
        if ready is not None:
            self._ready = None
            return ready
        self._start = self._end = 0
        return None

    def __iter__(self) -> Iterator[Frame]:
        """The complete frames received so far."""
        while (frame := self.next_frame()) is not None:
            yield frame

    def close(self) -> object:
        """Drop what is buffered; returns the ``placed`` value of a split frame not yet taken, complete
        or still arriving (so a driver that closes can release the buffers it handed out), else None."""
        pending = self._placing or self._ready
        placed = pending.placed if pending is not None else None
        self._targets = self._placing = self._ready = None
        self._start = self._end = 0
        return placed

    def grow(self, buffer_size: int, *, max_head: int | None = None) -> None:
        """From now on keep a receive buffer of at least ``buffer_size`` bytes (and accept heads up to
        ``max_head``): a server starts an unauthenticated peer's reader small, and grows it once the
        peer has authenticated. What is buffered stays."""
        if max_head is not None:
            self.max_head = max_head
        if buffer_size <= self._size:
            return
        self._size = buffer_size
        if len(self._buf) < buffer_size:
            left = self._end - self._start
            grown = bytearray(buffer_size)
            grown[:left] = self._view[self._start : self._end]
            # (the old buffer is dropped, not released: the last get_buffer() slice may still refer to it)
            self._buf, self._view = grown, memoryview(grown)
            self._start, self._end = 0, left

    # -- internals ---------------------------------------------------------------------------------

    def _fill(self, view: memoryview) -> int:
        """Copy the front of ``view`` into the placed frame's targets; returns the bytes used."""
        used = 0
        while self._targets is not None and used < len(view):
            target = self._targets[self._ti]
            room = (target if isinstance(target, int) else len(target)) - self._to
            n = min(room, len(view) - used)
            if not isinstance(target, int):
                target[self._to : self._to + n] = view[used : used + n]
            used += n
            self._to += n
            self._advance()
        return used

    def _advance(self) -> None:
        targets = self._targets
        assert targets is not None
        while self._ti < len(targets):
            target = targets[self._ti]
            if self._to < (target if isinstance(target, int) else len(target)):
                return
            self._ti += 1
            self._to = 0
        self._ready, self._placing, self._targets = self._placing, None, None

    def _settle(self) -> None:
        """Between frames: start over at the front when everything was taken, or move a partial frame
        there once it sits past the middle (so the next one has room)."""
        if self._start == self._end:
            self._start = self._end = 0
            if len(self._buf) > 4 * self._size:  # a large frame passed: give its room back (the frames
                # somewhat larger than the start size that come often keep theirs: no regrowing each time)
                self._buf = bytearray(self._size)
                self._view = memoryview(self._buf)
        elif self._start > len(self._buf) // 2:
            self._compact()

    def _compact(self) -> None:
        left = self._end - self._start
        if left:
            self._view[:left] = self._view[self._start : self._end]
        self._start, self._end = 0, left

    def _make_room(self, need: int) -> None:
        """Room for ``need`` more bytes: the partial frame moves to the front, and the buffer grows when
        that is not enough (bytes fed faster than frames are taken, or a head larger than the buffer)."""
        self._compact()
        if len(self._buf) - self._end >= need:
            return
        size = max(len(self._buf) * 2, self._end + need)
        grown = bytearray(size)
        grown[: self._end] = self._view[: self._end]
        # (the old buffer is dropped, not released: the last get_buffer() slice may still refer to it)
        self._buf, self._view = grown, memoryview(grown)
