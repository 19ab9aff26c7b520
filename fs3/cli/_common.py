"""What the commands share: the cluster a command talks to, fs3 path arguments, output formatting."""

from __future__ import annotations

import json
import os
import stat as _stat
import sys
import time

import click

from fs3._errors import InvalidArgument
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


def emit_json(obj) -> None:
    click.echo(json.dumps(obj, indent=2, sort_keys=True, default=str))


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
    }


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
            label = {"hash": "hashing", "tokenize": "tokenizing"}.get(stage, stage)
            bar = self.bars[stage] = tqdm(total=total, desc=label, unit="doc", leave=True)
        bar.total = total
        bar.update(done - bar.n)

    def close(self) -> None:
        for bar in self.bars.values():
            bar.close()
