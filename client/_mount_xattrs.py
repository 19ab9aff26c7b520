"""Extended attributes on `fs3 mount`, kept by meta (meta/ops/xattr.py).

The kernel asks for ``security.capability`` before every write(2) to a file (to drop file capabilities
when someone writes it), which would cost a meta round trip per write. A missing one is remembered for
``CAPS_TTL`` seconds per path (this mount's own setxattr and removexattr forget it at once); another
client's ``setcap`` on a file being written here is seen that much later. Everything else asks meta; the kernel has checked the caller's permissions (and meta those of the
mount's token), but listing hides ``trusted.`` names from all but root, as Linux does.
"""

from __future__ import annotations

import errno
import threading
import time
from typing import Any

import mfusepy
from mfusepy import FuseOSError

from ._fuse_errors import fuse_errors as _fuse_errors

CAPS = "security.capability"
CAPS_TTL = 1.0  # seconds a missing security.capability is remembered


class XattrOps:
    """The four xattr calls of a FUSE ``Operations`` with a ``client``."""

    client: Any  # (the Operations class sets it)
    _caps_lock = threading.Lock()

    def _no_caps(self) -> dict[str, float]:
        cache = self.__dict__.get("_missing_caps")
        if cache is None:
            cache = self.__dict__.setdefault("_missing_caps", {})
        return cache

    def _forget_caps(self, path: str) -> None:
        with self._caps_lock:
            self._no_caps().pop(path, None)

    @_fuse_errors
    def getxattr(self, path, name, position=0):
        if name != CAPS:
            return self.client.getxattr(path, name, follow_symlinks=False)
        now = time.monotonic()
        with self._caps_lock:
            if self._no_caps().get(path, 0.0) > now:
                raise FuseOSError(errno.ENODATA)
        try:
            return self.client.getxattr(path, name, follow_symlinks=False)
        except OSError as exc:
            if exc.errno == errno.ENODATA:
                with self._caps_lock:
                    cache = self._no_caps()
                    if len(cache) > 10_000:
                        cache.clear()
                    cache[path] = now + CAPS_TTL
            raise

    @_fuse_errors
    def listxattr(self, path):
        names = self.client.listxattr(path, follow_symlinks=False)
        if mfusepy.fuse_get_context()[0] != 0:  # only root sees trusted.* names (meta answers the mount's token)
            names = [n for n in names if not n.startswith("trusted.")]
        return names

    @_fuse_errors
    def setxattr(self, path, name, value, options, position=0):
        self._forget_caps(path)
        self.client.setxattr(path, name, value, options, follow_symlinks=False)
        return 0

    @_fuse_errors
    def removexattr(self, path, name):
        self._forget_caps(path)
        self.client.removexattr(path, name, follow_symlinks=False)
        return 0
