"""The dispatch table: every method of the Meta service is in it with its own request and reply, and
it agrees with the framed protocol's method list and read-only set."""

from __future__ import annotations

import inspect

from fs3 import _call_wire as wire
from fs3.meta import ops
from fs3.meta._service import SERVED_APART, MetaServicer
from fs3.proto import meta_pb2, meta_pb2_grpc

SERVICE = meta_pb2.DESCRIPTOR.services_by_name["Meta"]


def test_every_meta_method_is_in_the_table_with_its_messages():
    # (but the change feed's, which answers from the server's feed, not the namespace: meta/_service.py)
    assert set(ops.OPERATIONS) == {m.name for m in SERVICE.methods} - SERVED_APART
    assert all(callable(getattr(MetaServicer, name)) for name in SERVED_APART)
    for method in SERVICE.methods:
        if method.name in SERVED_APART:
            continue
        op = ops.OPERATIONS[method.name]
        assert op.name == method.name
        assert op.request.DESCRIPTOR is method.input_type, method.name
        assert op.reply.DESCRIPTOR is method.output_type, method.name


def test_every_operation_has_one_shape():
    for op in ops.OPERATIONS.values():
        assert list(inspect.signature(op.run).parameters) == ["ctx", "cred", "req"], op.name


def test_the_table_agrees_with_the_framed_protocol():
    assert set(wire.METHODS) == set(ops.OPERATIONS)
    assert {name for name, op in ops.OPERATIONS.items() if op.read_only} == wire.READ_ONLY
    for name in wire.METHODS:
        assert wire.REQUESTS[name] is ops.OPERATIONS[name].request
        assert wire.REPLIES[name] is ops.OPERATIONS[name].reply


def test_only_truncation_reaches_storage_and_no_read_does():
    reaching = {name for name, op in ops.OPERATIONS.items() if op.may_reach_storage}
    assert reaching == {"Truncate", "Open"}
    assert not any(op.read_only and op.may_reach_storage for op in ops.OPERATIONS.values())


def test_the_grpc_servicer_answers_every_method_from_the_table():
    for name in ops.OPERATIONS:
        method = getattr(MetaServicer, name)
        assert method is not getattr(meta_pb2_grpc.MetaServicer, name)  # (the generated stub's: unimplemented)
        assert method.__name__ == name and ops.OPERATIONS[name].run.__name__ in (method.__doc__ or "")
