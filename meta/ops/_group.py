"""Group commits and storage calls: meta's call server commits the mutations that arrive together in
one transaction, and an operation that would call storage nodes inside such a group must leave it
(a network round trip under the store's write lock would stall every other call)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

_storage_calls = threading.local()


class MustLeaveGroup(BaseException):  # noqa: N818 - not an error: a request to run elsewhere
    """Raised by an operation that would call storage nodes while it runs inside a group of calls
    committed together (meta's call server): the server undoes the call and runs it on a thread
    of its own. A BaseException, so that no error handler on the way mistakes it for a failure."""


@contextmanager
def no_storage_calls() -> Iterator[None]:
    """Operations in this block that would call storage nodes raise ``MustLeaveGroup`` instead."""
    _storage_calls.refused = True
    try:
        yield
    finally:
        _storage_calls.refused = False


def storage_calls_refused() -> bool:
    """Whether this thread runs inside a group commit (see ``no_storage_calls``)."""
    return getattr(_storage_calls, "refused", False)
