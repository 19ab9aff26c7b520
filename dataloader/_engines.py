"""Where a build's part tasks run: ``local`` (worker processes on this machine, or this process for one)
or ``ray`` (tasks on a Ray cluster: ``pip install 'fs3[ray]'``; an existing one at ``ray_address``, else
one started here for the build). Both give results in the order of the tasks, with a bounded number in
flight, and a task's error raised in this process; the output does not depend on the engine."""

from __future__ import annotations

import multiprocessing
from collections import deque
from collections.abc import Iterable, Iterator

from fs3._errors import InvalidArgument
from fs3._threads import fork_is_safe

from . import _files
from ._build_tasks import TASKS, BuildContext
from ._forkserver import forkserver_context

DEPTH = 2  # tasks per worker handed out and not yet taken back

_context: BuildContext | None = None


def _init(ctx: BuildContext, env: dict[str, str]) -> None:
    global _context
    _files.adopt_environment(env)
    _context = ctx


def _call(name: str, task):
    return TASKS[name](_context, task)


def _ordered(submit, tasks: Iterable, depth: int) -> Iterator:
    pending: deque = deque()
    for task in tasks:
        pending.append(submit(task))
        if len(pending) >= depth:
            yield pending.popleft()
    yield from pending


class LocalEngine:
    name = "local"

    def __init__(self, ctx: BuildContext, processes: int):
        self.ctx, self.processes, self.pool = ctx, processes, None
        self.width = processes  # tasks it runs at once
        if processes > 1:
            # A fork of this process only while no other thread could hold a lock the copy would keep
            # (fs3/_threads.py: an fs3 client anywhere in it, the caller's own too, or Ray's threads);
            # else workers forked from a fork server
            mp = multiprocessing.get_context("fork") if fork_is_safe() else \
                forkserver_context("fs3.dataloader._build_tasks")
            self.pool = mp.Pool(processes, initializer=_init, initargs=(ctx, _files.fs3_environment()))

    def map(self, fn, tasks: Iterable) -> Iterator:
        if self.pool is None:
            yield from (fn(self.ctx, t) for t in tasks)
            return
        for result in _ordered(lambda t: self.pool.apply_async(_call, (fn.__name__, t)), tasks,
                               DEPTH * self.processes):
            yield result.get()

    def close(self) -> None:
        if self.pool is not None:
            self.pool.terminate()
            self.pool.join()


def _ray_task(name: str, ctx: BuildContext, env: dict[str, str], task):
    _files.adopt_environment(env)
    return TASKS[name](ctx, task)


class RayEngine:
    name = "ray"

    def __init__(self, ctx: BuildContext, processes: int, address: str | None):
        try:
            import ray
        except ImportError:
            raise InvalidArgument("--engine ray needs Ray: pip install 'fs3[ray]'") from None
        self.ray = ray
        self.started = not ray.is_initialized()
        if self.started and address:
            _probe(address)
        if self.started:
            # without an address, always a new local instance ("local"), whatever cluster ran here before
            kwargs = {"address": address} if address else {"address": "local", "num_cpus": processes}
            try:
                ray.init(include_dashboard=False, log_to_driver=False, configure_logging=False, **kwargs)
            except (ConnectionError, RuntimeError) as exc:
                raise InvalidArgument(
                    f"could not join the Ray cluster at {address}: {str(exc).strip().splitlines()[-1]} (a "
                    "cluster with token authentication, the default since Ray 2.59, needs RAY_AUTH_MODE=token "
                    "here and its token in ~/.ray/auth_token or RAY_AUTH_TOKEN)") from None
        self.width = max(1, int(ray.cluster_resources().get("CPU", processes)))
        self.ctx_ref = ray.put(ctx)
        self.env = _files.fs3_environment()
        self.remote = ray.remote(num_cpus=1, max_retries=2)(_ray_task)

    def map(self, fn, tasks: Iterable) -> Iterator:
        for ref in _ordered(lambda t: self.remote.remote(fn.__name__, self.ctx_ref, self.env, t), tasks,
                            DEPTH * self.width):
            yield self.ray.get(ref)

    def close(self) -> None:
        if self.started:
            self.ray.shutdown()


def _probe(address: str) -> None:
    """A clear error at once for a Ray address nothing answers at (Ray itself retries for minutes)."""
    import socket

    hostport = address.split("://", 1)[-1]
    host, _, port = hostport.rpartition(":")
    if not host or not port.isdigit():
        return  # "auto" and other forms Ray resolves itself
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=5).close()
    except OSError as exc:
        raise InvalidArgument(f"no Ray cluster answers at {address} ({exc.strerror or exc}); start one with "
                              "`ray start --head`, or leave out --ray-address to start one for the build") from None


def make_engine(name: str, ctx: BuildContext, processes: int, address: str | None):
    if name == "local":
        if address:
            raise InvalidArgument("--ray-address goes with --engine ray")
        return LocalEngine(ctx, processes)
    if name == "ray":
        return RayEngine(ctx, processes, address)
    raise InvalidArgument(f"engine must be 'local' or 'ray', not {name!r}")
