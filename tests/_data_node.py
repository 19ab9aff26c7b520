"""A storage node's data plane in the test process: a real DataServer over a real target, on its own
uvloop thread, for tests that attack it through real sockets. ``from _data_node import DataNode``."""

from __future__ import annotations

import asyncio
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from fs3 import _capability, _token, _wire
from fs3.storage._buffers import BufferPool
from fs3.storage._data_context import DataPlaneContext
from fs3.storage._data_server import DataServer
from fs3.storage._target import Target

try:
    import uvloop
    new_loop = uvloop.new_event_loop
except ImportError:  # pragma: no cover - uvloop is a dependency on Linux
    new_loop = asyncio.new_event_loop

SECRET = b"s" * 32
MiB = 1 << 20


class OneTarget:
    """Routing that places every chain on target 1."""

    version = 1

    def local_target(self, *_args, **_kw) -> int:
        return 1


class DataNode:
    """A started DataServer with chunk 7:0 (1 MiB of ``blob``) on its target 1 (chain 1, version 1)."""

    def __init__(self, path: Path, routing=None, tls=None):
        self.target = Target.open(path / "target")
        self.blob = os.urandom(MiB)
        self.target.store.write(7, 0, 0, self.blob, MiB)
        self.executor = ThreadPoolExecutor(2)
        self.ctx = DataPlaneContext(targets={1: self.target}, routing=routing or OneTarget(),
                                    secret=lambda: SECRET, node_id=lambda: 1, executor=self.executor,
                                    buffers=BufferPool(), shm_enabled=False)
        self.server = DataServer(self.ctx, "127.0.0.1", tls=tls)  # tls: an ssl.SSLContext (server side)
        self.address = ("127.0.0.1", self.server.start(new_loop))

    @property
    def data_address(self) -> str:
        return f"{self.address[0]}:{self.address[1]}"

    def on_loop(self, fn):
        """``fn()`` run on the node's loop (where its sessions live); returns its result."""
        async def call():
            return fn()
        return asyncio.run_coroutine_threadsafe(call(), self.server.main_loop).result(timeout=30)

    def stop(self) -> None:
        self.server.stop()
        self.executor.shutdown()
        self.target.close()


def token() -> bytes:
    return _token.sign(SECRET, _token.TokenClaims(expiry=2**40, uid=0, gid=0, client="test"))


def capability(access: int = _capability.READ, inode: int = 7, uid: int = 0) -> bytes:
    """A capability as meta would issue it for this node's cluster (good for a day)."""
    reach = _capability.Reach(_capability.UNLIMITED) if access == _capability.WRITE else _capability.Reach()
    return _capability.sign(_capability.CapabilityKeys(lambda: SECRET), access, inode, 1, uid, reach=reach,
                            lifetime=86400)


def grant(inode: int = 7) -> bytes:
    """A GRANT frame: read and write capabilities for ``inode``."""
    return _wire.encode_grant([capability(_capability.READ, inode), capability(_capability.WRITE, inode)])


def hello() -> bytes:
    """A client's HELLO, and a GRANT for chunk 7's file."""
    return _wire.encode_hello(_wire.Hello(token=token(), offer=_wire.TRANSPORT_TCP, client="test")) + grant()


def capabilities():
    """A client's capabilities for chunk 7's file (for a ChunkIO made by hand)."""
    from fs3.client._capabilities import Capabilities

    async def no_renewals(_req):
        raise AssertionError("a test capability is good for a day: nothing to renew")

    held = Capabilities(no_renewals)
    held.install(capability(_capability.READ), pin=True)
    held.install(capability(_capability.WRITE), pin=True)
    return held
