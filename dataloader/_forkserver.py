"""The fork server that DataLoader workers start from, and build workers when a fork of the caller is not
safe (fs3/_threads.py): a clean process (started by exec, never a fork of this one), so a process with
gRPC threads, an fs3 client or a Ray driver starts workers safely, each a fork of a server that already
imported what it needs."""

from __future__ import annotations

import multiprocessing
from multiprocessing import forkserver


def forkserver_context(*preload: str):
    """multiprocessing's forkserver context, with ``preload`` imported in the server once. Only a server
    not yet started takes the list; modules it already preloads stay. Started at once, so it imports them
    while the caller goes on."""
    modules = list(getattr(forkserver._forkserver, "_preload_modules", None) or ["__main__"])
    modules += [m for m in preload if m not in modules]
    forkserver.set_forkserver_preload(modules)
    forkserver.ensure_running()
    return multiprocessing.get_context("forkserver")
