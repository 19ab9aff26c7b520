"""The framed meta-call protocol (version 1): namespace calls to a meta server without gRPC's per-call
cost. Pure encoding and decoding, no I/O; described for humans in docs/meta-calls.md.

Frames use the 16-byte header of fs3/_frames.py (shared with the data plane) with their own magic::

    magic   2s   b"FM"
    version u8   protocol version (1)
    type    u8   HELLO, WELCOME, CALL, REPLY or ERROR
    flags   u16  0
    count   u16  CALL: the method's number in METHODS
    req_id  u32  chosen by the client, echoed in the reply
    length  u32  payload bytes after the header

A connection starts with HELLO (the caller's bearer token) and WELCOME; then CALL frames carry a
method's request message (the same protobuf as its gRPC call), many in flight, and each is answered by a
REPLY (the reply message) or an ERROR (fs3 status, path, message) with its req_id. A frame that breaks
the protocol is answered with an ERROR (req_id 0) and the connection is closed.
"""

from __future__ import annotations

import struct

from ._errors import Status
from ._frames import HEADER as HEADER
from ._frames import HEADER_SIZE as HEADER_SIZE
from ._frames import FrameReader, Framing
from ._frames import ProtocolError as ProtocolError
from .proto import meta_pb2

MAGIC = b"FM"
VERSION = 1

HELLO, WELCOME, CALL, REPLY, ERROR = 1, 2, 3, 4, 15
FRAME_TYPES = {HELLO, WELCOME, CALL, REPLY, ERROR}
MAX_PAYLOAD = 16 << 20  # a batch stat of many paths, a readdir page: far below this
MAX_TOKEN = 4096

# The namespace methods, numbered by their place here (never reorder; append only).
METHODS = ("Stat", "BatchStat", "ReadLink", "Mkdir", "Open", "Close", "RenewSessions", "ReadDir", "Remove",
           "Rename", "Truncate", "SetAttr", "Link", "Symlink", "StatFs", "RenewCapabilities", "SetQuota",
           "GetQuota", "ExtendWrite", "Append", "Lock", "Mknod", "GetXattr", "SetXattr")
NUMBER = {name: i for i, name in enumerate(METHODS)}
REQUESTS = {name: getattr(meta_pb2, f"{name}Request") for name in METHODS}
REPLIES = {name: getattr(meta_pb2, f"{name}Reply") for name in METHODS}
READ_ONLY = frozenset({"Stat", "BatchStat", "ReadLink", "ReadDir", "StatFs", "RenewCapabilities", "GetQuota",
                       "GetXattr"})

_ERROR_HEAD = struct.Struct("<IH")

FRAMING = Framing("meta-call", MAGIC, VERSION, frozenset(FRAME_TYPES), MAX_PAYLOAD, speaker="server")


def reader(head=None) -> FrameReader:
    """A frame reader for one meta-call connection (either end). Calls and replies are small, and a
    server holds one reader per client connection: the buffer starts small and grows only for the
    frame that needs it. ``head``: see FrameReader (a server refuses what an unauthenticated peer may
    not send before its payload arrives)."""
    return FrameReader(FRAMING, 16 << 10, head=head)


def pack_header(frame_type: int, count: int, req_id: int, length: int) -> bytes:
    return FRAMING.pack_header(frame_type, count, req_id, length)


def parse_header(data) -> tuple[int, int, int, int]:
    """(type, count, req_id, length) of a frame header; ProtocolError for what no peer may send."""
    header = FRAMING.parse_header(data)
    return header.type, header.count, header.req_id, header.length


def frame(frame_type: int, payload: bytes = b"", *, count: int = 0, req_id: int = 0) -> bytes:
    return FRAMING.frame(frame_type, payload, count=count, req_id=req_id)


def encode_error(status: int, message: str, path: str | None = None, req_id: int = 0) -> bytes:
    raw_path = b"" if path is None else path.encode("utf-8", "surrogateescape")[:8192]
    body = _ERROR_HEAD.pack(int(status), len(raw_path) + (path is not None)) + raw_path + message.encode()[:4096]
    return frame(ERROR, body, req_id=req_id)


def decode_error(payload: bytes) -> tuple[int, str, str | None]:
    """(status, message, path or None) of an ERROR payload."""
    if len(payload) < _ERROR_HEAD.size:
        return int(Status.INTERNAL), "malformed error frame", None
    status, path_len = _ERROR_HEAD.unpack_from(payload)
    pos = _ERROR_HEAD.size
    path = None
    if path_len:
        path = bytes(payload[pos:pos + path_len - 1]).decode("utf-8", "surrogateescape")
        pos += path_len - 1
    return status, bytes(payload[pos:]).decode(errors="replace"), path
