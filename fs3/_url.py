"""fs3 URLs: ``fs3:///path`` (the default cluster) and ``fs3://HOST:PORT/path`` (a named meta server)."""

from __future__ import annotations

from dataclasses import dataclass

from ._errors import InvalidArgument

SCHEME = "fs3://"


@dataclass(frozen=True)
class FS3Url:
    address: str | None  # "host:port" of a meta server, or None for the default cluster
    path: str            # absolute path inside fs3 ("/" for the root)

    def __str__(self) -> str:
        return f"{SCHEME}{self.address or ''}{self.path}"


def is_fs3_url(text: str) -> bool:
    return text.startswith(SCHEME)


def parse_url(text: str) -> FS3Url:
    """Parse ``fs3://[HOST:PORT]/path``; the path keeps its spelling (validated by whoever uses it)."""
    if not is_fs3_url(text):
        raise InvalidArgument(f"Not an fs3 URL (expected fs3:///path or fs3://HOST:PORT/path): {text!r}")
    rest = text[len(SCHEME):]
    slash = rest.find("/")
    host, path = (rest, "/") if slash < 0 else (rest[:slash], rest[slash:])
    if host and (":" not in host or not host.rsplit(":", 1)[1].isdigit()):
        raise InvalidArgument(f"Invalid fs3 URL {text!r}: the host part must be HOST:PORT")
    return FS3Url(host or None, path)
