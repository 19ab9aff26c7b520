from fs3.proto import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ScrubAction(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SCRUB_ACTION_UNSPECIFIED: _ClassVar[ScrubAction]
    SCRUB_IN_SYNC: _ClassVar[ScrubAction]
    SCRUB_RESTORED: _ClassVar[ScrubAction]
    SCRUB_REMOVED: _ClassVar[ScrubAction]
    SCRUB_PENDING: _ClassVar[ScrubAction]
    SCRUB_FAILED: _ClassVar[ScrubAction]
SCRUB_ACTION_UNSPECIFIED: ScrubAction
SCRUB_IN_SYNC: ScrubAction
SCRUB_RESTORED: ScrubAction
SCRUB_REMOVED: ScrubAction
SCRUB_PENDING: ScrubAction
SCRUB_FAILED: ScrubAction

class ChunkMeta(_message.Message):
    __slots__ = ("chunk", "version", "length", "crc32c", "pending_version")
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    LENGTH_FIELD_NUMBER: _ClassVar[int]
    CRC32C_FIELD_NUMBER: _ClassVar[int]
    PENDING_VERSION_FIELD_NUMBER: _ClassVar[int]
    chunk: _common_pb2.ChunkId
    version: int
    length: int
    crc32c: int
    pending_version: int
    def __init__(self, chunk: _Optional[_Union[_common_pb2.ChunkId, _Mapping]] = ..., version: _Optional[int] = ..., length: _Optional[int] = ..., crc32c: _Optional[int] = ..., pending_version: _Optional[int] = ...) -> None: ...

class RemoveChunksRequest(_message.Message):
    __slots__ = ("chain_id", "chain_version", "inode", "from_index")
    CHAIN_ID_FIELD_NUMBER: _ClassVar[int]
    CHAIN_VERSION_FIELD_NUMBER: _ClassVar[int]
    INODE_FIELD_NUMBER: _ClassVar[int]
    FROM_INDEX_FIELD_NUMBER: _ClassVar[int]
    chain_id: int
    chain_version: int
    inode: int
    from_index: int
    def __init__(self, chain_id: _Optional[int] = ..., chain_version: _Optional[int] = ..., inode: _Optional[int] = ..., from_index: _Optional[int] = ...) -> None: ...

class RemoveChunksReply(_message.Message):
    __slots__ = ("removed",)
    REMOVED_FIELD_NUMBER: _ClassVar[int]
    removed: int
    def __init__(self, removed: _Optional[int] = ...) -> None: ...

class TruncateChunkRequest(_message.Message):
    __slots__ = ("chain_id", "chain_version", "chunk", "length")
    CHAIN_ID_FIELD_NUMBER: _ClassVar[int]
    CHAIN_VERSION_FIELD_NUMBER: _ClassVar[int]
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    LENGTH_FIELD_NUMBER: _ClassVar[int]
    chain_id: int
    chain_version: int
    chunk: _common_pb2.ChunkId
    length: int
    def __init__(self, chain_id: _Optional[int] = ..., chain_version: _Optional[int] = ..., chunk: _Optional[_Union[_common_pb2.ChunkId, _Mapping]] = ..., length: _Optional[int] = ...) -> None: ...

class TruncateChunkReply(_message.Message):
    __slots__ = ("meta",)
    META_FIELD_NUMBER: _ClassVar[int]
    meta: ChunkMeta
    def __init__(self, meta: _Optional[_Union[ChunkMeta, _Mapping]] = ...) -> None: ...

class QueryChunkRequest(_message.Message):
    __slots__ = ("chain_id", "chunk")
    CHAIN_ID_FIELD_NUMBER: _ClassVar[int]
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    chain_id: int
    chunk: _common_pb2.ChunkId
    def __init__(self, chain_id: _Optional[int] = ..., chunk: _Optional[_Union[_common_pb2.ChunkId, _Mapping]] = ...) -> None: ...

class QueryChunkReply(_message.Message):
    __slots__ = ("exists", "meta")
    EXISTS_FIELD_NUMBER: _ClassVar[int]
    META_FIELD_NUMBER: _ClassVar[int]
    exists: bool
    meta: ChunkMeta
    def __init__(self, exists: _Optional[bool] = ..., meta: _Optional[_Union[ChunkMeta, _Mapping]] = ...) -> None: ...

class ListChunksRequest(_message.Message):
    __slots__ = ("target_id", "start_after", "limit", "until")
    TARGET_ID_FIELD_NUMBER: _ClassVar[int]
    START_AFTER_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    UNTIL_FIELD_NUMBER: _ClassVar[int]
    target_id: int
    start_after: bytes
    limit: int
    until: bytes
    def __init__(self, target_id: _Optional[int] = ..., start_after: _Optional[bytes] = ..., limit: _Optional[int] = ..., until: _Optional[bytes] = ...) -> None: ...

class ChunkVersion(_message.Message):
    __slots__ = ("key", "committed_version", "checksum", "pending_version")
    KEY_FIELD_NUMBER: _ClassVar[int]
    COMMITTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    CHECKSUM_FIELD_NUMBER: _ClassVar[int]
    PENDING_VERSION_FIELD_NUMBER: _ClassVar[int]
    key: bytes
    committed_version: int
    checksum: int
    pending_version: int
    def __init__(self, key: _Optional[bytes] = ..., committed_version: _Optional[int] = ..., checksum: _Optional[int] = ..., pending_version: _Optional[int] = ...) -> None: ...

class ListChunksReply(_message.Message):
    __slots__ = ("chunks", "more")
    CHUNKS_FIELD_NUMBER: _ClassVar[int]
    MORE_FIELD_NUMBER: _ClassVar[int]
    chunks: _containers.RepeatedCompositeFieldContainer[ChunkVersion]
    more: bool
    def __init__(self, chunks: _Optional[_Iterable[_Union[ChunkVersion, _Mapping]]] = ..., more: _Optional[bool] = ...) -> None: ...

class SyncDoneRequest(_message.Message):
    __slots__ = ("target_id", "chain_id", "chain_version")
    TARGET_ID_FIELD_NUMBER: _ClassVar[int]
    CHAIN_ID_FIELD_NUMBER: _ClassVar[int]
    CHAIN_VERSION_FIELD_NUMBER: _ClassVar[int]
    target_id: int
    chain_id: int
    chain_version: int
    def __init__(self, target_id: _Optional[int] = ..., chain_id: _Optional[int] = ..., chain_version: _Optional[int] = ...) -> None: ...

class SyncDoneReply(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ChunkToScrub(_message.Message):
    __slots__ = ("chunk", "live")
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    LIVE_FIELD_NUMBER: _ClassVar[int]
    chunk: _common_pb2.ChunkId
    live: bool
    def __init__(self, chunk: _Optional[_Union[_common_pb2.ChunkId, _Mapping]] = ..., live: _Optional[bool] = ...) -> None: ...

class ScrubChunksRequest(_message.Message):
    __slots__ = ("chain_id", "chain_version", "chunks", "compared")
    CHAIN_ID_FIELD_NUMBER: _ClassVar[int]
    CHAIN_VERSION_FIELD_NUMBER: _ClassVar[int]
    CHUNKS_FIELD_NUMBER: _ClassVar[int]
    COMPARED_FIELD_NUMBER: _ClassVar[int]
    chain_id: int
    chain_version: int
    chunks: _containers.RepeatedCompositeFieldContainer[ChunkToScrub]
    compared: int
    def __init__(self, chain_id: _Optional[int] = ..., chain_version: _Optional[int] = ..., chunks: _Optional[_Iterable[_Union[ChunkToScrub, _Mapping]]] = ..., compared: _Optional[int] = ...) -> None: ...

class ScrubbedChunk(_message.Message):
    __slots__ = ("chunk", "action", "targets", "head_restored", "detail")
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    TARGETS_FIELD_NUMBER: _ClassVar[int]
    HEAD_RESTORED_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    chunk: _common_pb2.ChunkId
    action: ScrubAction
    targets: _containers.RepeatedScalarFieldContainer[int]
    head_restored: bool
    detail: str
    def __init__(self, chunk: _Optional[_Union[_common_pb2.ChunkId, _Mapping]] = ..., action: _Optional[_Union[ScrubAction, str]] = ..., targets: _Optional[_Iterable[int]] = ..., head_restored: _Optional[bool] = ..., detail: _Optional[str] = ...) -> None: ...

class ScrubChunksReply(_message.Message):
    __slots__ = ("chunks",)
    CHUNKS_FIELD_NUMBER: _ClassVar[int]
    chunks: _containers.RepeatedCompositeFieldContainer[ScrubbedChunk]
    def __init__(self, chunks: _Optional[_Iterable[_Union[ScrubbedChunk, _Mapping]]] = ...) -> None: ...
