"""Where shards and inputs live: a local directory or fs3 (``fs3:///path``, ``fs3://HOST:PORT/path``).
One fs3 client per process and cluster, made on first use, so datasets survive pickling into
DataLoader workers and forked builder processes."""

from __future__ import annotations

import fnmatch
import os
import threading
from pathlib import Path

from fs3._errors import FS3Error
from fs3._url import is_fs3_url, parse_url

_clients: dict[tuple[int, str | None], object] = {}
_lock = threading.Lock()


def fs3_client(address: str | None, retry_timeout: float | None = None, *, wait_out: bool = False):
    """This process's client for the cluster at ``address`` (None: the default cluster); with
    ``retry_timeout`` (a dataset's), its calls wait out outages that long from here on. ``wait_out``:
    the cluster is known to exist (a worker reading a dataset its parent opened), so an unreachable
    meta server is an outage to wait out while connecting too."""
    key = (os.getpid(), address)
    with _lock:
        client = _clients.get(key)
        if client is None:
            from fs3.client import connect
            client = _clients[key] = connect(address, retry_timeout=retry_timeout, wait_out=wait_out)
        elif retry_timeout is not None and client.retry_timeout != retry_timeout:
            client.retry_timeout = retry_timeout
        return client


def fs3_environment() -> dict[str, str]:
    """This process's ``FS3_*`` settings (cluster, token, CA, retry timeout, state directory)."""
    return {k: v for k, v in os.environ.items() if k.startswith("FS3_")}


def adopt_environment(env: dict[str, str]) -> None:
    """Take on the ``FS3_*`` settings of the process that sent us a dataset. A forkserver worker is
    forked from a server started long before, and would otherwise see that moment's settings (another
    cluster, an old token) instead of its parent's now."""
    for key in [k for k in os.environ if k.startswith("FS3_") and k not in env]:
        del os.environ[key]
    os.environ.update(env)


def join(base: str, name: str) -> str:
    return base.rstrip("/") + "/" + name


def list_files(url: str, pattern: str | None = None) -> list[str]:
    """The files at ``url``: itself when it is a file, else every file below it (sorted, recursively)
    whose name matches ``pattern``."""
    if is_fs3_url(url):
        u = parse_url(url)
        client = fs3_client(u.address)
        st = client.stat(u.path)
        prefix = url[: len(url) - len(u.path)]
        if not st.is_dir:
            return [url]
        out = []
        for top, _dirs, files in client.walk(u.path):
            out += [prefix + join(top, f) for f in files if pattern is None or fnmatch.fnmatch(f, pattern)]
        return sorted(out)
    p = Path(url)
    if not p.exists():
        raise FileNotFoundError(2, "No such file or directory", url)
    if p.is_file():
        return [url]
    return sorted(str(f) for f in p.rglob(pattern or "*")
                  if f.is_file() and "__pycache__" not in f.parts)


def read_bytes(url: str) -> bytes:
    if is_fs3_url(url):
        u = parse_url(url)
        return fs3_client(u.address).read(u.path)
    return Path(url).read_bytes()


def open_read(url: str):
    """A buffered binary file object reading ``url`` in pieces (lines, seeks), local or on fs3."""
    if is_fs3_url(url):
        u = parse_url(url)
        return fs3_client(u.address).open(u.path, "rb")
    return open(url, "rb")


def write_atomic(url: str, data: bytes) -> None:
    """``url`` holds ``data`` whole, or what it held before: written under a temporary name, renamed."""
    tmp = url + ".partial"
    with open_write(tmp) as f:
        f.write(data)
    if is_fs3_url(url):
        u, t = parse_url(url), parse_url(tmp)
        fs3_client(u.address).rename(t.path, u.path)
    else:
        os.replace(tmp, url)


def file_size(url: str) -> int:
    if is_fs3_url(url):
        u = parse_url(url)
        return fs3_client(u.address).stat(u.path).size
    return os.path.getsize(url)


def make_dirs(url: str) -> None:
    if is_fs3_url(url):
        u = parse_url(url)
        fs3_client(u.address).mkdir(u.path, parents=True)
    else:
        os.makedirs(url, exist_ok=True)


def open_write(url: str):
    """A binary file object writing ``url`` from the start (created or truncated)."""
    if is_fs3_url(url):
        u = parse_url(url)
        return fs3_client(u.address).open(u.path, "wb")
    return open(url, "wb")


def exists(url: str) -> bool:
    if is_fs3_url(url):
        u = parse_url(url)
        return fs3_client(u.address).exists(u.path)
    return os.path.exists(url)


def remove_tree(url: str) -> None:
    if is_fs3_url(url):
        u = parse_url(url)
        fs3_client(u.address).remove(u.path, recursive=True)
    else:
        import shutil
        shutil.rmtree(url)


class RangeReader:
    """Batched reads of byte ranges from a fixed list of files into one caller buffer."""

    def __init__(self, urls: list[str]):
        self.urls = list(urls)
        self._fds: list[int] | None = None
        self._pid = None
        self.retry_timeout: float | None = None  # fs3: how long reads wait out an outage (None: the client's)
        fs3 = [is_fs3_url(u) for u in self.urls]
        if any(fs3) and not all(fs3):
            raise FS3Error("a shard set lives either on fs3 or locally, not both")
        self.remote = bool(fs3) and fs3[0]
        if self.remote:
            self._address = parse_url(self.urls[0]).address
            self._paths = [parse_url(u).path for u in self.urls]

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_fds"] = None
        state["_stats"] = None
        if self.remote:
            state["_env"] = (os.getpid(), fs3_environment())
        return state

    def __setstate__(self, state):
        sender, env = state.pop("_env", (None, None))
        self.__dict__.update(state)
        if env is not None and sender != os.getpid():
            adopt_environment(env)

    def read(self, ranges: list[tuple[int, int, int]], out) -> None:
        """Fill ``out`` (a writable buffer) with the ranges ``(file index, offset, length)`` back to back."""
        if self.remote:
            self._read_remote(ranges, out)
        else:
            self._read_local(ranges, out)

    def _read_remote(self, ranges, out) -> None:
        client = fs3_client(self._address, self.retry_timeout, wait_out=True)
        if self._pid != os.getpid():
            stats = client.stat_many(self._paths)  # resolved once per process, reused per batch
            for st in stats:
                if isinstance(st, BaseException):
                    raise st
            self._stats = stats
            self._pid = os.getpid()
        reqs = [(self._stats[i], off, n) for i, off, n in ranges]
        got = client.read_batch(reqs, out)
        short = [r for r, g in zip(ranges, got, strict=True) if g != r[2]]
        if short:
            i, off, n = short[0]
            raise FS3Error(f"shard {self.urls[i]} is shorter than its manifest says "
                           f"(read of {n} bytes at {off})")

    def _read_local(self, ranges, out) -> None:
        if self._fds is None or self._pid != os.getpid():
            self._fds = [os.open(u, os.O_RDONLY) for u in self.urls]
            self._pid = os.getpid()
        view = memoryview(out).cast("B")
        pos = 0
        for i, off, n in ranges:
            got = os.preadv(self._fds[i], [view[pos:pos + n]], off)
            if got != n:
                raise FS3Error(f"shard {self.urls[i]} is shorter than its manifest says")
            pos += n

    def close(self) -> None:
        if self._fds and self._pid == os.getpid():
            for fd in self._fds:
                os.close(fd)
        self._fds = None
