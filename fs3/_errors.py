"""Status codes and the exception hierarchy, shared by every component.

Status codes come in ranges per component (1xxx common, 2xxx meta, 3xxx storage, 4xxx cluster) and each
maps to one errno and one exception class. Servers raise ``FS3Error`` subclasses; the gRPC boundary turns
them into a status code carried in trailing metadata, and the client turns that back into the same
exception class. Every class derives from ``OSError`` with its errno set, and from the matching built-in
(``FileNotFoundError``, ``FileExistsError``...) so callers catch what they already catch::

    OSError
     └── FS3Error                          errno-carrying base of every fs3 failure
          ├── NotFound (FileNotFoundError) ENOENT
          ├── AlreadyExists (FileExistsError) EEXIST
          ├── NotADirectory (NotADirectoryError) ENOTDIR
          ├── IsADirectory (IsADirectoryError) EISDIR
          ├── DirectoryNotEmpty            ENOTEMPTY
          ├── InvalidArgument              EINVAL (bad names, bad ranges)
          ├── NameTooLong                  ENAMETOOLONG
          ├── PermissionDenied (PermissionError) EACCES
          ├── NotPermitted (PermissionError) EPERM
          ├── Busy                         EBUSY
          ├── TooManyLinks                 ELOOP: too many symbolic links on the way
          ├── NoSpace                      ENOSPC
          ├── QuotaExceeded                EDQUOT: a tree or user quota has no room
          ├── CrossQuota                   EXDEV: a link or move would cross a quota boundary it may not
          ├── NoAttribute                  ENODATA: no such extended attribute
          ├── OutOfRange                   ERANGE: an extended attribute's name empty or too long
          ├── TooBig                       E2BIG: an extended attribute's value too long
          ├── NotSupported                 EOPNOTSUPP: an extended attribute namespace fs3 does not keep
          ├── ChecksumMismatch             EIO: stored data failed its CRC32C, never returned
          ├── Unavailable (ConnectionError) EHOSTDOWN: a server cannot be reached
          │    └── Unreachable             it never answered: the call may or may not have happened
          ├── StaleRouting                 ESTALE: the caller's chain version is out of date
          └── InternalError                EIO
"""

from __future__ import annotations

import errno as _errno
import os
from enum import IntEnum


class Status(IntEnum):
    OK = 0
    # 1xxx: common
    INVALID_ARGUMENT = 1001
    NAME_TOO_LONG = 1002
    PERMISSION_DENIED = 1003
    UNAVAILABLE = 1004
    INTERNAL = 1005
    TIMEOUT = 1006
    NOT_PERMITTED = 1007       # EPERM: not allowed whatever the permission bits say
    QUOTA_EXCEEDED = 1008      # EDQUOT: a tree or user quota has no room (meta, or a storage node's check)
    CROSS_QUOTA = 1009         # EXDEV: a link or rename would cross a quota boundary it may not
    NO_ATTRIBUTE = 1010        # ENODATA: no such extended attribute
    OUT_OF_RANGE = 1011        # ERANGE: an extended attribute's name is empty or too long
    TOO_BIG = 1012             # E2BIG: an extended attribute's value is too large
    NOT_SUPPORTED = 1013       # EOPNOTSUPP: an extended attribute namespace fs3 does not keep
    # 2xxx: meta
    NOT_FOUND = 2001
    EXISTS = 2002
    NOT_DIRECTORY = 2003
    IS_DIRECTORY = 2004
    NOT_EMPTY = 2005
    BUSY = 2006
    LOOP = 2007
    # 3xxx: storage
    CHUNK_NOT_FOUND = 3001
    CHECKSUM_MISMATCH = 3002
    STALE_CHAIN_VERSION = 3003
    TARGET_NOT_SERVING = 3004
    NO_SPACE = 3005
    CHUNK_TOO_LARGE = 3006
    TARGET_NOT_FOUND = 3007
    CHUNK_PENDING = 3008       # an update of the chunk is in flight on that replica: read another
    VERSION_CONFLICT = 3009    # replicas disagree on a chunk version (repaired by recovery)
    DISK_ERROR = 3010          # the replica's disk failed the read: read another
    CAPABILITY_REFUSED = 3011  # no valid capability for the chunk's file on this connection (fs3/_capability.py)
    # 4xxx: cluster
    NODE_NOT_FOUND = 4001
    NO_CHAINS = 4002
    NODE_REMOVED = 4003        # a drained node removed from the cluster tries to register again


class FS3Error(OSError):
    """Base of every fs3 failure: an ``OSError`` with ``errno`` and an fs3 ``status`` code."""

    errno_default: int = _errno.EIO
    status_default: Status = Status.INTERNAL

    def __init__(self, message: str, *, status: Status | None = None, path: str | None = None):
        code = self.errno_default
        super().__init__(code, message) if path is None else super().__init__(code, message, path)
        self.status = status if status is not None else self.status_default

    def __str__(self) -> str:
        if self.filename is not None:
            return f"{self.strerror}: {self.filename!r}"
        return str(self.strerror)

    def __reduce__(self):  # picklable across DataLoader worker processes
        return (_rebuild, (type(self), self.strerror, self.status, self.filename))


def _rebuild(cls, message, status, path):
    return cls(message, status=status, path=path)


class NotFound(FS3Error, FileNotFoundError):
    errno_default = _errno.ENOENT
    status_default = Status.NOT_FOUND


class AlreadyExists(FS3Error, FileExistsError):
    errno_default = _errno.EEXIST
    status_default = Status.EXISTS


class NotADirectory(FS3Error, NotADirectoryError):
    errno_default = _errno.ENOTDIR
    status_default = Status.NOT_DIRECTORY


class IsADirectory(FS3Error, IsADirectoryError):
    errno_default = _errno.EISDIR
    status_default = Status.IS_DIRECTORY


class DirectoryNotEmpty(FS3Error):
    errno_default = _errno.ENOTEMPTY
    status_default = Status.NOT_EMPTY


class InvalidArgument(FS3Error):
    errno_default = _errno.EINVAL
    status_default = Status.INVALID_ARGUMENT


class NameTooLong(FS3Error):
    errno_default = _errno.ENAMETOOLONG
    status_default = Status.NAME_TOO_LONG


class PermissionDenied(FS3Error, PermissionError):
    errno_default = _errno.EACCES
    status_default = Status.PERMISSION_DENIED


class NotPermitted(FS3Error, PermissionError):
    errno_default = _errno.EPERM
    status_default = Status.NOT_PERMITTED


class NoAttribute(FS3Error):
    errno_default = _errno.ENODATA
    status_default = Status.NO_ATTRIBUTE


class OutOfRange(FS3Error):
    errno_default = _errno.ERANGE
    status_default = Status.OUT_OF_RANGE


class TooBig(FS3Error):
    errno_default = _errno.E2BIG
    status_default = Status.TOO_BIG


class NotSupported(FS3Error):
    errno_default = _errno.EOPNOTSUPP
    status_default = Status.NOT_SUPPORTED


class QuotaExceeded(FS3Error):
    errno_default = _errno.EDQUOT
    status_default = Status.QUOTA_EXCEEDED


class CrossQuota(FS3Error):
    errno_default = _errno.EXDEV
    status_default = Status.CROSS_QUOTA


class Busy(FS3Error):
    errno_default = _errno.EBUSY
    status_default = Status.BUSY


class TooManyLinks(FS3Error):
    errno_default = _errno.ELOOP
    status_default = Status.LOOP


class NoSpace(FS3Error):
    errno_default = _errno.ENOSPC
    status_default = Status.NO_SPACE


class ChecksumMismatch(FS3Error):
    errno_default = _errno.EIO
    status_default = Status.CHECKSUM_MISMATCH


class Unavailable(FS3Error, ConnectionError):
    errno_default = _errno.EHOSTDOWN
    status_default = Status.UNAVAILABLE


class Unreachable(Unavailable):
    """The server did not answer at all (connection refused or lost, deadline passed): the call may or
    may not have taken effect, and another server may be tried."""


class StaleRouting(FS3Error):
    errno_default = _errno.ESTALE
    status_default = Status.STALE_CHAIN_VERSION


class InternalError(FS3Error):
    errno_default = _errno.EIO
    status_default = Status.INTERNAL


_CLASS_BY_STATUS: dict[Status, type[FS3Error]] = {
    Status.INVALID_ARGUMENT: InvalidArgument,
    Status.NAME_TOO_LONG: NameTooLong,
    Status.PERMISSION_DENIED: PermissionDenied,
    Status.UNAVAILABLE: Unavailable,
    Status.INTERNAL: InternalError,
    Status.TIMEOUT: Unavailable,
    Status.NOT_PERMITTED: NotPermitted,
    Status.QUOTA_EXCEEDED: QuotaExceeded,
    Status.CROSS_QUOTA: CrossQuota,
    Status.NO_ATTRIBUTE: NoAttribute,
    Status.OUT_OF_RANGE: OutOfRange,
    Status.TOO_BIG: TooBig,
    Status.NOT_SUPPORTED: NotSupported,
    Status.NOT_FOUND: NotFound,
    Status.EXISTS: AlreadyExists,
    Status.NOT_DIRECTORY: NotADirectory,
    Status.IS_DIRECTORY: IsADirectory,
    Status.NOT_EMPTY: DirectoryNotEmpty,
    Status.BUSY: Busy,
    Status.LOOP: TooManyLinks,
    Status.CHUNK_NOT_FOUND: NotFound,
    Status.CHECKSUM_MISMATCH: ChecksumMismatch,
    Status.DISK_ERROR: InternalError,
    Status.CAPABILITY_REFUSED: PermissionDenied,
    Status.STALE_CHAIN_VERSION: StaleRouting,
    Status.TARGET_NOT_SERVING: StaleRouting,
    Status.TARGET_NOT_FOUND: StaleRouting,
    Status.CHUNK_PENDING: StaleRouting,
    Status.VERSION_CONFLICT: InternalError,
    Status.NO_SPACE: NoSpace,
    Status.CHUNK_TOO_LARGE: InvalidArgument,
    Status.NODE_NOT_FOUND: NotFound,
    Status.NO_CHAINS: Unavailable,
    Status.NODE_REMOVED: NotPermitted,
}


def error_for(status: int, message: str, path: str | None = None) -> FS3Error:
    """The exception a status code stands for (unknown codes become ``InternalError``)."""
    try:
        code = Status(status)
    except ValueError:
        return InternalError(f"{message} (unknown status {status})", path=path)
    return _CLASS_BY_STATUS.get(code, InternalError)(message, status=code, path=path)


def describe(exc: BaseException) -> str:
    """One line for a human: the strerror-style text of an OSError, else the exception text."""
    if isinstance(exc, OSError) and exc.strerror:
        text = exc.strerror if isinstance(exc, FS3Error) else os.strerror(exc.errno or 0)
        return f"{exc.filename}: {text}" if exc.filename else text
    return str(exc) or type(exc).__name__
