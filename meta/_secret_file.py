"""The cluster secret in a file of its own, apart from the namespace: it signs node tokens and derives the
keys of data-plane capabilities, so whoever holds it can read and change every chunk. Kept in the KV
store beside the namespace (as fs3 did), it went wherever the namespace went: a copy of meta.db, an
etcd backup, an etcd user allowed to read fs3's keys. In a file (``--secret-file``, FS3_SECRET_FILE) it
is 0600 and only meta servers read it; every meta server of a cluster is given the same file.

The file holds the secret in hex (``openssl rand -hex 32 > cluster.secret`` makes one). The first meta
server to start with a missing file creates it (exclusively: two starting together agree), moving the
secret out of the KV store where an earlier version kept it, so tokens and capabilities already issued
stay good.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from fs3._errors import InvalidArgument
from fs3._private import check_private

from . import _keys as keys
from .kv import KVStore

log = logging.getLogger(__name__)

MIN_BYTES = 32


def load_secret(path: Path, kv: KVStore) -> bytes:
    """The cluster secret in ``path`` (made on first start); raises a one-line error for a file others
    may read, or one that holds no secret."""
    path = Path(path)
    try:
        check_private(path)
        text = path.read_text().strip()
    except FileNotFoundError:
        return _create(path, kv)
    except UnicodeDecodeError:
        text = ""
    try:
        secret = bytes.fromhex(text)
    except ValueError:
        secret = b""
    if len(secret) < MIN_BYTES:
        raise InvalidArgument(f"the secret file {path} holds no secret of {MIN_BYTES}+ bytes in hex; make one "
                              f"with `openssl rand -hex 32 > {path}` (every meta server needs the same file)")
    if kv.transact(lambda txn: txn.get(keys.CLUSTER_SECRET), readonly=True) is not None:
        log.warning("the KV store still holds a cluster secret beside the secret file %s; removing it", path)
        kv.transact(lambda txn: txn.clear(keys.CLUSTER_SECRET))
    return secret


def _create(path: Path, kv: KVStore) -> bytes:
    stored = kv.transact(lambda txn: txn.get(keys.CLUSTER_SECRET), readonly=True)
    secret = stored or os.urandom(MIN_BYTES)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    except FileExistsError:  # another meta server made it first: take its
        return load_secret(path, kv)
    except OSError as exc:
        raise InvalidArgument(f"cannot create the secret file {path}: {exc.strerror}") from None
    with os.fdopen(fd, "w") as f:
        f.write(secret.hex() + "\n")
        f.flush()
        os.fsync(f.fileno())
    if stored is not None:
        kv.transact(lambda txn: txn.clear(keys.CLUSTER_SECRET))  # moved out of the namespace
    return secret
