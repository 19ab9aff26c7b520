"""What an ``etcd://`` KV URL says: the members, the file holding fs3's etcd credentials, and the key
prefix fs3 keeps its keys under.

    etcd://HOST:PORT[,HOST:PORT...][?credentials=FILE][&prefix=PREFIX]

``credentials=FILE``: one line ``USER:PASSWORD``, the etcd user meta authenticates as (etcd with
authentication on). The file must be readable by its owner only (mode 0600 or 0400): a password
readable by every local user protects nothing. The password itself never appears in the URL, so it is
neither on a command line (``ps``) nor in a log.

``prefix=PREFIX``: every key fs3 writes starts with it (e.g. ``fs3/``), so that fs3 can share an etcd
cluster with other programs and its etcd role can be limited to that prefix. The default, no prefix,
is what a dedicated cluster (``fs3 up --etcd N``, docker-compose.yml) uses.

Percent-encode ``&``, ``#`` and ``%`` in a file name or prefix.
"""

from __future__ import annotations

import os
import stat
import urllib.parse
from dataclasses import dataclass, field


@dataclass(frozen=True)
class EtcdCredentials:
    """An etcd user and its password, and the file they came from (for error messages)."""

    user: str
    password: str = field(repr=False)
    source: str = ""


@dataclass(frozen=True)
class EtcdURL:
    endpoints: list[str]
    credentials: str = ""      # path of the credentials file; "": no authentication
    prefix: bytes = b""


_OPTIONS = ("credentials", "prefix")


def parse_endpoints(url: str) -> list[str]:
    """The members an ``etcd://`` URL names (its options aside)."""
    return parse_url(url).endpoints


def parse_url(url: str) -> EtcdURL:
    rest = url[len("etcd://"):] if url.startswith("etcd://") else url
    hosts, _, query = rest.partition("?")
    endpoints = [e.strip() for e in hosts.strip("/").split(",") if e.strip()]
    for e in endpoints:
        host, sep, port = e.rpartition(":")
        if not sep or not host or not port.isdigit():
            raise ValueError(f"invalid etcd endpoint {e!r} in {url!r}: expected host:port")
    if not endpoints:
        raise ValueError(f"KV URL {url!r} names no etcd endpoint (expected etcd://host:port[,host:port...])")
    options: dict[str, str] = {}
    for item in query.split("&") if query else []:
        name, sep, value = item.partition("=")
        if name not in _OPTIONS or not sep:
            raise ValueError(f"unknown option {item!r} in KV URL {url!r}: expected credentials=FILE or prefix=PREFIX")
        if name in options:
            raise ValueError(f"option {name!r} given twice in KV URL {url!r}")
        options[name] = urllib.parse.unquote(value)
    if "credentials" in options and not options["credentials"]:
        raise ValueError(f"KV URL {url!r}: credentials= names no file")
    return EtcdURL(endpoints, options.get("credentials", ""), options.get("prefix", "").encode())


def read_credentials(path: str) -> EtcdCredentials:
    """The ``USER:PASSWORD`` line of a credentials file; ValueError, one line that says what to fix,
    when the file is missing, readable by others, or not of that form."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError as exc:
        raise ValueError(f"cannot read the etcd credentials file {path}: {exc.strerror}") from None
    try:
        mode = os.fstat(fd).st_mode  # of the file read, not of whatever the name meant a moment before
        if not stat.S_ISREG(mode):
            raise ValueError(f"the etcd credentials file {path} is not a regular file")
        if mode & 0o077:
            raise ValueError(f"the etcd credentials file {path} may be read by others (mode "
                             f"{stat.S_IMODE(mode):04o}): run `chmod 600 {path}`")
        data = os.read(fd, 64 * 1024)
    finally:
        os.close(fd)
    lines = [line.rstrip("\r") for line in data.decode("utf-8", errors="replace").split("\n") if line.strip()]
    user, sep, password = (lines[0] if lines else "").partition(":")
    if len(lines) != 1 or not sep or not user.strip() or not password:
        raise ValueError(f"the etcd credentials file {path} must hold one line USER:PASSWORD")
    return EtcdCredentials(user.strip(), password, path)
