"""The HTTP side of the etcd backend (``_etcd``): one keep-alive connection per member of the etcd
cluster, calls through its JSON gateway moved to the next member when one does not answer, and, with
credentials, the v3 Auth API's token sent with every call and renewed when etcd forgets it."""

from __future__ import annotations

import base64
import http.client
import json
import logging
import threading

from fs3._retry import Backoff

from ._base import ConflictError, KVError
from ._etcd_url import EtcdCredentials

log = logging.getLogger(__name__)

TIMEOUT = 10.0         # per HTTP request
UNREACHABLE_AFTER = 15.0  # seconds of no member answering (an election takes about one) before giving up
TOKEN_RENEWALS = 3     # fresh tokens one call may ask for before its refusal is taken as final


def _b64(b: bytes) -> str:
    return base64.b64encode(b).decode()


def _unb64(s: str) -> bytes:
    return base64.b64decode(s)


class _Unreachable(KVError):
    """No member answered (the request may or may not have been applied)."""


class EtcdAccessError(KVError, ValueError):
    """etcd refused fs3: wrong credentials, none where authentication is on, or a role that does not
    cover fs3's keys (a ValueError too: a configuration mistake, reported as such when the store opens)."""


class _TokenRefused(KVError):
    """etcd did not take the call's token (none sent, expired, forgotten by a restarted member, or
    issued before the auth store changed)."""


class _AuthOff(KVError):
    """Authenticate was refused because etcd has authentication off."""


_TOKEN_REFUSALS = ("invalid auth token", "revision of auth store is old", "user name is empty")


class _Client:
    """JSON-over-HTTP calls to the members, one keep-alive connection per thread and member, moving
    to the next member when one fails; with credentials, each call carries a token."""

    def __init__(self, endpoints: list[str], credentials: EtcdCredentials | None = None):
        self.endpoints = endpoints
        self._local = threading.local()
        self._preferred = 0
        self._credentials = credentials
        self._token: str | None = None
        self._token_lock = threading.Lock()

    def _conn(self, endpoint: str) -> http.client.HTTPConnection:
        conns = getattr(self._local, "conns", None)
        if conns is None:
            conns = self._local.conns = {}
        conn = conns.get(endpoint)
        if conn is None:
            host, _, port = endpoint.rpartition(":")
            conn = conns[endpoint] = http.client.HTTPConnection(host, int(port), timeout=TIMEOUT)
        return conn

    def _drop(self, endpoint: str) -> None:
        conn = getattr(self._local, "conns", {}).pop(endpoint, None)
        if conn is not None:
            conn.close()

    def call(self, path: str, body: dict) -> dict:
        payload = json.dumps(body).encode()
        renewals = 0
        while True:
            token = self._token
            try:
                return self._call(path, payload, token)
            except _TokenRefused as exc:
                if self._credentials is None:
                    raise EtcdAccessError(f"etcd has authentication on ({exc}): give fs3 an etcd user in a "
                                          "credentials file, etcd://HOST:PORT?credentials=FILE") from None
                renewals += 1
                if renewals > TOKEN_RENEWALS:
                    raise KVError(f"etcd keeps refusing the token of user {self._credentials.user}: {exc}") from None
                self.authenticate(stale=token)

    def authenticate(self, stale: str | None = None) -> None:
        """Get a token for the credentials (none without credentials, or while etcd has authentication
        off). ``stale``: the token a call was refused with; another thread may have renewed it already."""
        creds = self._credentials
        if creds is None:
            return
        with self._token_lock:
            if self._token != stale:
                return
            payload = json.dumps({"name": creds.user, "password": creds.password}).encode()
            try:
                self._token = self._call("/v3/auth/authenticate", payload, None)["token"]
            except _AuthOff:
                self._token = None
                log.warning("etcd has authentication off: fs3 runs without its etcd user %s (%s)",
                            creds.user, creds.source)
            except EtcdAccessError as exc:
                where = f" from {creds.source}" if creds.source else ""
                raise EtcdAccessError(f"etcd refused the password of user {creds.user}{where}: {exc}") from None

    def _call(self, path: str, payload: bytes, token: str | None) -> dict:
        backoff = Backoff(UNREACHABLE_AFTER, cap=0.5)
        while True:
            try:
                return self._round(path, payload, token)
            except _Unreachable:
                if backoff.expired:
                    raise
                backoff.sleep()

    def _round(self, path: str, payload: bytes, token: str | None) -> dict:
        """One try of every member, the last one that answered first."""
        errors = []
        start = self._preferred
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = token
        for k in range(len(self.endpoints)):
            endpoint = self.endpoints[(start + k) % len(self.endpoints)]
            try:
                conn = self._conn(endpoint)
                conn.request("POST", path, payload, headers)
                response = conn.getresponse()
                data = response.read()
            except (OSError, http.client.HTTPException) as exc:
                self._drop(endpoint)
                errors.append(f"{endpoint}: {exc}")
                self._preferred = (start + k + 1) % len(self.endpoints)
                continue
            reply = json.loads(data or b"{}")
            if response.status != 200:
                message = reply.get("message") or reply.get("error") or data.decode(errors="replace")
                if "compacted" in message:
                    raise ConflictError(f"etcd: {message}")
                if "too many operations" in message:
                    raise KVError(f"etcd refused a transaction: {message} (run etcd with --max-txn-ops 10000)")
                if any(refusal in message for refusal in _TOKEN_REFUSALS):
                    raise _TokenRefused(message)
                if "authentication is not enabled" in message:
                    raise _AuthOff(message)
                if "invalid user ID or password" in message:
                    raise EtcdAccessError(message)
                if "permission denied" in message:
                    raise EtcdAccessError(f"etcd {endpoint}{path}: {message} (the etcd user's role must grant "
                                          "readwrite on fs3's keys: all of them, or the KV URL's prefix)")
                if response.status >= 500 or "leader" in message or "timed out" in message:
                    errors.append(f"{endpoint}: {message}")
                    self._preferred = (start + k + 1) % len(self.endpoints)
                    continue
                raise KVError(f"etcd {endpoint}{path}: {message}")
            return reply
        raise _Unreachable("no etcd member answered: " + "; ".join(errors))

    def close(self) -> None:
        for conn in getattr(self._local, "conns", {}).values():
            conn.close()
        self._local = threading.local()
