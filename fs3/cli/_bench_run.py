"""What every `fs3 bench` command shares about running: SIGINT and SIGTERM take the same way out as a
Ctrl-C, through every ``finally`` that stops a cluster, unmounts a mount or removes a temporary
directory; progress lines on stderr; a temporary directory that goes with the command."""

from __future__ import annotations

import contextlib
import math
import shutil
import signal
import tempfile
from pathlib import Path

import click

from fs3._errors import InvalidArgument
from fs3.bench import baseline

_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interrupted(KeyboardInterrupt):
    """The bench was asked to stop by a signal: raised where the main thread is, so every cleanup
    block on the way out runs, as for a Ctrl-C."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


class BenchGroup(click.Group):
    """The `fs3 bench` group: while a bench runs, SIGINT and SIGTERM raise ``Interrupted`` in the main
    thread (once: a second signal during the cleanup is ignored, so the cleanup finishes), and the
    command then exits 128 + the signal's number with one line on stderr."""

    def invoke(self, ctx: click.Context):
        received: list[int] = []

        def handler(signum, _frame) -> None:
            if received:
                return  # already on the way out: let the cleanup finish
            received.append(signum)
            baseline.halt()  # reading threads elsewhere than the main thread end too
            loop = _running_loop()
            if loop is None:
                raise Interrupted(signum)
            # Inside an event loop the handler may run within a protocol's callback, where uvloop turns
            # any exception into a transport error and the interrupt would be lost: raise it from a
            # callback of its own instead, which the loop lets out of run_forever.
            loop.call_soon_threadsafe(_interrupt, signum)

        previous = {sig: signal.signal(sig, handler) for sig in _SIGNALS}
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            signum = received[0] if received else signal.SIGINT
            click.echo(f"fs3: bench: interrupted ({signal.Signals(signum).name}); stopped what it had started",
                       err=True)
            ctx.exit(128 + signum)
        finally:
            for sig, old in previous.items():
                signal.signal(sig, old)


def _running_loop():
    import asyncio

    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def _interrupt(signum: int) -> None:
    raise Interrupted(signum)


def positive(name: str, value: float, *, integer: bool = False) -> None:
    """A numeric option that must be a positive (finite) number: one clear line otherwise."""
    if not math.isfinite(value) or value <= 0 or (integer and value != int(value)):
        raise InvalidArgument(f"Invalid argument: {name} must be a positive {'integer' if integer else 'number'}, "
                              f"not {value:g}")


def sayer(quiet: bool):
    """Progress lines on stderr, as each step starts or each result comes (none with ``quiet``)."""
    if quiet:
        return lambda _m: None
    return lambda m: click.echo(f"  {m}", err=True)


@contextlib.contextmanager
def temporary_dir(prefix: str, given: Path | None = None):
    """``given``, or a fresh temporary directory removed (with all in it) when the block ends, however
    it ends."""
    if given is not None:
        yield Path(given)
        return
    from fs3.bench import mounted_under, unmount

    path = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield path
    finally:
        # never remove through a mount still there (that would remove fs3's files): unmount, or keep it
        if all(unmount(point) for point in mounted_under(path)):
            shutil.rmtree(path, ignore_errors=True)
