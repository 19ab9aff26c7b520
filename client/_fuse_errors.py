"""How `fs3 mount` answers a FUSE call that failed: an OSError keeps its errno; anything else is a bug,
logged, and answered with EIO for that call (a bug must not take the mount down)."""

from __future__ import annotations

import errno
import functools
import logging

from mfusepy import FuseOSError

log = logging.getLogger("fs3.mount")


def fuse_errors(fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except FuseOSError:
            raise
        except OSError as exc:
            raise FuseOSError(exc.errno or errno.EIO) from None
        except Exception:
            log.exception("FUSE operation %s failed", fn.__name__)
            raise FuseOSError(errno.EIO) from None
    return wrapper
