"""The UCX channel of the data plane (optional: ``pip install 'fs3[ucx]'``, the ucxx bindings).

UCX picks the fastest path between two hosts by itself: RDMA verbs or RoCE where a device and a
verbs-enabled UCX exist, else TCP. fs3 sends its usual frames (fs3/_wire.py) over a UCX endpoint, so the
requester (fs3/_data_client.py) and the node (storage/_client_session.py) are the same protocols as over
TCP; ``UcxTransport`` stands in for the asyncio transport under them. What is queued goes out as one UCX
active message (UCX allocates it on the receiving side, with its length), in order; the receiving side
hands the bytes to the protocol as a socket would.

UCX is used where both ends have it, the cluster runs without TLS (UCX carries no TLS) and it is not
switched off (``FS3_UCX=0``); a client on the node's host uses shared memory before UCX. A process that
forked after using UCX cannot use it again (UCX is not fork-safe): the child uses TCP.
"""

from __future__ import annotations

import asyncio
import ctypes
import importlib.util
import logging
import os
import tempfile
from collections import deque

log = logging.getLogger(__name__)

HIGH_WATER = 4 << 20      # bytes queued for sending above which the protocol is told to pause writing
LOW_WATER = 1 << 20
CONNECT_TIMEOUT = 5.0

_state: dict = {"pid": 0, "ucxx": None}


def available() -> tuple[bool, str]:
    """Whether this process may use UCX, with the reason when not."""
    if os.environ.get("FS3_UCX", "").lower() in ("0", "off", "no", "false"):
        return False, "disabled (FS3_UCX=0)"
    if _state["pid"] and _state["pid"] != os.getpid():
        return False, "unavailable (this process forked after using UCX; UCX is not fork-safe)"
    if importlib.util.find_spec("ucxx") is None:
        return False, "unavailable (the ucxx bindings are not installed: pip install 'fs3[ucx]')"
    return True, ""


def ucxx():
    """The ucxx module, initialised once in this process (blocking progress: the event loop wakes on
    UCX's file descriptor, no thread spinning)."""
    if _state["ucxx"] is None:
        os.environ.setdefault("UCX_WARN_UNUSED_ENV_VARS", "n")
        os.environ.setdefault("UCXPY_PROGRESS_MODE", "blocking")
        _state["ucxx"] = importlib.import_module("ucxx")  # optional, and slow to import (about a second)
        _state["pid"] = os.getpid()
    return _state["ucxx"]


def lanes(endpoint) -> str:
    """What UCX chose for an endpoint, one phrase per lane (e.g. "tcp/lo"; "rc_mlx5/mlx5_0:1" over
    InfiniBand), from ``ucp_ep_print_info``; "" when it cannot say."""
    try:
        libucx = importlib.import_module("libucx").__file__ or ""
        libucp = ctypes.CDLL(os.path.join(os.path.dirname(libucx), "lib", "libucp.so"))
        libc = ctypes.CDLL(None)
        libc.fdopen.restype = ctypes.c_void_p
        libc.fdopen.argtypes = [ctypes.c_int, ctypes.c_char_p]
        libc.fflush.argtypes = [ctypes.c_void_p]
        libc.fclose.argtypes = [ctypes.c_void_p]
        with tempfile.TemporaryFile() as out:
            stream = libc.fdopen(os.dup(out.fileno()), b"w")
            libucp.ucp_ep_print_info(ctypes.c_void_p(endpoint.ucp_endpoint), ctypes.c_void_p(stream))
            libc.fflush(stream)
            libc.fclose(stream)
            out.seek(0)
            text = out.read().decode(errors="replace")
    except (OSError, AttributeError, ImportError, ValueError):
        return ""
    found = []
    for line in text.splitlines():
        if "lane[" not in line or ":" not in line:
            continue
        for word in line.split():
            name = word.split(":", 1)[-1] if ":" in word else word
            if "/" in name and not name.startswith(("md[", "sysdev")) and name not in found:
                found.append(name)
                break
    return ", ".join(found)


class UcxTransport(asyncio.Transport):
    """An asyncio transport over a UCX endpoint: ``write`` queues, one task sends in order, one task
    receives into the protocol's buffers. Flow control as a socket's: the protocol is told to pause
    writing above ``HIGH_WATER`` queued bytes, and reading pauses when it asks."""

    def __init__(self, endpoint, protocol: asyncio.BufferedProtocol, peer: str):
        super().__init__()
        self._ep = endpoint
        self._protocol = protocol
        self._peer = peer
        self._queue: deque = deque()
        self._queued = 0
        self._wake = asyncio.Event()
        self._reading = asyncio.Event()
        self._reading.set()
        self._closing = False
        self._lost = False
        self._paused_writing = False
        self._tasks: list[asyncio.Task] = []

    def start(self) -> None:
        self._protocol.connection_made(self)
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._send_loop()), loop.create_task(self._receive_loop())]

    # -- asyncio.Transport -------------------------------------------------------------------------

    def get_extra_info(self, name, default=None):
        if name == "peername":
            return ("ucx", self._peer)
        if name == "ucx_endpoint":
            return self._ep
        return default

    def is_closing(self) -> bool:
        return self._closing

    def write(self, data) -> None:
        if self._closing or not len(data):
            return
        self._queue.append(bytes(data))  # (the caller may reuse its buffer once write returns)
        self._queued += len(data)
        self._wake.set()
        if not self._paused_writing and self._queued > HIGH_WATER:
            self._paused_writing = True
            self._protocol.pause_writing()

    def writelines(self, list_of_data) -> None:
        for data in list_of_data:
            self.write(data)

    def get_write_buffer_size(self) -> int:
        return self._queued

    def pause_reading(self) -> None:
        self._reading.clear()

    def resume_reading(self) -> None:
        self._reading.set()

    def is_reading(self) -> bool:
        return self._reading.is_set()

    def close(self) -> None:
        """Send what is queued, then close the endpoint."""
        if not self._closing:
            self._closing = True
            self._wake.set()

    def abort(self) -> None:
        self._closing = True
        self._queue.clear()
        self._queued = 0
        try:
            self._ep.abort()
        except Exception:  # noqa: BLE001 - an endpoint already gone
            pass
        self._connection_lost(None)

    # -- the two loops -----------------------------------------------------------------------------

    async def _send_loop(self) -> None:
        ep = self._ep
        try:
            while True:
                while not self._queue:
                    if self._closing:
                        await ep.close()
                        self._connection_lost(None)
                        return
                    self._wake.clear()
                    await self._wake.wait()
                # What is queued goes as one message: fewer, larger messages.
                parts = []
                while self._queue:
                    parts.append(self._queue.popleft())
                data = parts[0] if len(parts) == 1 else b"".join(parts)
                await ep.am_send(data)  # an active message: the receiver learns its length
                self._queued -= len(data)
                if self._paused_writing and self._queued <= LOW_WATER:
                    self._paused_writing = False
                    self._protocol.resume_writing()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - any UCX failure ends the connection
            self._connection_lost(exc)

    async def _receive_loop(self) -> None:
        ep = self._ep
        protocol = self._protocol
        try:
            while not self._lost:
                await self._reading.wait()
                data = await ep.am_recv()
                view = memoryview(data).cast("B")
                n, at = len(view), 0
                while at < n and not self._lost:
                    buf = memoryview(protocol.get_buffer(n - at)).cast("B")
                    k = min(len(buf), n - at)
                    buf[:k] = view[at:at + k]
                    at += k
                    protocol.buffer_updated(k)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - the peer went away, or UCX failed
            self._connection_lost(None if self._closing else exc)

    def _connection_lost(self, exc) -> None:
        if self._lost:
            return
        self._lost = True
        self._closing = True
        current = asyncio.current_task()
        for task in self._tasks:
            if task is not current and not task.done():
                task.cancel()
        if exc is not None:
            log.debug("UCX connection to %s lost: %s", self._peer, exc)
        self._protocol.connection_lost(exc if isinstance(exc, Exception) or exc is None else None)


async def connect(host: str, port: int, protocol: asyncio.BufferedProtocol, peer: str,
                  timeout: float = CONNECT_TIMEOUT) -> UcxTransport:
    """A UCX endpoint to ``host:port`` with ``protocol`` on it."""
    mod = ucxx()
    endpoint = await asyncio.wait_for(mod.create_endpoint(host, port), timeout)
    transport = UcxTransport(endpoint, protocol, peer)
    transport.start()
    return transport


def split(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    return host.strip("[]"), int(port)
