from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable
from typing import ClassVar as _ClassVar, Optional as _Optional

DESCRIPTOR: _descriptor.FileDescriptor

class Layout(_message.Message):
    __slots__ = ("chunk_size", "stripe", "chains", "table_id", "table_version")
    CHUNK_SIZE_FIELD_NUMBER: _ClassVar[int]
    STRIPE_FIELD_NUMBER: _ClassVar[int]
    CHAINS_FIELD_NUMBER: _ClassVar[int]
    TABLE_ID_FIELD_NUMBER: _ClassVar[int]
    TABLE_VERSION_FIELD_NUMBER: _ClassVar[int]
    chunk_size: int
    stripe: int
    chains: _containers.RepeatedScalarFieldContainer[int]
    table_id: int
    table_version: int
    def __init__(self, chunk_size: _Optional[int] = ..., stripe: _Optional[int] = ..., chains: _Optional[_Iterable[int]] = ..., table_id: _Optional[int] = ..., table_version: _Optional[int] = ...) -> None: ...

class ChunkId(_message.Message):
    __slots__ = ("inode", "index")
    INODE_FIELD_NUMBER: _ClassVar[int]
    INDEX_FIELD_NUMBER: _ClassVar[int]
    inode: int
    index: int
    def __init__(self, inode: _Optional[int] = ..., index: _Optional[int] = ...) -> None: ...
