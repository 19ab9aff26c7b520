"""The data-plane wire format (version 1): framing and message layouts, shared by the storage server and
the client. Pure encoding and decoding, no I/O. Described for humans in docs/data-plane.md.

Every frame starts with a 16-byte header, little-endian::

    magic   2s   b"F3"
    version u8   protocol version (1)
    type    u8   frame type (below)
    flags   u16  FLAG_* bits (0 unless said otherwise)
    count   u16  items in the frame (reads, results...)
    req_id  u32  chosen by the client, echoed in the reply
    length  u32  payload bytes after the header

A connection starts with HELLO (client) and WELCOME (server); after that the client sends READ and WRITE
frames, many in flight, each after a GRANT frame with the capabilities of the files it touches, and the server answers each with a reply carrying the same req_id, in any order.
Any frame the server cannot accept is answered with ERROR; after a connection-level ERROR (bad magic,
unknown version or type, oversized or unauthenticated frame) the server closes the connection.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from functools import partial
from itertools import starmap
from typing import NamedTuple

# The header and ProtocolError are fs3/_frames.py's, shared with the meta calls; named here too.
from ._frames import HEADER as HEADER
from ._frames import HEADER_SIZE as HEADER_SIZE
from ._frames import Framing
from ._frames import Header as Header
from ._frames import ProtocolError as ProtocolError

MAGIC = b"F3"
VERSION = 1

# frame types
HELLO = 1
WELCOME = 2
READ = 3
READ_REPLY = 4
WRITE = 5
WRITE_REPLY = 6
UPDATE = 7          # node -> its successor in a chain: a chunk version to stage (or install, or drop)
UPDATE_REPLY = 8
GRANT = 9           # client -> node: capabilities (fs3/_capability.py) for the READs and WRITEs that follow
ERROR = 15
FRAME_TYPES = {HELLO, WELCOME, READ, READ_REPLY, WRITE, WRITE_REPLY, UPDATE, UPDATE_REPLY, GRANT, ERROR}

# header flags
FLAG_NO_CRC = 1  # WRITE over shared memory: the data never left this host's memory, so it carries no
                 # transit checksum (the node computes the block checksums it stores from it)
FLAG_SYNC = 2    # UPDATE from recovery: install the version as committed, if newer than what is there
FLAG_REMOVE = 4  # UPDATE: remove the chunk (no data)
FLAG_BLOCKS = 8  # UPDATE: the data is followed by its 4 KiB block CRC32Cs (u32 each), computed upstream

MAX_PAYLOAD = 80 << 20      # a frame's payload: one 64 MiB chunk plus its items, with room to spare
MAX_ITEMS = 4096            # reads per READ frame
MAX_READ_BYTES = 64 << 20   # bytes a READ frame may ask for in total
MAX_TOKEN = 4096
MAX_NAME = 255

# transports, best first
TRANSPORT_UCX = 8   # frames over a UCX endpoint (fs3/_ucx.py): RDMA where UCX finds it, else what UCX picks
TRANSPORT_RDMA = 4
TRANSPORT_SHM = 2
TRANSPORT_TCP = 1
TRANSPORT_NAMES = {TRANSPORT_UCX: "ucx", TRANSPORT_RDMA: "rdma", TRANSPORT_SHM: "shm", TRANSPORT_TCP: "tcp"}
PREFERENCE = (TRANSPORT_RDMA, TRANSPORT_SHM, TRANSPORT_UCX, TRANSPORT_TCP)

# READ item: chain_id u32, chain_version u64, inode u64, index u64, offset u32, length u32, shm_offset u64
READ_ITEM = struct.Struct("<IQQQIIQ")
# READ result: status u16, pad u16, length u32 (data bytes), version u32, chunk_length u32
READ_RESULT = struct.Struct("<HHIII")
# WRITE item: chain_id u32, chain_version u64, inode u64, index u64, offset u32, length u32,
#             chunk_size u32, crc32c u32 (of the data), shm_offset u64
WRITE_ITEM = struct.Struct("<IQQQIIIIQ")
# WRITE result: status u16, pad u16, version u32, chunk_length u32, checksum u32
WRITE_RESULT = struct.Struct("<HHIII")
# UPDATE item: chain_id u32, chain_version u64, inode u64, index u64, version u64, length u32,
#              chunk_size u32, crc32c u32 (of the data, which follows inline)
UPDATE_ITEM = struct.Struct("<IQQQQIII")
# UPDATE result: status u16, pad u16, version u64 (the receiver's committed version), checksum u32
UPDATE_RESULT = struct.Struct("<HHQI")
ERROR_HEAD = struct.Struct("<I")
# The results again, without their pad (so that they unpack straight into the value objects below).
_READ_RESULT_FIELDS = struct.Struct("<H2xIII")
_WRITE_RESULT_FIELDS = struct.Struct("<H2xIII")
_UPDATE_RESULT_FIELDS = struct.Struct("<H2xQI")


# -- value objects: what the items and results above carry ----------------------------------------
# Plain NamedTuples, built straight from what ``unpack``/``iter_unpack`` return by ``tuple.__new__`` (a C
# call; ``_make`` and the constructor are Python functions, which cost twice the unpacking per item).

_new = tuple.__new__

class ChunkId(NamedTuple):
    """A chunk: the ``index``-th chunk of the file ``inode``."""

    inode: int
    index: int  # type: ignore[assignment]  # (named like tuple.index, which nothing here uses)


class ChainRef(NamedTuple):
    """A chain, at the version of the routing info the request was routed by."""

    chain_id: int
    chain_version: int


class ReadItem(NamedTuple):
    """One read of a READ frame: ``length`` bytes at ``offset`` of a chunk (into the requester's shared
    memory at ``shm_offset`` when the connection uses it)."""

    chain_id: int
    chain_version: int
    inode: int
    index: int  # type: ignore[assignment]  # (named like tuple.index, which nothing here uses)
    offset: int
    length: int
    shm_offset: int = 0

    @property
    def chain(self) -> ChainRef:
        return ChainRef(self.chain_id, self.chain_version)

    @property
    def chunk(self) -> ChunkId:
        return ChunkId(self.inode, self.index)


class ReadResult(NamedTuple):
    """One read's answer: a status, the data bytes (fewer than asked where the chunk ends), and the
    chunk's committed version (its low 32 bits) and length."""

    status: int
    length: int
    version: int
    chunk_length: int


class WriteItem(NamedTuple):
    """A WRITE frame's item: ``length`` bytes at ``offset`` of a chunk, inline with their CRC32C, or
    waiting in the requester's shared memory at ``shm_offset``."""

    chain_id: int
    chain_version: int
    inode: int
    index: int  # type: ignore[assignment]  # (named like tuple.index, which nothing here uses)
    offset: int
    length: int
    chunk_size: int
    crc: int
    shm_offset: int = 0

    @property
    def chain(self) -> ChainRef:
        return ChainRef(self.chain_id, self.chain_version)

    @property
    def chunk(self) -> ChunkId:
        return ChunkId(self.inode, self.index)

    def pack(self) -> bytes:
        return WRITE_ITEM.pack(*self)

    @classmethod
    def unpack_from(cls, buffer, offset: int = 0) -> WriteItem:
        return _new(cls, WRITE_ITEM.unpack_from(buffer, offset))


class WriteResult(NamedTuple):
    """A write's answer: a status, and the chunk's new version (low 32 bits), length and checksum."""

    status: int
    version: int
    chunk_length: int
    checksum: int

    def pack(self) -> bytes:
        return _WRITE_RESULT_FIELDS.pack(*self)

    @classmethod
    def unpack_from(cls, buffer, offset: int = 0) -> WriteResult:
        return _new(cls, _WRITE_RESULT_FIELDS.unpack_from(buffer, offset))


class UpdateItem(NamedTuple):
    """An UPDATE frame's item: ``version`` of a chunk, whose ``length`` bytes follow (with their CRC32C)."""

    chain_id: int
    chain_version: int
    inode: int
    index: int  # type: ignore[assignment]  # (named like tuple.index, which nothing here uses)
    version: int
    length: int
    chunk_size: int
    crc: int

    @classmethod
    def of(cls, chain: ChainRef, chunk: ChunkId, version: int, length: int, chunk_size: int,
           crc: int) -> UpdateItem:
        return cls(chain.chain_id, chain.chain_version, chunk.inode, chunk.index, version, length, chunk_size, crc)

    @property
    def chain(self) -> ChainRef:
        return ChainRef(self.chain_id, self.chain_version)

    @property
    def chunk(self) -> ChunkId:
        return ChunkId(self.inode, self.index)

    def pack(self) -> bytes:
        return UPDATE_ITEM.pack(*self)

    @classmethod
    def unpack_from(cls, buffer, offset: int = 0) -> UpdateItem:
        return _new(cls, UPDATE_ITEM.unpack_from(buffer, offset))


class UpdateResult(NamedTuple):
    """An update's answer: a status, and the receiver's committed version of the chunk and its checksum."""

    status: int
    version: int
    checksum: int

    def pack(self) -> bytes:
        return _UPDATE_RESULT_FIELDS.pack(*self)

    @classmethod
    def unpack_from(cls, buffer, offset: int = 0) -> UpdateResult:
        return _new(cls, _UPDATE_RESULT_FIELDS.unpack_from(buffer, offset))


_new_read_item = partial(_new, ReadItem)
_new_read_result = partial(_new, ReadResult)


def pack_reads(items: list[ReadItem]) -> bytes:
    """A READ frame's payload."""
    return b"".join(starmap(READ_ITEM.pack, items))


def unpack_reads(payload) -> list[ReadItem]:
    return list(map(_new_read_item, READ_ITEM.iter_unpack(payload)))


def unpack_read_results(buffer) -> list[ReadResult]:
    return list(map(_new_read_result, _READ_RESULT_FIELDS.iter_unpack(buffer)))


ALIGN = 4096  # shared-memory reads land at an aligned address: see shm_span


FRAMING = Framing("data-plane", MAGIC, VERSION, frozenset(FRAME_TYPES), MAX_PAYLOAD, speaker="node")
pack_header = FRAMING.pack_header


def parse_header(data, *, max_payload: int = MAX_PAYLOAD) -> Header:
    """Check and decode a frame header; raises ProtocolError for anything the peer must not send."""
    return FRAMING.parse_header(data, max_payload)


# -- handshake ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Hello:
    token: bytes
    offer: int            # bitmask of TRANSPORT_*
    shm_name: str = ""    # the client's shared-memory region (/dev/shm/<name>), if offered
    shm_size: int = 0
    shm_nonce: bytes = b""  # 16 bytes the client wrote at the start of the region
    client: str = ""


_HELLO_FIXED = struct.Struct("<HBHQ16sH")
MAX_HELLO = _HELLO_FIXED.size + MAX_TOKEN + 2 * MAX_NAME  # a HELLO's payload at most


def encode_hello(h: Hello) -> bytes:
    name = h.shm_name.encode()
    client = h.client.encode()[:MAX_NAME]
    nonce = h.shm_nonce.ljust(16, b"\0")[:16]
    body = (
        _HELLO_FIXED.pack(len(h.token), h.offer, len(name), h.shm_size, nonce, len(client))
        + h.token + name + client
    )
    return pack_header(HELLO, 0, 0, len(body)) + body


def decode_hello(payload: bytes) -> Hello:
    if len(payload) < _HELLO_FIXED.size:
        raise ProtocolError("truncated HELLO")
    token_len, offer, name_len, shm_size, nonce, client_len = _HELLO_FIXED.unpack_from(payload)
    if token_len > MAX_TOKEN or name_len > MAX_NAME or client_len > MAX_NAME:
        raise ProtocolError("HELLO field too long")
    need = _HELLO_FIXED.size + token_len + name_len + client_len
    if len(payload) != need:
        raise ProtocolError("malformed HELLO (field lengths do not add up)")
    pos = _HELLO_FIXED.size
    token = bytes(payload[pos : pos + token_len])
    pos += token_len
    try:
        name = bytes(payload[pos : pos + name_len]).decode()
        client = bytes(payload[pos + name_len : need]).decode(errors="replace")
    except UnicodeDecodeError:
        raise ProtocolError("malformed HELLO (shm name is not UTF-8)") from None
    return Hello(token, offer, name, shm_size, nonce, client)


@dataclass(frozen=True)
class Welcome:
    transport: int               # the chosen TRANSPORT_*
    node_id: int
    reasons: dict[int, str]      # why each other transport was not chosen


_WELCOME_FIXED = struct.Struct("<BIB")
_REASON = struct.Struct("<BH")


def encode_welcome(w: Welcome) -> bytes:
    body = bytearray(_WELCOME_FIXED.pack(w.transport, w.node_id, len(w.reasons)))
    for transport, text in w.reasons.items():
        raw = text.encode()[:1024]
        body += _REASON.pack(transport, len(raw)) + raw
    return pack_header(WELCOME, 0, 0, len(body)) + bytes(body)


def decode_welcome(payload: bytes) -> Welcome:
    transport, node_id, n = _WELCOME_FIXED.unpack_from(payload)
    reasons = {}
    pos = _WELCOME_FIXED.size
    for _ in range(n):
        t, size = _REASON.unpack_from(payload, pos)
        pos += _REASON.size
        reasons[t] = bytes(payload[pos : pos + size]).decode(errors="replace")
        pos += size
    return Welcome(transport, node_id, reasons)


def encode_grant(capabilities: list[bytes]) -> bytes:
    """A GRANT frame: ``count`` capabilities back to back (each ``_capability.SIZE`` bytes). It has no
    reply: the node keeps the valid ones for the connection, and an item whose file it holds no valid
    capability for fails with CAPABILITY_REFUSED."""
    body = b"".join(capabilities)
    return pack_header(GRANT, len(capabilities), 0, len(body)) + body


def encode_error(status: int, message: str, req_id: int = 0) -> bytes:
    body = ERROR_HEAD.pack(int(status)) + message.encode()[:4096]
    return pack_header(ERROR, 0, req_id, len(body)) + body


def decode_error(payload: bytes) -> tuple[int, str]:
    if len(payload) < ERROR_HEAD.size:
        return 0, "malformed ERROR frame"
    (status,) = ERROR_HEAD.unpack_from(payload)
    return status, bytes(payload[ERROR_HEAD.size :]).decode(errors="replace")


def shm_span(offset: int, length: int) -> int:
    """Bytes a client reserves in shared memory for a read of ``length`` bytes at chunk ``offset``: the
    server reads whole aligned blocks straight into the region, so the data starts ``offset % ALIGN``
    bytes into the reservation."""
    lead = offset % ALIGN
    return -(-(lead + length) // ALIGN) * ALIGN


def negotiate(client_offer: int, server_offer: int, reasons: dict[int, str]) -> int:
    """The best transport both ends offer; ``reasons`` gains a line for every better one passed over."""
    for transport in PREFERENCE:
        if client_offer & server_offer & transport:
            return transport
        if transport not in reasons:
            side = "client" if not client_offer & transport else "server"
            reasons[transport] = f"not offered by the {side}"
    return 0
