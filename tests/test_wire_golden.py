"""Golden bytes of protocol version 1: every data-plane frame (fs3/_wire.py) and every framed-meta frame
(fs3/_call_wire.py), built from fixed values and compared with the bytes written out here, then decoded
back from those bytes.

These literals are the protocol. A change that alters any of them breaks every peer of another release:
it needs a new protocol version, not a new literal. The hex is grouped by field (header: magic, version,
type, flags, count, req_id, length; then each item's fields in order), all integers little-endian.
"""

from __future__ import annotations

import struct

import pytest

from fs3 import _call_wire as cw
from fs3 import _wire as w
from fs3._errors import Status
from fs3.proto import meta_pb2

DATA = b"data"
DATA_CRC = 0xAED87DD1  # CRC32C of DATA
CHUNK = 1 << 20


def _hex(*lines: str) -> bytes:
    return bytes.fromhex("".join(lines))


# -- data plane (magic F3) ---------------------------------------------------------------------------

HELLO = _hex(
    "4633 01 01 0000 0000 00000000 2c000000",
    "0300 03 0800 0000100000000000 6e6e6e6e6e6e6e6e6e6e6e6e6e6e6e6e 0200",  # token, offer, shm name, size, ...
    "746f6b",            # token
    "6673332d312d6162",  # shm name
    "6d65",              # client
)
WELCOME = _hex(
    "4633 01 02 0000 0000 00000000 14000000",
    "02 04000000 02",    # transport shm, node 4, two reasons
    "04 0700", "6e6f2072646d61",
    "01 0100", "78",
)
READ_ITEMS = [(3, 5, 0x1122334455, 7, 4096, 65536, 8192), (4, 6, 9, 0, 10, 20, 0)]
READ = _hex(
    "4633 01 03 0000 0200 04030201 58000000",
    "03000000 0500000000000000 5544332211000000 0700000000000000 00100000 00000100 0020000000000000",
    "04000000 0600000000000000 0900000000000000 0000000000000000 0a000000 14000000 0000000000000000",
)
READ_RESULTS = [(0, 0, 5, 3, 70000), (Status.CHUNK_NOT_FOUND, 0, 0, 0, 0)]
READ_REPLY = _hex(
    "4633 01 04 0000 0200 04030201 25000000",
    "0000 0000 05000000 03000000 70110100",
    "b90b 0000 00000000 00000000 00000000",
    "68656c6c6f",  # the first item's data, inline (TCP)
)
WRITE_ITEM = (3, 5, 77, 2, 100, 4, CHUNK, DATA_CRC, 0)
WRITE = _hex(
    "4633 01 05 0000 0100 09000000 38000000",
    "03000000 0500000000000000 4d00000000000000 0200000000000000 64000000 04000000 00001000 d17dd8ae"
    " 0000000000000000",
    "64617461",
)
WRITE_SHM_ITEM = (3, 5, 77, 2, 0, 8192, CHUNK, 0, 12288)
WRITE_SHM = _hex(
    "4633 01 05 0100 0100 0a000000 34000000",  # FLAG_NO_CRC, no inline data
    "03000000 0500000000000000 4d00000000000000 0200000000000000 00000000 00200000 00001000 00000000"
    " 0030000000000000",
)
WRITE_RESULT = (0, 0, 6, 8192, 0xDEADBEEF)
WRITE_REPLY = _hex(
    "4633 01 06 0000 0100 0a000000 10000000",
    "0000 0000 06000000 00200000 efbeadde",
)
UPDATE_ITEM = (3, 5, 77, 2, 6, 4, CHUNK, DATA_CRC)
UPDATE = _hex(
    "4633 01 07 0000 0100 0b000000 34000000",
    "03000000 0500000000000000 4d00000000000000 0200000000000000 0600000000000000 04000000 00001000 d17dd8ae",
    "64617461",
)
UPDATE_BLOCKS = _hex(
    "4633 01 07 0800 0100 0c000000 38000000",  # FLAG_BLOCKS
    "03000000 0500000000000000 4d00000000000000 0200000000000000 0600000000000000 04000000 00001000 d17dd8ae",
    "64617461",
    "0df0feca",  # the data's 4 KiB block CRC32Cs, u32 each
)
UPDATE_REMOVE_ITEM = (3, 5, 77, 2, 0, 0, 0, 0)
UPDATE_REMOVE = _hex(
    "4633 01 07 0600 0100 0d000000 30000000",  # FLAG_REMOVE | FLAG_SYNC
    "03000000 0500000000000000 4d00000000000000 0200000000000000 0000000000000000 00000000 00000000 00000000",
)
UPDATE_RESULT = (Status.STALE_CHAIN_VERSION, 0, 6, 0xDEADBEEF)
UPDATE_REPLY = _hex(
    "4633 01 08 0000 0100 0d000000 10000000",
    "bb0b 0000 0600000000000000 efbeadde",
)
ERROR = _hex(
    "4633 01 0f 0000 0000 0e000000 07000000",
    "eb030000", "626164",
)


def test_data_plane_constants():
    assert (w.MAGIC, w.VERSION, w.HEADER_SIZE) == (b"F3", 1, 16)
    assert (w.HELLO, w.WELCOME, w.READ, w.READ_REPLY, w.WRITE, w.WRITE_REPLY, w.UPDATE, w.UPDATE_REPLY,
            w.ERROR) == (1, 2, 3, 4, 5, 6, 7, 8, 15)
    assert (w.FLAG_NO_CRC, w.FLAG_SYNC, w.FLAG_REMOVE, w.FLAG_BLOCKS) == (1, 2, 4, 8)
    assert (w.TRANSPORT_TCP, w.TRANSPORT_SHM, w.TRANSPORT_RDMA) == (1, 2, 4)
    assert (w.READ_ITEM.size, w.READ_RESULT.size, w.WRITE_ITEM.size, w.WRITE_RESULT.size, w.UPDATE_ITEM.size,
            w.UPDATE_RESULT.size) == (44, 16, 52, 16, 48, 16)


def test_handshake_bytes():
    hello = w.Hello(b"tok", w.TRANSPORT_TCP | w.TRANSPORT_SHM, "fs3-1-ab", CHUNK, b"n" * 16, "me")
    assert w.encode_hello(hello) == HELLO
    assert w.parse_header(HELLO[:16]) == w.Header(w.HELLO, 0, 0, 44)
    assert w.decode_hello(HELLO[16:]) == hello

    welcome = w.Welcome(w.TRANSPORT_SHM, 4, {w.TRANSPORT_RDMA: "no rdma", w.TRANSPORT_TCP: "x"})
    assert w.encode_welcome(welcome) == WELCOME
    assert w.parse_header(WELCOME[:16]) == w.Header(w.WELCOME, 0, 0, 20)
    assert w.decode_welcome(WELCOME[16:]) == welcome


def test_read_bytes():
    body = b"".join(w.READ_ITEM.pack(*item) for item in READ_ITEMS)
    assert w.pack_header(w.READ, 2, 0x01020304, len(body)) + body == READ
    assert w.parse_header(READ[:16]) == w.Header(w.READ, 2, 0x01020304, 88)
    assert list(w.READ_ITEM.iter_unpack(READ[16:])) == READ_ITEMS

    results = b"".join(w.READ_RESULT.pack(*r) for r in READ_RESULTS)
    assert w.pack_header(w.READ_REPLY, 2, 0x01020304, len(results) + 5) + results + b"hello" == READ_REPLY
    header = w.parse_header(READ_REPLY[:16])
    assert header == w.Header(w.READ_REPLY, 2, 0x01020304, 37)
    end = 16 + header.count * w.READ_RESULT.size
    assert list(w.READ_RESULT.iter_unpack(READ_REPLY[16:end])) == READ_RESULTS
    assert READ_REPLY[end:] == b"hello"


def test_write_bytes():
    item = w.WRITE_ITEM.pack(*WRITE_ITEM)
    assert w.pack_header(w.WRITE, 1, 9, len(item) + len(DATA)) + item + DATA == WRITE
    assert w.parse_header(WRITE[:16]) == w.Header(w.WRITE, 1, 9, 56)
    assert w.WRITE_ITEM.unpack_from(WRITE, 16) == WRITE_ITEM
    assert WRITE[16 + w.WRITE_ITEM.size :] == DATA

    item = w.WRITE_ITEM.pack(*WRITE_SHM_ITEM)
    assert w.pack_header(w.WRITE, 1, 10, len(item), w.FLAG_NO_CRC) + item == WRITE_SHM
    assert w.parse_header(WRITE_SHM[:16]) == w.Header(w.WRITE, 1, 10, 52, w.FLAG_NO_CRC)
    assert w.WRITE_ITEM.unpack(WRITE_SHM[16:]) == WRITE_SHM_ITEM

    result = w.WRITE_RESULT.pack(*WRITE_RESULT)
    assert w.pack_header(w.WRITE_REPLY, 1, 10, len(result)) + result == WRITE_REPLY
    assert w.parse_header(WRITE_REPLY[:16]) == w.Header(w.WRITE_REPLY, 1, 10, 16)
    assert w.WRITE_RESULT.unpack(WRITE_REPLY[16:]) == WRITE_RESULT


def test_update_bytes():
    item = w.UPDATE_ITEM.pack(*UPDATE_ITEM)
    assert w.pack_header(w.UPDATE, 1, 11, len(item) + len(DATA)) + item + DATA == UPDATE
    assert w.parse_header(UPDATE[:16]) == w.Header(w.UPDATE, 1, 11, 52)
    assert w.UPDATE_ITEM.unpack_from(UPDATE, 16) == UPDATE_ITEM
    assert UPDATE[16 + w.UPDATE_ITEM.size :] == DATA

    blocks = struct.pack("<I", 0xCAFEF00D)
    assert w.pack_header(w.UPDATE, 1, 12, len(item) + len(DATA) + 4, w.FLAG_BLOCKS) + item + DATA + blocks \
        == UPDATE_BLOCKS
    assert w.parse_header(UPDATE_BLOCKS[:16]) == w.Header(w.UPDATE, 1, 12, 56, w.FLAG_BLOCKS)
    assert UPDATE_BLOCKS[-4:] == blocks

    item = w.UPDATE_ITEM.pack(*UPDATE_REMOVE_ITEM)
    assert w.pack_header(w.UPDATE, 1, 13, len(item), w.FLAG_REMOVE | w.FLAG_SYNC) + item == UPDATE_REMOVE
    assert w.parse_header(UPDATE_REMOVE[:16]) == w.Header(w.UPDATE, 1, 13, 48, w.FLAG_REMOVE | w.FLAG_SYNC)
    assert w.UPDATE_ITEM.unpack(UPDATE_REMOVE[16:]) == UPDATE_REMOVE_ITEM

    result = w.UPDATE_RESULT.pack(*UPDATE_RESULT)
    assert w.pack_header(w.UPDATE_REPLY, 1, 13, len(result)) + result == UPDATE_REPLY
    assert w.parse_header(UPDATE_REPLY[:16]) == w.Header(w.UPDATE_REPLY, 1, 13, 16)
    assert w.UPDATE_RESULT.unpack(UPDATE_REPLY[16:]) == UPDATE_RESULT


def test_error_bytes():
    assert w.encode_error(Status.PERMISSION_DENIED, "bad", 14) == ERROR
    assert w.parse_header(ERROR[:16]) == w.Header(w.ERROR, 0, 14, 7)
    assert w.decode_error(ERROR[16:]) == (Status.PERMISSION_DENIED, "bad")


# -- framed meta calls (magic FM) --------------------------------------------------------------------

M_HELLO = _hex("464d 01 01 0000 0000 00000000 05000000", "746f6b656e")
M_WELCOME = _hex("464d 01 02 0000 0000 00000000 00000000")
M_CALL_STAT = _hex("464d 01 03 0000 0000 05000000 06000000", "0a022f611001")  # Stat, method 0
M_CALL_STATFS = _hex("464d 01 03 0000 0e00 08000000 00000000")                 # StatFs, method 14
M_REPLY = _hex("464d 01 04 0000 0000 05000000 02000000", "0a00")
M_ERROR = _hex("464d 01 0f 0000 0000 06000000 12000000", "d1070000 0000", "6e6f20737563682066696c65")
M_ERROR_PATH = _hex("464d 01 0f 0000 0000 07000000 16000000", "d1070000 0500", "2f612f62",
                    "6e6f20737563682066696c65")
M_ERROR_CONN = _hex("464d 01 0f 0000 0000 00000000 0c000000", "e9030000 0000", "64656e696564")


def test_meta_call_constants():
    assert (cw.MAGIC, cw.VERSION, cw.HEADER_SIZE) == (b"FM", 1, 16)
    assert (cw.HELLO, cw.WELCOME, cw.CALL, cw.REPLY, cw.ERROR) == (1, 2, 3, 4, 15)
    # Method numbers are the wire's (append only).
    assert cw.METHODS[:15] == ("Stat", "BatchStat", "ReadLink", "Mkdir", "Open", "Close", "RenewSessions",
                               "ReadDir", "Remove", "Rename", "Truncate", "SetAttr", "Link", "Symlink", "StatFs")


def _taken(raw: bytes) -> list[tuple]:
    reader = cw.reader()
    reader.feed(raw)
    frames = [(f.header.type, f.header.count, f.header.req_id, f.payload) for f in reader]
    assert not reader.buffered
    return frames


@pytest.mark.parametrize("built, golden, taken", [
    (lambda: cw.frame(cw.HELLO, b"token"), M_HELLO, (cw.HELLO, 0, 0, b"token")),
    (lambda: cw.frame(cw.WELCOME), M_WELCOME, (cw.WELCOME, 0, 0, b"")),
    (lambda: cw.frame(cw.CALL, meta_pb2.StatRequest(path="/a", no_follow=True).SerializeToString(),
                      count=cw.NUMBER["Stat"], req_id=5), M_CALL_STAT, (cw.CALL, 0, 5, b"\x0a\x02/a\x10\x01")),
    (lambda: cw.frame(cw.CALL, meta_pb2.StatFsRequest().SerializeToString(), count=cw.NUMBER["StatFs"], req_id=8),
     M_CALL_STATFS, (cw.CALL, 14, 8, b"")),
    (lambda: cw.frame(cw.REPLY, b"\x0a\x00", req_id=5), M_REPLY, (cw.REPLY, 0, 5, b"\x0a\x00")),
], ids=["hello", "welcome", "call-stat", "call-statfs", "reply"])
def test_meta_call_bytes(built, golden, taken):
    assert built() == golden
    assert cw.parse_header(golden[:16]) == taken[:3] + (len(taken[3]),)
    assert _taken(golden) == [taken]


def test_meta_call_request_decodes():
    (_type, count, _req, payload), = _taken(M_CALL_STAT)
    request = cw.REQUESTS[cw.METHODS[count]].FromString(payload)
    assert (request.path, request.no_follow) == ("/a", True)


def test_meta_error_bytes():
    assert cw.encode_error(Status.NOT_FOUND, "no such file", None, 6) == M_ERROR
    assert cw.encode_error(Status.NOT_FOUND, "no such file", "/a/b", 7) == M_ERROR_PATH
    assert cw.encode_error(Status.INVALID_ARGUMENT, "denied") == M_ERROR_CONN
    for golden, req_id, decoded in [
        (M_ERROR, 6, (Status.NOT_FOUND, "no such file", None)),
        (M_ERROR_PATH, 7, (Status.NOT_FOUND, "no such file", "/a/b")),
        (M_ERROR_CONN, 0, (Status.INVALID_ARGUMENT, "denied", None)),
    ]:
        (frame_type, count, got_req, payload), = _taken(golden)
        assert (frame_type, count, got_req) == (cw.ERROR, 0, req_id)
        assert cw.decode_error(payload) == decoded


def test_frames_of_both_protocols_back_to_back():
    """A stream of several frames decodes in order (the reassembly that both ends share)."""
    assert _taken(M_HELLO + M_CALL_STAT + M_CALL_STATFS) == [
        (cw.HELLO, 0, 0, b"token"), (cw.CALL, 0, 5, b"\x0a\x02/a\x10\x01"), (cw.CALL, 14, 8, b""),
    ]


# GRANT: one write capability (fs3/_capability.py) signed with a known key at a known time.
GRANT = _hex(
    "4633", "01", "09", "0000", "0100", "00000000", "4a000000",  # header: GRANT, 1 capability, 74 bytes
    "03", "02", "20a10700", "0807060504030201",                  # format 3, WRITE, key id 500000
    "1817161514131211", "d2040000", "14d2496b00000000",          # session, uid 1234, expiry
    "0000000400000000", "00001000",                              # limit 64 MiB, chunk size 1 MiB
    "0100", "05000000", "0300", "0c000000",                      # chain table 1, from position 5, stripe 3, of 12
    "a9f3b5204ac8b1615b58637606cbdb4d",                          # HMAC-SHA256, first 16 bytes
)


def test_grant_bytes():
    from fs3 import _capability as cap

    assert (w.GRANT, cap.SIZE, cap.READ, cap.WRITE) == (9, 74, 1, 2)
    keys = cap.CapabilityKeys(lambda: b"k" * 32)
    reach = cap.Reach(64 << 20, 1 << 20, 1, 5, 3, 12)
    raw = cap.sign(keys, cap.WRITE, 0x0102030405060708, 0x1112131415161718, 1234, reach=reach,
                   now=1_800_000_000.0)
    assert w.encode_grant([raw]) == GRANT
    assert w.parse_header(GRANT[:16]) == w.Header(w.GRANT, 1, 0, 74)
    assert cap.verify(keys, GRANT[16:], now=1_800_000_001.0) == cap.Capability(
        cap.WRITE, 500000, 0x0102030405060708, 0x1112131415161718, 1234, 1_800_000_020, *reach)
