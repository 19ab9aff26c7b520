"""The gRPC boundary: fs3 errors travel as a status code in trailing metadata and come back as the same
exception class. Servers wrap every method with ``servicer_method``; clients call through ``call``.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterable
from typing import Any

import grpc

from ._errors import FS3Error, Status, Unreachable, error_for

log = logging.getLogger(__name__)

STATUS_KEY = "fs3-status"
PATH_KEY = "fs3-path-bin"
MAX_MESSAGE = 256 << 20

CHANNEL_OPTIONS = [
    ("grpc.max_send_message_length", MAX_MESSAGE),
    ("grpc.max_receive_message_length", MAX_MESSAGE),
    ("grpc.enable_retries", 0),
]
SERVER_OPTIONS = CHANNEL_OPTIONS + [("grpc.so_reuseport", 0)]

_GRPC_CODE = {
    Status.INVALID_ARGUMENT: grpc.StatusCode.INVALID_ARGUMENT,
    Status.NAME_TOO_LONG: grpc.StatusCode.INVALID_ARGUMENT,
    Status.PERMISSION_DENIED: grpc.StatusCode.PERMISSION_DENIED,
    Status.UNAVAILABLE: grpc.StatusCode.UNAVAILABLE,
    Status.NOT_FOUND: grpc.StatusCode.NOT_FOUND,
    Status.EXISTS: grpc.StatusCode.ALREADY_EXISTS,
    Status.CHECKSUM_MISMATCH: grpc.StatusCode.DATA_LOSS,
    Status.NO_SPACE: grpc.StatusCode.RESOURCE_EXHAUSTED,
}


def servicer_method(fn: Callable) -> Callable:
    """Translate what a servicer method raises into a gRPC status the client can map back. Unexpected
    exceptions are logged with their traceback and answered as INTERNAL: a bad request never takes the
    server down."""

    @functools.wraps(fn)
    def wrapper(self, request, context):
        try:
            return fn(self, request, context)
        except FS3Error as exc:
            abort(context, exc)
        except Exception as exc:  # noqa: BLE001 - the boundary: nothing escapes as a crash
            log.exception("%s failed", fn.__name__)
            abort(context, FS3Error(f"internal error in {fn.__name__}: {type(exc).__name__}: {exc}"))

    return wrapper


def abort(context: grpc.ServicerContext, exc: FS3Error) -> None:
    metadata: list[tuple[str, Any]] = [(STATUS_KEY, str(int(exc.status)))]
    if exc.filename is not None:
        # (cut short: gRPC refuses trailing metadata over 8 KiB, and paths may be up to 64 KiB)
        metadata.append((PATH_KEY, str(exc.filename).encode("utf-8", "surrogateescape")[:4096]))
    context.set_trailing_metadata(tuple(metadata))
    context.abort(_GRPC_CODE.get(exc.status, grpc.StatusCode.FAILED_PRECONDITION), exc.strerror or "")


def error_from_rpc(err: grpc.RpcError, what: str = "") -> FS3Error:
    """The fs3 exception an RpcError carries (or an ``Unavailable`` for transport failures)."""
    status = None
    path = None
    try:
        # (key, value) pairs: namedtuples from sync calls, plain tuples from grpc.aio's Metadata
        metadata: Iterable[tuple[str, Any]] = err.trailing_metadata() or ()  # type: ignore[assignment]
        for key, value in metadata:
            if key == STATUS_KEY:
                status = int(value)
            elif key == PATH_KEY:
                path = value.decode("utf-8", "surrogateescape")
    except Exception:  # noqa: BLE001 - some RpcErrors carry no metadata
        pass
    details = err.details() if hasattr(err, "details") else str(err)
    if status is not None:
        return error_for(status, details or "", path)
    code = err.code() if hasattr(err, "code") else None
    if code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.CANCELLED):
        return Unreachable(f"{what or 'server'} unavailable: {details}")
    return error_for(Status.INTERNAL, f"{what or 'server'} failed: {code.name if code else ''} {details}")


def call(method: Callable, request, *, timeout: float | None = 60.0, what: str = "", metadata=None):
    """Invoke a unary stub method, raising the fs3 exception the server sent on failure."""
    try:
        return method(request, timeout=timeout, metadata=metadata)
    except grpc.RpcError as err:
        raise error_from_rpc(err, what) from None


async def acall(method: Callable, request, *, timeout: float | None = 60.0, what: str = "", metadata=None):
    """``call`` for grpc.aio stubs."""
    try:
        return await method(request, timeout=timeout, metadata=metadata)
    except grpc.RpcError as err:
        raise error_from_rpc(err, what) from None
