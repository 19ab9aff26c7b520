"""Running the transfers of `fs3 cp` and `fs3 sync`: many files in parallel behind one progress bar, a
failed file reported and the others carried on with, and the one-line summary at the end."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass, field

import click

from fs3._errors import describe

from ._common import progress_enabled
from ._copy_files import Copied, Stopped


@dataclass
class Tally:
    """What a run did, for the summary line and ``--json``."""

    files: int = 0
    bytes: int = 0
    resumed_bytes: int = 0
    links: int = 0
    dirs: int = 0
    unchanged: int = 0
    deleted: int = 0
    errors: list[str] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)

    def seconds(self) -> float:
        return max(time.monotonic() - self.started, 1e-9)

    def as_dict(self) -> dict:
        s = self.seconds()
        return {"files": self.files, "bytes": self.bytes, "resumed_bytes": self.resumed_bytes,
                "links": self.links, "dirs": self.dirs, "unchanged": self.unchanged, "deleted": self.deleted,
                "errors": list(self.errors), "seconds": round(s, 3), "mb_per_s": round(self.bytes / s / 1e6, 2)}

    def line(self, verb: str) -> str:
        s = self.seconds()
        parts = [f"{verb} {self.files} file{'s' * (self.files != 1)}, {_amount(self.bytes)} in {s:.2f} s "
                 f"({self.bytes / s / 1e6:.1f} MB/s)"]
        for n, what in ((self.resumed_bytes, "bytes resumed"), (self.links, "symlinks"), (self.dirs, "directories"),
                        (self.unchanged, "unchanged"), (self.deleted, "deleted"), (len(self.errors), "failed")):
            if n:
                parts.append(f"{n} {what}")
        return ", ".join(parts)


def _amount(n: int) -> str:
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} B"


def report(tally: Tally, command: str, verb: str, as_json: bool, quiet: bool) -> None:
    """The summary (stdout as JSON with ``--json``, else one line on stderr unless ``quiet``, or unless
    nothing was done but fail: the error lines say it all); exit 1 when some path failed."""
    if as_json:
        click.echo(json.dumps(tally.as_dict(), sort_keys=True))
    elif not quiet and not (tally.errors and not tally.files + tally.links + tally.deleted):
        click.echo(f"fs3: {command}: {tally.line(verb)}", err=True)
    if tally.errors:
        click.get_current_context().exit(1)


Job = Callable[[Callable[[int], None]], "Copied | None"]


def run_jobs(jobs: list[tuple[str, int, Job]], parallel: int, progress: bool | None, command: str,
             tally: Tally, stop: threading.Event) -> None:
    """Run each (kind, bytes, job): kind is "file" or "link". A job's OSError is reported on stderr at once
    and counted; Ctrl-C stops every transfer (their partials stay for ``--continue``)."""
    from tqdm import tqdm

    total = sum(size for _, size, _ in jobs)
    lock = threading.Lock()

    with tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, disable=not progress_enabled(progress),
              desc=command, dynamic_ncols=True, leave=False) as bar:
        def advance(n: int) -> None:
            with lock:
                bar.update(n)

        def one(kind: str, job: Job) -> None:
            try:
                copied = job(advance)
            except Stopped:
                return
            except OSError as exc:
                with lock:
                    tally.errors.append(describe(exc))
                    bar.clear()
                    click.echo(f"fs3: {command}: {describe(exc)}", err=True)
                return
            with lock:
                if kind == "link":
                    tally.links += 1
                else:
                    tally.files += 1
                if isinstance(copied, Copied):
                    tally.bytes += copied.bytes
                    tally.resumed_bytes += copied.resumed

        if parallel == 1 or len(jobs) <= 1:
            for kind, _, job in jobs:
                one(kind, job)
            return
        pool = ThreadPoolExecutor(parallel)
        try:
            futures = [pool.submit(one, kind, job) for kind, _, job in jobs]
            done, _ = wait(futures, return_when=FIRST_EXCEPTION)
            for f in done:
                f.result()  # a bug (not an OSError) surfaces here
        except BaseException:
            stop.set()
            pool.shutdown(wait=True, cancel_futures=True)
            raise
        pool.shutdown(wait=True)
