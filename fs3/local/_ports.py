"""Ports for a local cluster's listeners, chosen outside the kernel's ephemeral range.

A process restarted on its old port (addresses stay the same across restarts) must find the port free.
A port the kernel handed out for listening (bind to port 0) comes from the ephemeral range, which is also
where the source ports of outgoing connections come from: while the process was down, a connection from
the same address (an etcd peer, a client) may have taken it, and the restart fails with "address already
in use". Ports below the range are never given to outgoing connections.
"""

from __future__ import annotations

import random
import socket
from pathlib import Path

LOW = 20000


def ephemeral_range() -> tuple[int, int]:
    try:
        low, high = (int(x) for x in Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
        return low, high
    except (OSError, ValueError):
        return 32768, 60999


def port_free(host: str, port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def free_port(host: str) -> int:
    """A free port on ``host`` below the ephemeral range (else any free port the kernel gives)."""
    low, _ = ephemeral_range()
    if low - LOW >= 1000:
        rng = random.SystemRandom()
        for _ in range(64):
            port = rng.randrange(LOW, low)
            if port_free(host, port):
                return port
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]
