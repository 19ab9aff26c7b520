"""The threads of this process that a fork cannot copy safely.

A forked child has only the forking thread; a lock another thread held at that moment stays held in the
child forever. gRPC's own threads (named in /proc) hold theirs often, and the child of a process with
open grpc.aio channels hangs or crashes at its first call; a Python thread may hold anything. Idle
native pools that guard their forks themselves (OpenBLAS's, started when numpy is imported) do not count.
"""

from __future__ import annotations

import os
import threading

# gRPC's threads, by their names in /proc: they wind down a little after the last channel closes
GRPC_THREADS = ("event_engine", "grpc", "lifeguard", "default-executo", "resolver-execut", "timer_manager")


def grpc_threads() -> int:
    """How many of gRPC's threads this process runs (0 without /proc: none that can be seen)."""
    n = 0
    try:
        tasks = os.listdir("/proc/self/task")
    except OSError:
        return 0
    for task in tasks:
        try:
            with open(f"/proc/self/task/{task}/comm") as f:
                n += f.read().startswith(GRPC_THREADS)
        except OSError:
            pass
    return n


def fork_is_safe() -> bool:
    """Whether a plain fork copies this process safely: no Python thread but this one, no gRPC thread."""
    return threading.active_count() == 1 and grpc_threads() == 0
