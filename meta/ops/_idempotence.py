"""Retry-safe mutations: a request id makes a mutation apply at most once, so a client that lost the
reply (its meta server died) and sends the request again gets the first reply, not a second effect.

What is kept is what the operation's transaction returned (an ``Inode`` for most, not the reply
message that wraps it): the records in the store keep the form they have always had, so a retry that
another meta server answers (one of an older version, during an upgrade) still reads them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fs3._errors import error_for
from fs3.proto import meta_pb2

from .. import _keys as keys
from ..kv import Transaction
from ._context import OpContext


def once(ctx: OpContext, request_id: str, reply_type: Any, run: Callable[[Transaction], Any]) -> Any:
    """Run a mutation in one transaction, at most once per ``request_id`` (every time without one).
    ``run`` returns a message of ``reply_type`` (or None), whose bytes are kept for a retry
    (``AppliedRequest.reply``) until the garbage collector forgets them (``request_ttl``)."""
    if not request_id:
        return ctx.kv.transact(run)
    key = keys.request(request_id)

    def guarded(txn):
        raw = txn.get_expecting_absent(key)
        if raw is not None:
            applied = meta_pb2.AppliedRequest.FromString(raw)
            if applied.status:
                raise error_for(applied.status, applied.message)
            return reply_type.FromString(applied.reply) if reply_type is not None else None
        result = run(txn)
        record = meta_pb2.AppliedRequest(applied_ns=ctx.clock())
        if result is not None:
            record.reply = result.SerializeToString()
        txn.set(key, record.SerializeToString())
        return result

    return ctx.kv.transact(guarded)
