"""The fork server that DataLoader workers start from, and build workers when a fork of the caller is not
safe (fs3/_threads.py): a clean process (started by exec, never a fork of this one), so a process with
gRPC threads, an fs3 client or a Ray driver starts workers safely, each a fork of a server that already
imported what it needs."""

from __future__ import annotations

import multiprocessing
import sys
from multiprocessing import forkserver

LOADER_PRELOAD = ("torch", "fs3.dataloader")  # what a TokenLoader's workers need before their first batch


def forkserver_context(*preload: str):
    """multiprocessing's forkserver context, with ``preload`` imported in the server once. Only a server
    not yet started takes the list; modules it already preloads stay. Started at once, so it imports them
    while the caller goes on.

    A process has one fork server, and its list is fixed when it starts: in a process that has imported
    torch, whoever starts it (a shard build, say) has it preload what a ``TokenLoader`` made later needs
    too, or every worker of that loader would import torch again (about a second each)."""
    if "torch" in sys.modules:
        preload += LOADER_PRELOAD
    modules = list(getattr(forkserver._forkserver, "_preload_modules", None) or ["__main__"])
    for m in preload:
        if m not in modules:
            modules.append(m)
    forkserver.set_forkserver_preload(modules)
    forkserver.ensure_running()
    return multiprocessing.get_context("forkserver")
