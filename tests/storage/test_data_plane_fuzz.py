"""Bad input on the data plane: truncated, oversized, garbage, unknown-version and unauthenticated
frames, sent by the thousand to a real storage node. Each is refused with an ERROR frame or a closed
connection; the node keeps serving everyone else."""

from __future__ import annotations

import os
import random
import socket
import struct

import pytest

from fs3 import _token, _wire

N_FRAMES = 3000


@pytest.fixture
def node(client, cluster):
    routing = client.routing_info()
    proc = cluster.process("storage-1")
    info = next(n for n in routing.nodes if n.address == proc.address)
    host, port = info.data_address.rsplit(":", 1)
    token = client._run(client._async._data_token())
    return (host, int(port)), token, routing, proc


def _recv_all(sock: socket.socket) -> bytes:
    out = b""
    try:
        while chunk := sock.recv(65536):
            out += chunk
    except (TimeoutError, ConnectionResetError):
        pass
    return out


def _frames(data: bytes) -> list[tuple[_wire.Header, bytes]]:
    out, pos = [], 0
    while pos + _wire.HEADER_SIZE <= len(data):
        h = _wire.parse_header(data[pos : pos + _wire.HEADER_SIZE])
        out.append((h, data[pos + _wire.HEADER_SIZE : pos + _wire.HEADER_SIZE + h.length]))
        pos += _wire.HEADER_SIZE + h.length
    return out


def _hello(token: bytes, **kw) -> bytes:
    return _wire.encode_hello(_wire.Hello(token=token, offer=_wire.TRANSPORT_TCP, client="fuzz", **kw))


def _bad_frame(rng: random.Random, token: bytes) -> tuple[bytes, str]:
    """One malformed conversation and what must come back: "error" (an ERROR frame, then close) or
    "closed" (an ERROR frame or just a close)."""
    kind = rng.randrange(9)
    if kind == 0:
        return rng.randbytes(rng.randrange(1, 300)), "closed"                    # garbage
    if kind == 1:
        h = _wire.pack_header(_wire.HELLO, 0, 0, 500)
        return h + rng.randbytes(rng.randrange(0, 499)), "closed"                # truncated, then hang up
    if kind == 2:
        raw = bytearray(_hello(token))
        raw[2] = rng.choice([0, 2, 7, 255])                                      # unknown version
        return bytes(raw), "error"
    if kind == 3:
        return _wire.pack_header(_wire.READ, 1, 1, _wire.MAX_PAYLOAD + rng.randrange(1, 1 << 20)), "error"
    if kind == 4:
        body = _wire.READ_ITEM.pack(1, 1, 1, 0, 0, 4096, 0)
        return _wire.pack_header(_wire.READ, 1, 9, len(body)) + body, "error"    # no HELLO first
    if kind == 5:
        forged = _token.sign(b"not the cluster secret", _token.TokenClaims(2**40, 0, 0, "mallory"))
        return _hello(forged), "error"                                           # wrong token
    if kind == 6:
        raw = bytearray(_hello(token))
        raw[3] = rng.choice([0, 4, 6, 9, 200])                                   # a reply type / unknown
        return bytes(raw), "error"
    if kind == 7:
        items = rng.randrange(1, 5)
        body = rng.randbytes(items * _wire.READ_ITEM.size + rng.choice([-1, 1, 7]))
        return _hello(token) + _wire.pack_header(_wire.READ, items, 3, len(body)) + body, "error"
    body = _wire.WRITE_ITEM.pack(1, 1, 1, 0, 0, 100, 1 << 20, 0, 0) + b"x" * 50  # data shorter than said
    return _hello(token) + _wire.pack_header(_wire.WRITE, 1, 4, len(body)) + body, "error"


def test_malformed_frames_are_refused_and_the_node_keeps_serving(node, client, workdir):
    address, token, _routing, proc = node
    data = os.urandom(300_000)
    client.write(f"{workdir}/keep", data)
    rng = random.Random(2026)
    errors = 0
    for _ in range(N_FRAMES):
        payload, expect = _bad_frame(rng, token)
        with socket.create_connection(address, timeout=5) as s:
            try:
                s.sendall(payload)
                s.shutdown(socket.SHUT_WR)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the node hung up before reading it all: also a refusal
            reply = _recv_all(s)
        frames = _frames(reply)
        types = [h.type for h, _ in frames]
        if expect == "error" and _wire.WELCOME in types:
            types.remove(_wire.WELCOME)  # an authenticated conversation gets its WELCOME first
        assert set(types) <= {_wire.ERROR}, types
        if expect == "error":
            assert types == [_wire.ERROR], f"expected an ERROR frame, got {types}"
        errors += len(types)
    assert errors > N_FRAMES // 2
    assert proc.alive()
    assert client.read(f"{workdir}/keep") == data  # everyone else is still served


def test_bad_items_in_good_frames_fail_alone(node):
    address, token, routing, _proc = node
    rng = random.Random(5)
    with socket.create_connection(address, timeout=10) as s:
        s.sendall(_hello(token, shm_name="../../etc/passwd", shm_size=1 << 20, shm_nonce=b"x" * 16))
        items = [(rng.randrange(1 << 32), rng.randrange(1 << 63), rng.randrange(1 << 63), rng.randrange(1 << 63),
                  rng.randrange(1 << 32), rng.randrange(1 << 16), rng.randrange(1 << 63)) for _ in range(200)]
        body = b"".join(_wire.READ_ITEM.pack(*i) for i in items)
        s.sendall(_wire.pack_header(_wire.READ, len(items), 11, len(body)) + body)
        chain = routing.chains[0]
        wbody = _wire.WRITE_ITEM.pack(chain.id, chain.version, 1 << 60, 0, 0, 4, 1 << 20, 12345, 0) + b"abcd"
        s.sendall(_wire.pack_header(_wire.WRITE, 1, 12, len(wbody)) + wbody)  # wrong CRC32C
        s.shutdown(socket.SHUT_WR)
        frames = _frames(_recv_all(s))
    kinds = {h.type: (h, body) for h, body in frames}
    welcome = _wire.decode_welcome(kinds[_wire.WELCOME][1])
    assert welcome.transport == _wire.TRANSPORT_TCP  # the bogus shared-memory name was not opened
    header, payload = kinds[_wire.READ_REPLY]
    results = list(_wire.READ_RESULT.iter_unpack(payload[: header.count * _wire.READ_RESULT.size]))
    assert header.req_id == 11 and len(results) == 200 and all(r[0] != 0 for r in results)
    header, payload = kinds[_wire.WRITE_REPLY]
    status = struct.unpack_from("<H", payload)[0]
    assert header.req_id == 12 and status != 0  # refused: the data does not match its checksum
