"""The data-plane wire format: pure encoding and decoding."""

from __future__ import annotations

import pytest

from fs3 import _token, _wire


def test_header_roundtrip_and_refusals():
    raw = _wire.pack_header(_wire.READ, 3, 77, 120)
    h = _wire.parse_header(raw)
    assert (h.type, h.count, h.req_id, h.length) == (_wire.READ, 3, 77, 120)
    with pytest.raises(_wire.ProtocolError, match="magic"):
        _wire.parse_header(b"XX" + raw[2:])
    with pytest.raises(_wire.ProtocolError, match="version 9"):
        _wire.parse_header(raw[:2] + bytes([9]) + raw[3:])
    with pytest.raises(_wire.ProtocolError, match="unknown frame type"):
        _wire.parse_header(raw[:3] + bytes([200]) + raw[4:])
    with pytest.raises(_wire.ProtocolError, match="exceeds"):
        _wire.parse_header(_wire.pack_header(_wire.READ, 1, 1, _wire.MAX_PAYLOAD + 1))


def test_hello_and_welcome_roundtrip():
    hello = _wire.Hello(b"tok", _wire.TRANSPORT_TCP | _wire.TRANSPORT_SHM, "fs3-1-ab", 1 << 20, b"n" * 16, "me")
    frame = _wire.encode_hello(hello)
    assert _wire.decode_hello(frame[_wire.HEADER_SIZE:]) == hello
    with pytest.raises(_wire.ProtocolError):
        _wire.decode_hello(frame[_wire.HEADER_SIZE:-1])  # truncated
    welcome = _wire.Welcome(_wire.TRANSPORT_SHM, 4, {_wire.TRANSPORT_RDMA: "unavailable (no RDMA device)"})
    assert _wire.decode_welcome(_wire.encode_welcome(welcome)[_wire.HEADER_SIZE:]) == welcome


def test_negotiation_prefers_the_best_common_transport():
    reasons: dict[int, str] = {}
    both = _wire.TRANSPORT_TCP | _wire.TRANSPORT_SHM
    assert _wire.negotiate(both, both, reasons) == _wire.TRANSPORT_SHM
    assert reasons[_wire.TRANSPORT_RDMA] == "not offered by the client"
    reasons = {_wire.TRANSPORT_SHM: "unavailable (not on the same host)"}
    assert _wire.negotiate(both, _wire.TRANSPORT_TCP, reasons) == _wire.TRANSPORT_TCP
    assert reasons[_wire.TRANSPORT_SHM] == "unavailable (not on the same host)"


@pytest.mark.parametrize("offset, length, span", [(0, 4096, 4096), (1, 4096, 8192), (4095, 1, 4096), (5000, 10, 4096)])
def test_shm_span_covers_whole_blocks(offset, length, span):
    assert _wire.shm_span(offset, length) == span


def test_tokens():
    claims = _token.TokenClaims(expiry=2_000_000_000, uid=5, gid=6, client="host:1")
    token = _token.sign(b"secret", claims)
    assert _token.verify(b"secret", token, now=1) == claims
    with pytest.raises(ValueError, match="signature"):
        _token.verify(b"other", token, now=1)
    with pytest.raises(ValueError, match="expired"):
        _token.verify(b"secret", token, now=3_000_000_000)
    with pytest.raises(ValueError, match="malformed"):
        _token.verify(b"secret", b"short")
    forged = token[:-33] + bytes([token[-33] ^ 1]) + token[-32:]
    with pytest.raises(ValueError):
        _token.verify(b"secret", forged, now=1)


def test_value_objects_are_the_wire_layouts_by_name():
    read = _wire.ReadItem(3, 5, 77, 2, 4096, 100, 8192)
    assert _wire.pack_reads([read, read]) == _wire.READ_ITEM.pack(*read) * 2
    assert _wire.unpack_reads(_wire.pack_reads([read])) == [read]
    assert (read.chain, read.chunk) == (_wire.ChainRef(3, 5), _wire.ChunkId(77, 2))
    assert _wire.ReadItem(3, 5, 77, 2, 0, 1).shm_offset == 0

    raw = _wire.READ_RESULT.pack(0, 0, 100, 6, 8192) + _wire.READ_RESULT.pack(3001, 0, 0, 0, 0)
    assert _wire.unpack_read_results(raw) == [_wire.ReadResult(0, 100, 6, 8192), _wire.ReadResult(3001, 0, 0, 0)]

    write = _wire.WriteItem(3, 5, 77, 2, 0, 4, 1 << 20, 0xAED87DD1, 12288)
    assert write.pack() == _wire.WRITE_ITEM.pack(*write)
    assert _wire.WriteItem.unpack_from(b"xx" + write.pack(), 2) == write
    assert (write.chain, write.chunk) == (_wire.ChainRef(3, 5), _wire.ChunkId(77, 2))
    written = _wire.WriteResult(0, 6, 8192, 0xDEADBEEF)
    assert written.pack() == _wire.WRITE_RESULT.pack(0, 0, 6, 8192, 0xDEADBEEF)
    assert _wire.WriteResult.unpack_from(written.pack()) == written

    update = _wire.UpdateItem.of(_wire.ChainRef(3, 5), _wire.ChunkId(77, 2), 6, 4, 1 << 20, 0xAED87DD1)
    assert update == (3, 5, 77, 2, 6, 4, 1 << 20, 0xAED87DD1)
    assert update.pack() == _wire.UPDATE_ITEM.pack(*update)
    assert _wire.UpdateItem.unpack_from(update.pack()) == update
    assert (update.chain, update.chunk) == (_wire.ChainRef(3, 5), _wire.ChunkId(77, 2))
    updated = _wire.UpdateResult(3003, 6, 0xDEADBEEF)
    assert updated.pack() == _wire.UPDATE_RESULT.pack(3003, 0, 6, 0xDEADBEEF)
    assert _wire.UpdateResult.unpack_from(updated.pack()) == updated
