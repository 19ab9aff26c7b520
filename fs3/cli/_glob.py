"""Wildcards in fs3 path arguments: ``fs3:///x/*.bin``, ``?``, ``[...]`` (``[!...]``), as a shell with
``failglob`` expands them. The shell cannot: it does not see fs3's namespace, so a quoted pattern reaches
the command, which expands it here, one path component at a time (one directory listing per directory
a wildcard reaches). Names starting with ``.`` match only a pattern component that starts with ``.``."""

from __future__ import annotations

from fnmatch import fnmatchcase

from fs3._errors import NotFound
from fs3._url import is_fs3_url, parse_url

_MAGIC = frozenset("*?[")


def has_magic(text: str) -> bool:
    """Whether a path (or one component) holds a wildcard."""
    return not _MAGIC.isdisjoint(text)


def _split(text: str) -> tuple[str, str]:
    """(the URL prefix a result keeps, the absolute fs3 path): ``fs3://h:1/a/*`` -> (``fs3://h:1``, ``/a/*``)."""
    if not is_fs3_url(text):
        return "", text
    path = parse_url(text).path
    return (text[: len(text) - len(path)], path) if text.endswith(path) else (text, "/")


def match(client, pattern: str) -> list[str]:
    """The fs3 paths that ``pattern`` (absolute, wildcards anywhere but in a parent of ``/``) names,
    in name order; [] when none. A component without wildcards is taken as written, and a result
    whose later literal components do not exist is dropped (as a shell drops it)."""
    parts = [p for p in pattern.split("/") if p]
    found = ["/"]
    literal_tail = False
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        if not has_magic(part):
            found = [d.rstrip("/") + "/" + part for d in found]
            literal_tail = True
            continue
        if literal_tail:  # a wildcard below literal names: keep the parents that exist
            found = _existing(client, found)
            literal_tail = False
        nxt: list[str] = []
        for d in found:
            try:
                entries = list(client.iterdir(d, detail=True))
            except (NotADirectoryError, FileNotFoundError, PermissionError):
                continue  # a file, or a directory we may not read, matches nothing below it
            for e in entries:
                if not fnmatchcase(e.name, part) or e.name.startswith(".") and not part.startswith("."):
                    continue
                if last or e.is_dir or e.type == "symlink":
                    nxt.append(d.rstrip("/") + "/" + e.name)
        found = nxt
    if literal_tail:
        found = _existing(client, found)
    return found


def _existing(client, paths: list[str]) -> list[str]:
    if not paths:
        return []
    stats = client.stat_many(paths, follow_symlinks=False)
    return [p for p, st in zip(paths, stats, strict=True) if not isinstance(st, BaseException)]


def expand_one(text: str, client_for) -> list[str]:
    """One path argument with its wildcards expanded, each result spelled as the argument was (URL or
    plain path). ``client_for(text)`` gives (client, path). A pattern that matches nothing is an error
    (NotFound: "No match: PATTERN"), unless a file is literally called so (``a[1]``): then that file."""
    prefix, path = _split(text)
    if not has_magic(path):
        return [text]
    client, _ = client_for(text)
    found = match(client, path)
    if not found:
        try:
            client.lstat(path)
        except FileNotFoundError:
            raise NotFound(f"No match: {text}") from None
        found = [path]
    return [prefix + p for p in found]


def expand(texts, client_for) -> list[str]:
    """Path arguments with their wildcards expanded, in argument order (see ``expand_one``)."""
    return [out for text in texts for out in expand_one(text, client_for)]


class Operands:
    """The paths that ``patterns`` name, each as (its text, its client, its lstat), for commands that walk
    them (du, find): what cannot be expanded or stated is reported (``report(exc)``) and skipped, and
    ``failed`` says so afterwards (such commands exit 1 after doing the rest, as coreutils do)."""

    def __init__(self, patterns, client_for, report):
        self.patterns, self.client_for, self.report = patterns, client_for, report
        self.failed = False

    def __iter__(self):
        for pattern in self.patterns:
            try:
                texts = expand_one(pattern, self.client_for)
            except OSError as exc:
                self.report(exc)
                self.failed = True
                continue
            for text in texts:
                try:
                    client, path = self.client_for(text)
                    top = client.lstat(path)
                except BrokenPipeError:
                    raise
                except OSError as exc:
                    self.report(exc)
                    self.failed = True
                    continue
                yield text, client, top
