"""Users and their tokens, kept in the KV store; who a gRPC call's token belongs to.

Tokens are stored only as SHA-256 digests (``TOKN<digest> -> name``), so reading the store does not
reveal them; ``authenticate`` caches a digest's user for a few seconds, so a removed user or revoked
token stops working within ``CACHE_SECONDS``. The user ``root`` (uid 0) always exists once the cluster
is bootstrapped; uid 0 bypasses permission checks, as in POSIX.

A *monitor* user may read the cluster's state over the admin HTTP API and ``/metrics``
(``observer_for``); in the namespace it is an ordinary user of its uid.
"""

from __future__ import annotations

import re
import threading
import time

from fs3._auth import digest, new_token, presented, unauthenticated
from fs3._errors import AlreadyExists, InvalidArgument, NotFound, NotPermitted
from fs3.proto import admin_pb2, meta_pb2

from . import _keys as keys
from .kv import KVStore
from .ops import Cred

CACHE_SECONDS = 2.0
FIRST_UID = 1000
ROOT_NAME = "root"
_NAME = re.compile(r"^[a-z_][a-z0-9_.-]{0,31}$")


def _cred(user: meta_pb2.User) -> Cred:
    return Cred(user.uid, user.gid, tuple(user.groups), user.admin or user.uid == 0, user.name)


def user_info(user: meta_pb2.User) -> admin_pb2.UserInfo:
    return admin_pb2.UserInfo(name=user.name, uid=user.uid, gid=user.gid, groups=list(user.groups),
                              admin=user.admin or user.uid == 0, tokens=len(user.token_digests),
                              created_ns=user.created_ns, monitor=user.monitor)


class Users:
    def __init__(self, kv: KVStore):
        self.kv = kv
        self._cache: dict[bytes, tuple[float, Cred, bool]] = {}  # digest -> (expiry, cred, monitor)
        self._lock = threading.Lock()

    # -- authentication ----------------------------------------------------------------------------

    def authenticate(self, context) -> Cred:
        """The credentials of a gRPC call, from its bearer token; PermissionDenied without a valid one."""
        scheme, token = presented(context)
        if scheme != "Bearer" or not token:
            raise unauthenticated("the call carries no token")
        return self.cred_for(token)

    def cred_for(self, token: str) -> Cred:
        return self._lookup(token)[0]

    def observer_for(self, token: str) -> Cred:
        """The credentials of a token that may read the cluster's state (the admin HTTP API, its
        ``/metrics``): an admin's or a monitor user's. PermissionDenied for an unknown or revoked
        token, NotPermitted for any other user's."""
        cred, monitor = self._lookup(token)
        if not (cred.admin or monitor):
            raise NotPermitted(f"Operation not permitted: user {cred.name!r} is neither an admin nor a "
                               "monitoring user")
        return cred

    def _lookup(self, token: str) -> tuple[Cred, bool]:
        """(credentials, monitor) of a token's user, cached for ``CACHE_SECONDS``."""
        key = digest(token)
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(key)
        if hit is not None and hit[0] > now:
            return hit[1], hit[2]
        user = self.kv.transact(lambda txn: self._user_of_digest(txn, key), readonly=True)
        if user is None:
            raise unauthenticated("unknown or revoked token")
        cred = _cred(user)
        with self._lock:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[key] = (now + CACHE_SECONDS, cred, user.monitor)
        return cred, user.monitor

    @staticmethod
    def _user_of_digest(txn, key: bytes) -> meta_pb2.User | None:
        name = txn.get(keys.token(key))
        if name is None:
            return None
        raw = txn.get(keys.user(name.decode()))
        if raw is None:
            return None
        user = meta_pb2.User.FromString(raw)
        return user if key in user.token_digests else None

    # -- administration ----------------------------------------------------------------------------

    def bootstrap(self, token: str) -> None:
        """Make sure ``root`` exists and accepts ``token`` (the admin token ``fs3 up`` writes)."""

        def run(txn):
            raw = txn.get(keys.user(ROOT_NAME))
            user = meta_pb2.User.FromString(raw) if raw else meta_pb2.User(
                name=ROOT_NAME, uid=0, gid=0, admin=True, created_ns=time.time_ns())
            key = digest(token)
            if key not in user.token_digests:
                user.token_digests.append(key)
            txn.set(keys.user(ROOT_NAME), user.SerializeToString())
            txn.set(keys.token(key), ROOT_NAME.encode())

        self.kv.transact(run)

    def add(self, req: admin_pb2.AddUserRequest) -> tuple[meta_pb2.User, str]:
        if not _NAME.match(req.name):
            raise InvalidArgument(f"Invalid user name {req.name!r}: lower-case letters, digits, '_', '.', '-', "
                                  "up to 32, starting with a letter or '_'")
        token = new_token()

        def run(txn):
            if txn.get(keys.user(req.name)) is not None:
                raise AlreadyExists(f"User {req.name!r} already exists")
            users = self._all(txn)
            uid = req.uid
            if uid == 0:
                taken = {u.uid for u in users}
                uid = max([FIRST_UID - 1, *taken]) + 1
            elif any(u.uid == uid for u in users):
                raise AlreadyExists(f"uid {uid} already belongs to {next(u.name for u in users if u.uid == uid)!r}")
            user = meta_pb2.User(name=req.name, uid=uid, gid=req.gid or uid, groups=list(req.groups),
                                 admin=req.admin, monitor=req.monitor, created_ns=time.time_ns(),
                                 token_digests=[digest(token)])
            txn.set(keys.user(req.name), user.SerializeToString())
            txn.set(keys.token(digest(token)), req.name.encode())
            return user

        return self.kv.transact(run), token

    def remove(self, name: str) -> None:
        if name == ROOT_NAME:
            raise NotPermitted("Operation not permitted: the root user cannot be removed")

        def run(txn):
            raw = txn.get(keys.user(name))
            if raw is None:
                raise NotFound(f"No such user {name!r}")
            for key in meta_pb2.User.FromString(raw).token_digests:
                txn.clear(keys.token(key))
            txn.clear(keys.user(name))

        self.kv.transact(run)
        self._forget()

    def issue(self, name: str, revoke_others: bool) -> str:
        token = new_token()

        def run(txn):
            raw = txn.get(keys.user(name))
            if raw is None:
                raise NotFound(f"No such user {name!r}")
            user = meta_pb2.User.FromString(raw)
            if revoke_others:
                for key in user.token_digests:
                    txn.clear(keys.token(key))
                del user.token_digests[:]
            user.token_digests.append(digest(token))
            txn.set(keys.user(name), user.SerializeToString())
            txn.set(keys.token(digest(token)), name.encode())

        self.kv.transact(run)
        if revoke_others:
            self._forget()
        return token

    def list(self) -> list[meta_pb2.User]:
        return self.kv.transact(self._all, readonly=True)

    def get(self, name: str) -> meta_pb2.User:
        raw = self.kv.transact(lambda txn: txn.get(keys.user(name)), readonly=True)
        if raw is None:
            raise NotFound(f"No such user {name!r}")
        return meta_pb2.User.FromString(raw)

    @staticmethod
    def _all(txn) -> list[meta_pb2.User]:
        begin, end = keys.prefix_range(keys.USER)
        return [meta_pb2.User.FromString(raw) for _, raw in txn.get_range(begin, end)]

    def _forget(self) -> None:
        with self._lock:
            self._cache.clear()
