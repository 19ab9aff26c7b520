"""Authentication for the etcd clusters fs3 starts itself (`fs3 up --etcd N`, and the init container
of docker-compose.yml): without it, every local user, and every container on the compose network,
could read the cluster secret and the user records out of etcd and mint a root token.

``enable_auth`` makes, through etcd's JSON gateway (the v3 Auth API):

- ``root``, etcd's administrator (etcd enables authentication only with a root user of role root);
- ``fs3``, the user meta servers connect as, of role ``fs3``: read and write on fs3's keys (all keys
  of a dedicated cluster, or those under a prefix) and nothing else: no user, role or auth changes;
- optionally ``health``, with the public password ``health`` and no role at all: what a container
  health check (``etcdctl endpoint health``) can log in as, which reads nothing;

then ``auth enable``. Passwords are random, each in a file of its own (one line ``USER:PASSWORD``,
mode 0600, in a 0700 directory), made once and kept. It can run again: on a cluster with authentication
on it logs in as root and puts the fs3 user and role back as they should be (a lost fs3 password is
made anew), so a start that was interrupted half-way is finished by the next one.

    python -m fs3.local._etcd_auth --endpoints etcd1:2379,etcd2:2379 \\
        --root-credentials /etcd-root/root.credentials --fs3-credentials /etcd-fs3/fs3.credentials
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import secrets
import sys
from pathlib import Path

from fs3._errors import InvalidArgument, Unavailable
from fs3._retry import Backoff

ROOT_USER = "root"
FS3_USER = "fs3"
FS3_ROLE = "fs3"
HEALTH_USER = "health"    # no role: a health check's login, which may read nothing


def _b64(b: bytes) -> str:
    return base64.b64encode(b).decode()


def write_credentials(path: Path, user: str, password: str) -> None:
    """``USER:PASSWORD`` in a new file of mode 0600 (in a directory made 0700 when it is new)."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(f"{user}:{password}\n")


def read_credentials(path: Path) -> tuple[str, str]:
    user, _, password = path.read_text().strip("\n").partition(":")
    if not user or not password:
        raise InvalidArgument(f"{path} must hold one line USER:PASSWORD")
    return user, password


def credentials(path: Path, user: str) -> tuple[str, str]:
    """The user's credentials kept in ``path``, made (a random password) when it does not exist."""
    if not path.exists():
        write_credentials(path, user, secrets.token_urlsafe(24))
    found, password = read_credentials(path)
    if found != user:
        raise InvalidArgument(f"{path} holds the credentials of {found!r}, not of {user!r}")
    return found, password


class _Refused(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


class _Gateway:
    """Calls to the first member that answers; the root token, once logged in, in every call."""

    def __init__(self, endpoints: list[str], timeout: float):
        self.endpoints = endpoints
        self.timeout = timeout
        self.token = ""

    def call(self, path: str, body: dict) -> dict:
        headers = {"Content-Type": "application/json"}
        if self.token:
            headers["Authorization"] = self.token
        errors: list[str] = []
        backoff = Backoff(self.timeout, cap=0.5)
        while True:
            for endpoint in self.endpoints:
                host, _, port = endpoint.rpartition(":")
                conn = http.client.HTTPConnection(host, int(port), timeout=10)
                try:
                    conn.request("POST", path, json.dumps(body), headers)
                    response = conn.getresponse()
                    reply = json.loads(response.read() or b"{}")
                except (OSError, ValueError, http.client.HTTPException) as exc:
                    errors.append(f"{endpoint}: {exc}")
                    continue
                finally:
                    conn.close()
                if response.status == 200:
                    return reply
                message = reply.get("message") or reply.get("error") or f"HTTP {response.status}"
                if response.status >= 500 or "leader" in message or "timed out" in message:
                    errors.append(f"{endpoint}: {message}")
                    continue
                raise _Refused(response.status, message)
            if backoff.expired:
                raise Unavailable("etcd did not answer in time: " + "; ".join(errors[-3:]))
            backoff.sleep()

    def ensure(self, path: str, body: dict) -> None:
        """A call whose effect may be there already (a user or role made by an earlier run)."""
        try:
            self.call(path, body)
        except _Refused as exc:
            if "already" not in str(exc):
                raise

    def put_user(self, user: str, password: str) -> None:
        try:
            self.call("/v3/auth/user/add", {"name": user, "password": password})
        except _Refused as exc:
            if "already exists" not in str(exc):
                raise
            self.call("/v3/auth/user/changepw", {"name": user, "password": password})


def enable_auth(endpoints: list[str], root_file: Path, fs3_file: Path, *, prefix: bytes = b"",
                health_user: bool = False, timeout: float = 60.0) -> None:
    """Turn etcd's authentication on, with a root user and an fs3 user limited to fs3's keys (those
    under ``prefix``; all keys without one). The passwords come from (or go to) the two files."""
    root = credentials(root_file, ROOT_USER)
    fs3 = credentials(fs3_file, FS3_USER)
    gateway = _Gateway(endpoints, timeout)
    try:
        gateway.token = gateway.call("/v3/auth/authenticate", {"name": root[0], "password": root[1]})["token"]
        enabled = True
    except _Refused as exc:
        if "not enabled" not in str(exc):
            raise Unavailable(f"etcd has authentication on but refuses root's password from {root_file}: {exc}"
                              ) from None
        enabled = False
    try:
        if not enabled:
            gateway.put_user(*root)
            gateway.ensure("/v3/auth/user/grant", {"user": ROOT_USER, "role": "root"})
        gateway.ensure("/v3/auth/role/add", {"name": FS3_ROLE})
        # etcd reads a range end of "\0" as "every key from the start on"
        key, end = (prefix, _prefix_end(prefix)) if prefix else (b"\0", b"\0")
        gateway.call("/v3/auth/role/grant", {"name": FS3_ROLE, "perm": {
            "permType": "READWRITE", "key": _b64(key), "range_end": _b64(end)}})
        gateway.put_user(*fs3)
        gateway.ensure("/v3/auth/user/grant", {"user": FS3_USER, "role": FS3_ROLE})
        if health_user:
            gateway.put_user(HEALTH_USER, HEALTH_USER)
        if not enabled:
            gateway.call("/v3/auth/enable", {})
    except _Refused as exc:
        raise Unavailable(f"etcd refused to set up its users: {exc}") from None


def _prefix_end(prefix: bytes) -> bytes:
    stripped = prefix.rstrip(b"\xff")
    if not stripped:
        raise InvalidArgument("a key prefix of only 0xff bytes has no end")
    return stripped[:-1] + bytes([stripped[-1] + 1])


def main(argv: list[str] | None = None) -> int:
    """The docker-compose init container: turn authentication on, then exit (0: done)."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m fs3.local._etcd_auth", description=__doc__.split("\n\n")[0])
    parser.add_argument("--endpoints", required=True, help="HOST:PORT,HOST:PORT... of the etcd members")
    parser.add_argument("--root-credentials", type=Path, required=True, help="root's credentials file")
    parser.add_argument("--fs3-credentials", type=Path, required=True, help="the fs3 user's credentials file")
    parser.add_argument("--prefix", default="", help="fs3's key prefix (default: none, the whole key space)")
    parser.add_argument("--health-user", action="store_true", help="also make the role-less `health` user")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for etcd")
    args = parser.parse_args(argv)
    try:
        enable_auth([e.strip() for e in args.endpoints.split(",") if e.strip()], args.root_credentials,
                    args.fs3_credentials, prefix=args.prefix.encode(), health_user=args.health_user,
                    timeout=args.timeout)
    except OSError as exc:
        print(f"etcd auth: {exc.strerror or exc}", file=sys.stderr)
        return 1
    print(f"etcd auth: on; meta connects as {FS3_USER} with {args.fs3_credentials}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
