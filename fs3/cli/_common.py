"""What the commands share: the cluster a command talks to, fs3 path arguments, output formatting."""

from __future__ import annotations

import json
import math
import os
import stat as _stat
import sys
import time

import click

from fs3._errors import InvalidArgument, describe
from fs3._url import is_fs3_url, parse_url


class CliState:
    """Per-invocation state: the --cluster choice and the clients opened so far (one per address)."""

    def __init__(self, cluster: str | None, token: str | None = None):
        self.cluster = cluster
        self.token = token
        self._clients: dict[str | None, object] = {}

    def client(self, address: str | None = None):
        from fs3.client import connect

        key = address or self.cluster
        if key not in self._clients:
            self._clients[key] = connect(key, token=self.token)
        return self._clients[key]

    def close(self) -> None:
        for client in self._clients.values():
            client.close()
        self._clients.clear()


def state() -> CliState:
    return click.get_current_context().find_object(CliState)


def fs3_path(text: str) -> tuple[str | None, str]:
    """A path argument of a namespace command: ``fs3:///p``, ``fs3://HOST:PORT/p`` or plain ``/p``."""
    if is_fs3_url(text):
        url = parse_url(text)
        return url.address, url.path
    if text.startswith("/"):
        return None, text
    raise InvalidArgument(f"Invalid path {text!r}: use fs3:///path (or an absolute path like /path)")


def client_for(text: str):
    address, path = fs3_path(text)
    return state().client(address), path


def report(exc: BaseException) -> None:
    """Say on stderr why one operand failed, as the group says it for a whole command, when a command
    goes on with the rest (`rm a b` as coreutils: every failure reported, exit status 1 at the end)."""
    click.echo(f"fs3: {click.get_current_context().info_name}: {describe(exc)}", err=True)


def emit_json(obj) -> None:
    click.echo(json.dumps(obj, indent=2, sort_keys=True, default=str))


# -- numeric options --------------------------------------------------------------------------------
# Every number a command takes is checked as it is parsed: a mistake is one line on stderr and exit
# status 1 (InvalidArgument, reported by the group), never a traceback from deeper down (a protobuf
# uint32 refusing 99999999999999) nor a silent fallback (`--replicas 0` quietly meaning 3).

UINT32_MAX = (1 << 32) - 1
INT63_MAX = (1 << 63) - 1


class Number(click.ParamType):
    """A whole number (``kind=int``) or a finite real number (``float``) from ``low`` to ``high``."""

    def __init__(self, kind: type = int, low: float = 0, high: float | None = None, *, unit: str = "",
                 above: bool = False):
        self.kind, self.low, self.high, self.unit, self.above = kind, low, high, unit, above
        self.name = "integer" if kind is int else "float"

    def describe(self) -> str:
        what = ("a whole number" if self.kind is int else "a number") + (f" of {self.unit}" if self.unit else "")
        if self.above:
            return f"{what} above {self.low:g}" + (f" and at most {self.high:g}" if self.high is not None else "")
        if self.high is None:
            return f"{what} of at least {self.low:g}"
        return f"{what} from {self.low:g} to {self.high:g}" if self.kind is float else f"{what} from {self.low} to {self.high}"

    def convert(self, value, param, ctx):
        if isinstance(value, self.kind) and not isinstance(value, bool) and self._fits(value):
            return value
        n = self._parse(value)
        if n is None or not self._fits(n):
            raise InvalidArgument(f"Invalid {option_name(param)} {str(value)!r}: expected {self.describe()}")
        return n

    def _parse(self, value):
        try:
            n = self.kind(str(value).strip())
        except (TypeError, ValueError, OverflowError):
            return None
        return n if self.kind is int or math.isfinite(n) else None

    def _fits(self, n) -> bool:
        return (n > self.low if self.above else n >= self.low) and (self.high is None or n <= self.high)


def option_name(param) -> str:
    """How the user spelled the parameter: its longest flag, or an argument's metavar."""
    if param is None:
        return "value"
    if isinstance(param, click.Option):
        return max(param.opts, key=len)
    return (param.metavar or param.name or "argument").upper()


COUNT = Number(int, 1, INT63_MAX)               # how many of something, at least one
NATURAL = Number(int, 0, INT63_MAX)             # a count where 0 means none, or "the default"
ID32 = Number(int, 0, UINT32_MAX)               # a uid, gid, target or chain id (uint32 on the wire)
USER_ID = Number(int, 0, UINT32_MAX - 1)        # a uid or gid: (uint32)-1 means "unchanged" to chown
SECONDS = Number(float, 0, 1e9, unit="seconds")
_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40, "P": 1 << 50}


def parse_size(text, *, allow_zero: bool = False) -> int:
    """Bytes from ``10G``, ``1.5M``, ``4096`` or ``64KiB`` (powers of 1024); InvalidArgument for anything
    else, for a size that is not finite or beyond 2**63, and for 0 unless ``allow_zero``."""
    t = str(text).strip().upper().removesuffix("IB").removesuffix("B")
    unit = t[-1:] if t[-1:] in _UNITS else ""
    try:
        value = float(t[: len(t) - len(unit)])
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or not 0 <= value * _UNITS[unit] <= INT63_MAX:
        raise InvalidArgument(f"Invalid size {str(text)!r}: expected a number with an optional K, M, G, T or P")
    if value == 0 and not allow_zero or value < 0:
        raise InvalidArgument(f"Invalid size {str(text)!r}: must be positive")
    return int(value * _UNITS[unit])


class Size(click.ParamType):
    """A size option (``--bytes 10G``), checked by ``parse_size``."""

    name = "size"

    def __init__(self, *, allow_zero: bool = False):
        self.allow_zero = allow_zero

    def convert(self, value, param, ctx):
        if isinstance(value, int) and not isinstance(value, bool) and (value > 0 or self.allow_zero and value == 0):
            return value
        try:
            return parse_size(value, allow_zero=self.allow_zero)
        except InvalidArgument as exc:
            raise InvalidArgument(f"{option_name(param)}: {exc.strerror}") from None


def bound_numeric_options(command: click.Command) -> None:
    """The floor under every command, present and future: a numeric option or argument declared with
    click's plain ``int`` or ``float`` (no range of its own) takes ``NATURAL`` or a finite float of at
    least 0 instead: no fs3 command means anything by a negative number, an int beyond 63 bits, NaN or
    infinity. Options that need more (at least 1, at most 64) declare their own ``Number``."""
    for param in command.params:
        t = param.type
        if type(t) is click.types.IntParamType:
            param.type = NATURAL
        elif type(t) is click.types.FloatParamType:
            param.type = Number(float, 0, 1e15)
        elif isinstance(t, click.types._NumberRangeBase) and not t.clamp:  # click's ranges let NaN through
            kind = int if isinstance(t, click.IntRange) else float
            low = t.min if t.min is not None else (0 if kind is int else 0.0)
            high = t.max if t.max is not None else (INT63_MAX if kind is int else 1e15)
            if kind is int and t.min_open:
                low += 1
            if kind is int and t.max_open:
                high -= 1
            param.type = Number(kind, low, high, above=kind is float and t.min_open)
    for sub in getattr(command, "commands", {}).values():
        bound_numeric_options(sub)


# Commands with a coreutils `-h` (human-readable sizes) keep only `--help` as their help option.
HUMAN_H = {"help_option_names": ["--help"]}


def human_size(n: float) -> str:
    for unit in ("B", "K", "M", "G", "T", "P"):
        if abs(n) < 1024 or unit == "P":
            return f"{n:.0f}{unit}" if unit == "B" else f"{n:.1f}{unit}"
        n /= 1024
    raise AssertionError("unreachable")


def mode_string(kind: str, mode: int) -> str:
    bits = {"file": _stat.S_IFREG, "directory": _stat.S_IFDIR, "symlink": _stat.S_IFLNK, "fifo": _stat.S_IFIFO,
            "char_device": _stat.S_IFCHR, "block_device": _stat.S_IFBLK, "socket": _stat.S_IFSOCK}.get(kind, 0)
    return _stat.filemode(bits | mode)


def format_time(ns: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(ns / 1e9)) if ns else "-"


def stat_dict(st) -> dict:
    return {
        "path": st.path, "name": st.name, "type": st.type, "size": st.size, "mode": oct(st.mode),
        "inode": st.inode, "nlink": st.nlink, "uid": st.uid, "gid": st.gid,
        "mtime_ns": st.mtime_ns, "ctime_ns": st.ctime_ns, "atime_ns": st.atime_ns,
        "chunk_size": st.chunk_size, "stripe": st.stripe, "chains": list(st.chains),
    } | ({"symlink_target": st.symlink_target} if st.type == "symlink" else {})


INTERRUPT_GRACE = 20.0  # seconds a command may spend cleaning up after Ctrl-C before it just exits


def exit_soon_after_interrupt(grace: float = INTERRUPT_GRACE) -> None:
    """Ctrl-C ends this command within ``grace`` seconds whatever its cleanup waits on (a transfer still
    in flight, a read of standard input that never ends): the cleanup gets that long, then the process
    exits with status 130. What was acknowledged stays; partial copies stay for `--continue`."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        return

    def interrupted(_signum, _frame):
        def give_up() -> None:
            sys.stderr.write("fs3: interrupted\n")
            sys.stderr.flush()
            os._exit(130)

        timer = threading.Timer(grace, give_up)
        timer.daemon = True
        timer.start()
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, interrupted)


def progress_enabled(flag: bool | None) -> bool:
    return sys.stderr.isatty() if flag is None else flag


def table(rows: list[list[str]], headers: list[str]) -> str:
    widths = [max(len(str(x)) for x in col) for col in zip(headers, *rows, strict=True)]
    lines = ["  ".join(str(h).ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    for row in rows:
        lines.append("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
    return "\n".join(lines)


def export_cluster() -> None:
    """The data loader connects by itself (fs3:/// URLs): hand it this invocation's --cluster/--token."""
    st = state()
    if st.cluster:
        os.environ["FS3_CLUSTER"] = st.cluster
    if st.token:
        os.environ["FS3_TOKEN"] = st.token


BYTE_STAGES = ("hash", "shingles", "tokenize")  # stages of a shard build counted in input bytes


class ProgressBars:
    """tqdm bars per stage of a long job (hashing, tokenizing...), fed by the library's progress callback."""

    def __init__(self, enabled: bool):
        self.enabled = enabled
        self.bars = {}

    def __call__(self, stage: str, done: int, total: int | None) -> None:
        if not self.enabled:
            return
        from tqdm import tqdm
        bar = self.bars.get(stage)
        if bar is None:
            label = {"hash": "hashing", "exact": "exact duplicates", "bands": "LSH bands", "shingles": "shingling",
                     "tokenize": "tokenizing", "compare": "comparing"}.get(stage, stage)
            if stage in BYTE_STAGES:  # input bytes: the rate in MB/s, and an ETA
                bar = self.bars[stage] = tqdm(total=total, desc=label, unit="B", unit_scale=True,
                                              unit_divisor=1024, leave=True)
            else:
                bar = self.bars[stage] = tqdm(total=total, desc=label, unit="doc", leave=True)
        bar.total = total
        bar.update(done - bar.n)

    def close(self) -> None:
        for bar in self.bars.values():
            bar.close()
