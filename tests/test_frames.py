"""The shared sans-I/O frame reader (fs3/_frames.py): reassembly byte by byte and many frames at once,
split frames placed straight into their buffers, and every refusal, for both protocols' framings."""

from __future__ import annotations

import pytest

from fs3 import _call_wire, _frames, _wire
from fs3._errors import Status

F3 = _wire.FRAMING
FM = _call_wire.FRAMING


def _frame(framing: _frames.Framing, frame_type: int, payload: bytes, req_id: int = 1, count: int = 0) -> bytes:
    return framing.frame(frame_type, payload, count=count, req_id=req_id)


def _receive(reader: _frames.FrameReader, data: bytes, step: int) -> list[_frames.Frame]:
    """Deliver ``data`` ``step`` bytes at a time through get_buffer/buffer_updated, as a BufferedProtocol
    would, taking frames after each delivery."""
    out = []
    pos = 0
    while pos < len(data):
        buf = reader.get_buffer()
        assert len(buf)
        n = min(step, len(buf), len(data) - pos)
        buf[:n] = data[pos : pos + n]
        pos += n
        reader.buffer_updated(n)
        out += list(reader)
    return out


STREAM = [(_wire.READ, b"x" * 44, 1), (_wire.WRITE, bytes(range(256)) * 3, 2), (_wire.HELLO, b"", 3),
          (_wire.UPDATE, b"u" * 5000, 4)]


@pytest.mark.parametrize("step", [1, 7, 16, 17, 1000, 1 << 20])
def test_frames_reassemble_whatever_the_delivery(step):
    data = b"".join(_frame(F3, t, p, r) for t, p, r in STREAM)
    frames = _receive(_frames.FrameReader(F3, 4096), data, step)
    assert [(f.header.type, f.payload, f.header.req_id) for f in frames] == STREAM
    assert all(f.placed is None for f in frames)


def test_fed_bytes_many_frames_per_chunk_and_partial_ones():
    reader = _frames.FrameReader(FM, 64)  # smaller than the frames: the buffer grows as bytes are fed
    one = _frame(FM, _call_wire.CALL, b"p" * 100, 9, count=4)
    reader.feed(one * 5 + one[:20])
    frames = list(reader)
    assert len(frames) == 5 and reader.buffered == 20
    assert frames[0].header == _frames.Header(_call_wire.CALL, 4, 9, 100)
    reader.feed(one[20:])
    assert [f.payload for f in reader] == [b"p" * 100]
    assert reader.next_frame() is None and reader.buffered == 0


def test_the_buffer_gives_back_the_room_a_large_frame_took():
    """A connection that once received a 1 MiB frame does not keep a 1 MiB buffer for its lifetime."""
    reader = _frames.FrameReader(FM, 4096)
    reader.feed(_frame(FM, _call_wire.REPLY, b"x" * (1 << 20), 1))
    assert len(reader._buf) > 1 << 20
    assert next(iter(reader)).payload == b"x" * (1 << 20)
    assert reader.next_frame() is None
    assert len(reader._buf) == 4096
    reader.feed(_frame(FM, _call_wire.REPLY, b"y", 2))
    assert [f.payload for f in reader] == [b"y"]


def test_a_reader_grown_after_authentication_keeps_what_it_buffered():
    """A server starts an unauthenticated peer's reader small and grows it after the HELLO: the bytes
    that came behind the HELLO stay, and larger heads are accepted from then on."""
    reader = _frames.FrameReader(F3, 64, max_head=48)
    behind = _frame(F3, _wire.READ, b"r" * 40, 2)
    reader.feed(_frame(F3, _wire.HELLO, b"h" * 8, 1) + behind[:30])
    assert reader.next_frame().header.type == _wire.HELLO
    reader.grow(4096, max_head=4000)
    assert len(reader._buf) == 4096 and reader.buffered == 30
    frames = _receive(reader, behind[30:] + _frame(F3, _wire.WRITE, b"w" * 3000, 3), 1000)
    assert [(f.header.req_id, f.payload) for f in frames] == [(2, b"r" * 40), (3, b"w" * 3000)]
    assert len(reader._buf) == 4096  # (its new size is the one it shrinks back to)
    ungrown = _frames.FrameReader(F3, 64, max_head=48)
    ungrown.feed(_frame(F3, _wire.WRITE, b"w" * 3000, 3))
    with pytest.raises(_frames.ProtocolError, match="oversized"):
        ungrown.next_frame()


def test_a_driver_may_stop_taking_frames_and_go_on_later():
    reader = _frames.FrameReader(F3, 1024)
    reader.feed(b"".join(_frame(F3, _wire.READ, bytes([i]) * 3, i) for i in range(1, 4)))
    assert reader.next_frame().header.req_id == 1
    assert [f.header.req_id for f in reader] == [2, 3]


@pytest.mark.parametrize("framing, spoken", [(F3, "data-plane"), (FM, "meta-call")])
def test_bad_headers_are_refused(framing, spoken):
    good = _frame(framing, 1, b"abc")
    cases = [
        (b"XX" + good[2:], f"not an fs3 {spoken} frame"),
        (good[:2] + bytes([9]) + good[3:], f"unsupported {spoken} protocol version 9"),
        (good[:3] + bytes([200]) + good[4:], "unknown frame type 200"),
        (framing.pack_header(1, 0, 0, framing.max_payload + 1), "exceeds the limit"),
    ]
    for raw, message in cases:
        reader = _frames.FrameReader(framing, 1024)
        reader.feed(raw)
        with pytest.raises(_frames.ProtocolError, match=message) as caught:
            reader.next_frame()
        assert caught.value.status == Status.INVALID_ARGUMENT


def test_a_frame_larger_than_may_be_buffered_is_refused_at_its_header():
    reader = _frames.FrameReader(F3, 1024, max_head=1000)
    reader.feed(F3.pack_header(_wire.WRITE, 1, 1, 5000))  # only the header: refused before the payload
    with pytest.raises(_frames.ProtocolError, match="oversized"):
        reader.next_frame()


def test_the_head_hook_refuses_with_its_status():
    def head(header, _buffered):
        raise _frames.ProtocolError("no", Status.PERMISSION_DENIED)

    reader = _frames.FrameReader(F3, head=head)
    reader.feed(_frame(F3, _wire.READ, b"abc"))
    with pytest.raises(_frames.ProtocolError) as caught:
        reader.next_frame()
    assert caught.value.status == Status.PERMISSION_DENIED


class _Splitter:
    """A driver that buffers a frame's first 4 bytes and places the rest in buffers of its own (or drops
    it), recording what it was asked."""

    def __init__(self, drop: bool = False):
        self.drop = drop
        self.placed: list[tuple[int, bytes]] = []
        self.buffers: list[bytearray] = []

    def head(self, header, _buffered):
        return min(4, header.length)

    def place(self, header, head):
        rest = header.length - len(head)
        self.placed.append((header.req_id, head))
        if self.drop:
            return [rest], "dropped"
        halves = [bytearray(rest // 2), bytearray(rest - rest // 2)]
        self.buffers += halves
        return [memoryview(b) for b in halves], header.req_id


@pytest.mark.parametrize("step", [1, 5, 100, 1 << 20])
def test_split_frames_land_in_their_own_buffers(step):
    driver = _Splitter()
    reader = _frames.FrameReader(F3, 256, head=driver.head, place=driver.place)
    big = bytes(range(256)) * 40  # larger than the reader's buffer
    data = (_frame(F3, _wire.WRITE, b"HEAD" + big, 1) + _frame(F3, _wire.READ, b"ab", 2)
            + _frame(F3, _wire.WRITE, b"HEAD" + b"tail", 3))
    frames = _receive(reader, data, step)
    assert [(f.header.req_id, f.payload, f.placed) for f in frames] == [(1, b"HEAD", 1), (2, b"ab", None),
                                                                         (3, b"HEAD", 3)]
    assert bytes(driver.buffers[0] + driver.buffers[1]) == big
    assert bytes(driver.buffers[2] + driver.buffers[3]) == b"tail"


def test_placed_bytes_nobody_wants_are_dropped():
    driver = _Splitter(drop=True)
    reader = _frames.FrameReader(F3, 256, head=driver.head, place=driver.place)
    data = _frame(F3, _wire.WRITE, b"HEAD" + b"z" * 200_000, 1) + _frame(F3, _wire.READ, b"ok", 2)
    frames = _receive(reader, data, 65536)
    assert [(f.payload, f.placed) for f in frames] == [(b"HEAD", "dropped"), (b"ok", None)]


def test_a_driver_that_closes_mid_frame_gets_back_what_it_placed():
    driver = _Splitter()
    reader = _frames.FrameReader(F3, 256, head=driver.head, place=driver.place)
    reader.feed(_frame(F3, _wire.WRITE, b"HEAD" + b"q" * 1000, 7)[:300])
    assert reader.next_frame() is None
    assert reader.placing == 7
    assert reader.close() == 7 and reader.placing is None


def test_a_driver_that_closes_before_taking_a_placed_frame_gets_back_what_it_placed():
    driver = _Splitter()
    reader = _frames.FrameReader(F3, 256, head=driver.head, place=driver.place)
    whole = _frame(F3, _wire.WRITE, b"HEAD" + b"q" * 1000, 7)
    reader.feed(whole[:300])
    assert reader.next_frame() is None and reader.placing == 7
    rest = memoryview(whole)[300:]
    while len(rest):  # the rest arrives straight into the placed buffers; the frame is then complete
        into = reader.get_buffer()
        n = min(len(into), len(rest))
        into[:n] = rest[:n]
        reader.buffer_updated(n)
        rest = rest[n:]
    assert reader.placing is None  # complete, not yet taken
    assert reader.close() == 7


def test_placed_buffers_must_hold_exactly_the_rest():
    reader = _frames.FrameReader(F3, head=lambda h, b: 0, place=lambda h, head: ([memoryview(bytearray(3))], None))
    reader.feed(_frame(F3, _wire.WRITE, b"four"))
    with pytest.raises(_frames.ProtocolError, match="does not fit"):
        reader.next_frame()


def test_encode_joins_small_frames_and_leaves_large_data_uncopied():
    small = F3.encode(_wire.WRITE, [b"item", b"data"], count=1, req_id=5)
    assert small == [F3.pack_header(_wire.WRITE, 1, 5, 8) + b"itemdata"]
    data = memoryview(bytearray(_frames.JOIN_LIMIT + 1))
    large = F3.encode(_wire.WRITE, [b"item", data], count=1, req_id=6, flags=_wire.FLAG_NO_CRC)
    assert large[0] == F3.pack_header(_wire.WRITE, 1, 6, len(data) + 4, _wire.FLAG_NO_CRC)
    assert large[2] is data
