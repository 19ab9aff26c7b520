"""Forking a process that holds fs3 clients (a DataLoader's workers, multiprocessing's fork context).

gRPC cannot cross a fork: the child of a process with open grpc.aio channels crashes or hangs as soon
as it opens channels of its own. So before a fork each sync client of the process closes its meta
connections and holds its event loop still until the fork is over; the parent opens them again on its
next call, and the child, which has none of the parent's threads, connects afresh (``fs3.connect()``
there). A client a child inherited refuses to be used in it.
An ``AsyncClient`` on the caller's own event loop is not held: fork before it connects, or use spawn.
"""

from __future__ import annotations

import os
import threading
import time
import weakref

from fs3._threads import grpc_threads

HOLD_TIMEOUT = 5.0      # how long a fork waits for a busy client's loop to close its channels
RESUME_TIMEOUT = 60.0   # a held loop resumes by itself after this (the fork hook always releases it first)
STEADY = 0.5            # gRPC threads unchanged this long are not ours winding down

_clients: weakref.WeakSet = weakref.WeakSet()  # the sync clients of this process
_held: list[threading.Event] = []


def track(client) -> None:
    """Hold ``client`` (an fs3 ``Client``) through every fork of this process from now on."""
    _clients.add(client)


async def _drop_grpc(meta) -> None:
    """Close a meta connection's channels and forget them (gRPC quiesces only once no channel object is
    left); its next call opens new ones. Not reopened at once: a DataLoader forks its workers one after
    another, and a channel opened between two forks would be open at the second."""
    for _ in range(3):  # a call that failed over while they closed may have made one anew
        for address, ch in list(meta._channels.items()):
            del meta._channels[address]
            ch.dropped = True  # a call in flight on it is repeated on a new channel, not failed
            if ch.calls is not None:
                ch.calls.close()
            await ch.channel.close(None)
        if not meta._channels:
            break


def _hold(client) -> threading.Event | None:
    """Have ``client``'s loop thread close its gRPC channels and then wait for the returned event."""
    looper = client._loop
    if looper.loop.is_closed() or threading.current_thread() is looper._thread:
        return None
    meta = client._async._meta
    ready, resume = threading.Event(), threading.Event()

    async def hold() -> None:
        try:
            await _drop_grpc(meta)
        finally:
            ready.set()
        resume.wait(RESUME_TIMEOUT)  # the loop thread sleeps through the fork: no gRPC call starts

    looper.loop.call_soon_threadsafe(lambda: looper.loop.create_task(hold()))
    ready.wait(HOLD_TIMEOUT)
    return resume


def _before_fork() -> None:
    for client in list(_clients):
        try:
            resume = _hold(client)
        except RuntimeError:  # its loop closed meanwhile
            continue
        if resume is not None:
            _held.append(resume)
    if _held:  # until gRPC's threads are gone, or stay (channels of someone else's: nothing to wait for)
        deadline, settled = time.monotonic() + HOLD_TIMEOUT, time.monotonic() + STEADY
        last = grpc_threads()
        while last and time.monotonic() < min(deadline, settled):
            time.sleep(0.002)
            now = grpc_threads()
            if now != last:
                last, settled = now, time.monotonic() + STEADY


def _after_fork_in_parent() -> None:
    while _held:
        _held.pop().set()


def _after_fork_in_child() -> None:
    _held.clear()  # the held loop threads are not in this process
    _clients.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(before=_before_fork, after_in_parent=_after_fork_in_parent,
                        after_in_child=_after_fork_in_child)
