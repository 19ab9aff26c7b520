"""Who may read the admin HTTP API: every request but the dashboard page itself carries
``Authorization: Bearer <token>`` of an admin or a monitoring user (``fs3 user add NAME --monitor``).

``decide`` is the whole policy, without I/O: it takes the request's path and authorization header and
the user registry, and returns None (let it through) or the refusal to send. ``RequireToken`` is the
ASGI middleware that applies it in front of the app. The check is fail-closed: only the paths in
``PUBLIC`` are served without a token, so a route added later, a 404 or ``/api/docs`` needs one too.
Tokens are checked through meta's registry (``Users.observer_for``), whose short cache bounds how long
a removed user or revoked token still reads the API (``_users.CACHE_SECONDS``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from fs3._errors import FS3Error, NotPermitted, PermissionDenied

from ._users import Users

log = logging.getLogger("fs3.meta.http")

PUBLIC = frozenset({"/"})  # the dashboard page: static HTML that asks for a token before it fetches

HOW = ("Send `Authorization: Bearer <token>` with the token of an admin or of a monitoring user. "
       "Create a monitoring user with `fs3 user add NAME --monitor` (it prints the user's first token) "
       "or issue another token with `fs3 user token NAME`.")


@dataclass(frozen=True)
class Refusal:
    status: int
    error: str
    headers: dict[str, str] = field(default_factory=dict)

    def body(self) -> dict:
        return {"error": self.error, "how": HOW}


def _unauthenticated(why: str) -> Refusal:
    return Refusal(401, f"not authenticated: {why}", {"WWW-Authenticate": 'Bearer realm="fs3"'})


def bearer_token(header: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header (the scheme is case-insensitive, as
    in RFC 7235), or None."""
    if not header:
        return None
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


def decide(users: Users, path: str, authorization: str | None) -> Refusal | None:
    """None if a request for ``path`` with this authorization header may be served, else its refusal:
    401 without a valid token, 403 for a user who is neither an admin nor a monitor, 503 when the
    user registry cannot be read."""
    if path in PUBLIC:
        return None
    if not authorization:
        return _unauthenticated("this API needs a token")
    token = bearer_token(authorization)
    if token is None:
        return _unauthenticated("the Authorization header is not `Bearer <token>`")
    try:
        users.observer_for(token)
    except PermissionDenied:
        return _unauthenticated("unknown or revoked token")
    except NotPermitted as exc:
        return Refusal(403, str(exc), {"WWW-Authenticate": 'Bearer realm="fs3", error="insufficient_scope"'})
    except FS3Error as exc:  # the KV store is unavailable: say so rather than let anyone in
        log.warning("cannot check an admin API token: %s", exc)
        return Refusal(503, f"cannot check the token now: {exc}")
    return None


class RequireToken:
    """ASGI middleware: ``decide`` on every HTTP request before the app sees it. The registry is
    read in a worker thread (it may call the KV store), never on the event loop."""

    def __init__(self, app, users: Users):
        self.app, self.users = app, users

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        from starlette.concurrency import run_in_threadpool
        from starlette.responses import JSONResponse

        header = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"authorization"), None)
        refusal = await run_in_threadpool(decide, self.users, scope["path"], header)
        if refusal is None:
            await self.app(scope, receive, send)
            return
        response = JSONResponse(refusal.body(), status_code=refusal.status,
                                headers={**refusal.headers, "Cache-Control": "no-store"})
        await response(scope, receive, send)
