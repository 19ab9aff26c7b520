from fs3.proto import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class InodeType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    INODE_TYPE_UNSPECIFIED: _ClassVar[InodeType]
    FILE: _ClassVar[InodeType]
    DIRECTORY: _ClassVar[InodeType]
    SYMLINK: _ClassVar[InodeType]
    FIFO: _ClassVar[InodeType]
    CHAR_DEVICE: _ClassVar[InodeType]
    BLOCK_DEVICE: _ClassVar[InodeType]
    SOCKET: _ClassVar[InodeType]
INODE_TYPE_UNSPECIFIED: InodeType
FILE: InodeType
DIRECTORY: InodeType
SYMLINK: InodeType
FIFO: InodeType
CHAR_DEVICE: InodeType
BLOCK_DEVICE: InodeType
SOCKET: InodeType

class Inode(_message.Message):
    __slots__ = ("id", "type", "mode", "uid", "gid", "nlink", "length", "atime_ns", "mtime_ns", "ctime_ns", "layout", "parent", "symlink_target", "quota_dirs", "charged", "rdev", "stored", "stored_known", "append_end")
    ID_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    UID_FIELD_NUMBER: _ClassVar[int]
    GID_FIELD_NUMBER: _ClassVar[int]
    NLINK_FIELD_NUMBER: _ClassVar[int]
    LENGTH_FIELD_NUMBER: _ClassVar[int]
    ATIME_NS_FIELD_NUMBER: _ClassVar[int]
    MTIME_NS_FIELD_NUMBER: _ClassVar[int]
    CTIME_NS_FIELD_NUMBER: _ClassVar[int]
    LAYOUT_FIELD_NUMBER: _ClassVar[int]
    PARENT_FIELD_NUMBER: _ClassVar[int]
    SYMLINK_TARGET_FIELD_NUMBER: _ClassVar[int]
    QUOTA_DIRS_FIELD_NUMBER: _ClassVar[int]
    CHARGED_FIELD_NUMBER: _ClassVar[int]
    RDEV_FIELD_NUMBER: _ClassVar[int]
    STORED_FIELD_NUMBER: _ClassVar[int]
    STORED_KNOWN_FIELD_NUMBER: _ClassVar[int]
    APPEND_END_FIELD_NUMBER: _ClassVar[int]
    id: int
    type: InodeType
    mode: int
    uid: int
    gid: int
    nlink: int
    length: int
    atime_ns: int
    mtime_ns: int
    ctime_ns: int
    layout: _common_pb2.Layout
    parent: int
    symlink_target: str
    quota_dirs: _containers.RepeatedScalarFieldContainer[int]
    charged: int
    rdev: int
    stored: int
    stored_known: bool
    append_end: int
    def __init__(self, id: _Optional[int] = ..., type: _Optional[_Union[InodeType, str]] = ..., mode: _Optional[int] = ..., uid: _Optional[int] = ..., gid: _Optional[int] = ..., nlink: _Optional[int] = ..., length: _Optional[int] = ..., atime_ns: _Optional[int] = ..., mtime_ns: _Optional[int] = ..., ctime_ns: _Optional[int] = ..., layout: _Optional[_Union[_common_pb2.Layout, _Mapping]] = ..., parent: _Optional[int] = ..., symlink_target: _Optional[str] = ..., quota_dirs: _Optional[_Iterable[int]] = ..., charged: _Optional[int] = ..., rdev: _Optional[int] = ..., stored: _Optional[int] = ..., stored_known: _Optional[bool] = ..., append_end: _Optional[int] = ...) -> None: ...

class Dentry(_message.Message):
    __slots__ = ("inode", "type")
    INODE_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    inode: int
    type: InodeType
    def __init__(self, inode: _Optional[int] = ..., type: _Optional[_Union[InodeType, str]] = ...) -> None: ...

class Session(_message.Message):
    __slots__ = ("id", "inode", "client", "opened_ns", "expires_ns", "reserved")
    ID_FIELD_NUMBER: _ClassVar[int]
    INODE_FIELD_NUMBER: _ClassVar[int]
    CLIENT_FIELD_NUMBER: _ClassVar[int]
    OPENED_NS_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_NS_FIELD_NUMBER: _ClassVar[int]
    RESERVED_FIELD_NUMBER: _ClassVar[int]
    id: int
    inode: int
    client: str
    opened_ns: int
    expires_ns: int
    reserved: bool
    def __init__(self, id: _Optional[int] = ..., inode: _Optional[int] = ..., client: _Optional[str] = ..., opened_ns: _Optional[int] = ..., expires_ns: _Optional[int] = ..., reserved: _Optional[bool] = ...) -> None: ...

class User(_message.Message):
    __slots__ = ("name", "uid", "gid", "groups", "admin", "token_digests", "created_ns", "monitor")
    NAME_FIELD_NUMBER: _ClassVar[int]
    UID_FIELD_NUMBER: _ClassVar[int]
    GID_FIELD_NUMBER: _ClassVar[int]
    GROUPS_FIELD_NUMBER: _ClassVar[int]
    ADMIN_FIELD_NUMBER: _ClassVar[int]
    TOKEN_DIGESTS_FIELD_NUMBER: _ClassVar[int]
    CREATED_NS_FIELD_NUMBER: _ClassVar[int]
    MONITOR_FIELD_NUMBER: _ClassVar[int]
    name: str
    uid: int
    gid: int
    groups: _containers.RepeatedScalarFieldContainer[int]
    admin: bool
    token_digests: _containers.RepeatedScalarFieldContainer[bytes]
    created_ns: int
    monitor: bool
    def __init__(self, name: _Optional[str] = ..., uid: _Optional[int] = ..., gid: _Optional[int] = ..., groups: _Optional[_Iterable[int]] = ..., admin: _Optional[bool] = ..., token_digests: _Optional[_Iterable[bytes]] = ..., created_ns: _Optional[int] = ..., monitor: _Optional[bool] = ...) -> None: ...

class AppliedRequest(_message.Message):
    __slots__ = ("reply", "status", "message", "applied_ns")
    REPLY_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    APPLIED_NS_FIELD_NUMBER: _ClassVar[int]
    reply: bytes
    status: int
    message: str
    applied_ns: int
    def __init__(self, reply: _Optional[bytes] = ..., status: _Optional[int] = ..., message: _Optional[str] = ..., applied_ns: _Optional[int] = ...) -> None: ...

class GarbageEntry(_message.Message):
    __slots__ = ("inode", "queued_ns")
    INODE_FIELD_NUMBER: _ClassVar[int]
    QUEUED_NS_FIELD_NUMBER: _ClassVar[int]
    inode: Inode
    queued_ns: int
    def __init__(self, inode: _Optional[_Union[Inode, _Mapping]] = ..., queued_ns: _Optional[int] = ...) -> None: ...

class StatRequest(_message.Message):
    __slots__ = ("path", "no_follow", "capability")
    PATH_FIELD_NUMBER: _ClassVar[int]
    NO_FOLLOW_FIELD_NUMBER: _ClassVar[int]
    CAPABILITY_FIELD_NUMBER: _ClassVar[int]
    path: str
    no_follow: bool
    capability: bool
    def __init__(self, path: _Optional[str] = ..., no_follow: _Optional[bool] = ..., capability: _Optional[bool] = ...) -> None: ...

class StatReply(_message.Message):
    __slots__ = ("inode", "read_capability")
    INODE_FIELD_NUMBER: _ClassVar[int]
    READ_CAPABILITY_FIELD_NUMBER: _ClassVar[int]
    inode: Inode
    read_capability: bytes
    def __init__(self, inode: _Optional[_Union[Inode, _Mapping]] = ..., read_capability: _Optional[bytes] = ...) -> None: ...

class Caller(_message.Message):
    __slots__ = ("uid", "gid", "groups")
    UID_FIELD_NUMBER: _ClassVar[int]
    GID_FIELD_NUMBER: _ClassVar[int]
    GROUPS_FIELD_NUMBER: _ClassVar[int]
    uid: int
    gid: int
    groups: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, uid: _Optional[int] = ..., gid: _Optional[int] = ..., groups: _Optional[_Iterable[int]] = ...) -> None: ...

class MkdirRequest(_message.Message):
    __slots__ = ("path", "mode", "parents", "request_id", "exact_mode", "caller")
    PATH_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    PARENTS_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    EXACT_MODE_FIELD_NUMBER: _ClassVar[int]
    CALLER_FIELD_NUMBER: _ClassVar[int]
    path: str
    mode: int
    parents: bool
    request_id: str
    exact_mode: bool
    caller: Caller
    def __init__(self, path: _Optional[str] = ..., mode: _Optional[int] = ..., parents: _Optional[bool] = ..., request_id: _Optional[str] = ..., exact_mode: _Optional[bool] = ..., caller: _Optional[_Union[Caller, _Mapping]] = ...) -> None: ...

class MkdirReply(_message.Message):
    __slots__ = ("inode",)
    INODE_FIELD_NUMBER: _ClassVar[int]
    inode: Inode
    def __init__(self, inode: _Optional[_Union[Inode, _Mapping]] = ...) -> None: ...

class OpenRequest(_message.Message):
    __slots__ = ("path", "write", "create", "exclusive", "truncate", "mode", "chunk_size", "stripe", "client", "request_id", "release_inodes", "release_sessions", "exact_mode", "caller")
    PATH_FIELD_NUMBER: _ClassVar[int]
    WRITE_FIELD_NUMBER: _ClassVar[int]
    CREATE_FIELD_NUMBER: _ClassVar[int]
    EXCLUSIVE_FIELD_NUMBER: _ClassVar[int]
    TRUNCATE_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    CHUNK_SIZE_FIELD_NUMBER: _ClassVar[int]
    STRIPE_FIELD_NUMBER: _ClassVar[int]
    CLIENT_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    RELEASE_INODES_FIELD_NUMBER: _ClassVar[int]
    RELEASE_SESSIONS_FIELD_NUMBER: _ClassVar[int]
    EXACT_MODE_FIELD_NUMBER: _ClassVar[int]
    CALLER_FIELD_NUMBER: _ClassVar[int]
    path: str
    write: bool
    create: bool
    exclusive: bool
    truncate: bool
    mode: int
    chunk_size: int
    stripe: int
    client: str
    request_id: str
    release_inodes: _containers.RepeatedScalarFieldContainer[int]
    release_sessions: _containers.RepeatedScalarFieldContainer[int]
    exact_mode: bool
    caller: Caller
    def __init__(self, path: _Optional[str] = ..., write: _Optional[bool] = ..., create: _Optional[bool] = ..., exclusive: _Optional[bool] = ..., truncate: _Optional[bool] = ..., mode: _Optional[int] = ..., chunk_size: _Optional[int] = ..., stripe: _Optional[int] = ..., client: _Optional[str] = ..., request_id: _Optional[str] = ..., release_inodes: _Optional[_Iterable[int]] = ..., release_sessions: _Optional[_Iterable[int]] = ..., exact_mode: _Optional[bool] = ..., caller: _Optional[_Union[Caller, _Mapping]] = ...) -> None: ...

class OpenReply(_message.Message):
    __slots__ = ("inode", "session", "read_capability", "write_capability", "shared", "session_ttl_ms")
    INODE_FIELD_NUMBER: _ClassVar[int]
    SESSION_FIELD_NUMBER: _ClassVar[int]
    READ_CAPABILITY_FIELD_NUMBER: _ClassVar[int]
    WRITE_CAPABILITY_FIELD_NUMBER: _ClassVar[int]
    SHARED_FIELD_NUMBER: _ClassVar[int]
    SESSION_TTL_MS_FIELD_NUMBER: _ClassVar[int]
    inode: Inode
    session: int
    read_capability: bytes
    write_capability: bytes
    shared: bool
    session_ttl_ms: int
    def __init__(self, inode: _Optional[_Union[Inode, _Mapping]] = ..., session: _Optional[int] = ..., read_capability: _Optional[bytes] = ..., write_capability: _Optional[bytes] = ..., shared: _Optional[bool] = ..., session_ttl_ms: _Optional[int] = ...) -> None: ...

class CloseRequest(_message.Message):
    __slots__ = ("inode", "session", "wrote", "written_end", "keep", "rename_from", "rename_to", "request_id", "chunks")
    INODE_FIELD_NUMBER: _ClassVar[int]
    SESSION_FIELD_NUMBER: _ClassVar[int]
    WROTE_FIELD_NUMBER: _ClassVar[int]
    WRITTEN_END_FIELD_NUMBER: _ClassVar[int]
    KEEP_FIELD_NUMBER: _ClassVar[int]
    RENAME_FROM_FIELD_NUMBER: _ClassVar[int]
    RENAME_TO_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    CHUNKS_FIELD_NUMBER: _ClassVar[int]
    inode: int
    session: int
    wrote: bool
    written_end: int
    keep: bool
    rename_from: str
    rename_to: str
    request_id: str
    chunks: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, inode: _Optional[int] = ..., session: _Optional[int] = ..., wrote: _Optional[bool] = ..., written_end: _Optional[int] = ..., keep: _Optional[bool] = ..., rename_from: _Optional[str] = ..., rename_to: _Optional[str] = ..., request_id: _Optional[str] = ..., chunks: _Optional[_Iterable[int]] = ...) -> None: ...

class CloseReply(_message.Message):
    __slots__ = ("inode", "renamed")
    INODE_FIELD_NUMBER: _ClassVar[int]
    RENAMED_FIELD_NUMBER: _ClassVar[int]
    inode: Inode
    renamed: bool
    def __init__(self, inode: _Optional[_Union[Inode, _Mapping]] = ..., renamed: _Optional[bool] = ...) -> None: ...

class ReadDirRequest(_message.Message):
    __slots__ = ("path", "start_after", "limit", "with_inodes")
    PATH_FIELD_NUMBER: _ClassVar[int]
    START_AFTER_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    WITH_INODES_FIELD_NUMBER: _ClassVar[int]
    path: str
    start_after: str
    limit: int
    with_inodes: bool
    def __init__(self, path: _Optional[str] = ..., start_after: _Optional[str] = ..., limit: _Optional[int] = ..., with_inodes: _Optional[bool] = ...) -> None: ...

class DirEntry(_message.Message):
    __slots__ = ("name", "inode_id", "type", "inode")
    NAME_FIELD_NUMBER: _ClassVar[int]
    INODE_ID_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    INODE_FIELD_NUMBER: _ClassVar[int]
    name: str
    inode_id: int
    type: InodeType
    inode: Inode
    def __init__(self, name: _Optional[str] = ..., inode_id: _Optional[int] = ..., type: _Optional[_Union[InodeType, str]] = ..., inode: _Optional[_Union[Inode, _Mapping]] = ...) -> None: ...

class ReadDirReply(_message.Message):
    __slots__ = ("entries", "more")
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    MORE_FIELD_NUMBER: _ClassVar[int]
    entries: _containers.RepeatedCompositeFieldContainer[DirEntry]
    more: bool
    def __init__(self, entries: _Optional[_Iterable[_Union[DirEntry, _Mapping]]] = ..., more: _Optional[bool] = ...) -> None: ...

class RemoveRequest(_message.Message):
    __slots__ = ("path", "directory", "recursive", "any_type", "trash", "request_id")
    PATH_FIELD_NUMBER: _ClassVar[int]
    DIRECTORY_FIELD_NUMBER: _ClassVar[int]
    RECURSIVE_FIELD_NUMBER: _ClassVar[int]
    ANY_TYPE_FIELD_NUMBER: _ClassVar[int]
    TRASH_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    path: str
    directory: bool
    recursive: bool
    any_type: bool
    trash: bool
    request_id: str
    def __init__(self, path: _Optional[str] = ..., directory: _Optional[bool] = ..., recursive: _Optional[bool] = ..., any_type: _Optional[bool] = ..., trash: _Optional[bool] = ..., request_id: _Optional[str] = ...) -> None: ...

class RemoveReply(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class RenameRequest(_message.Message):
    __slots__ = ("src", "dst", "no_replace", "request_id")
    SRC_FIELD_NUMBER: _ClassVar[int]
    DST_FIELD_NUMBER: _ClassVar[int]
    NO_REPLACE_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    src: str
    dst: str
    no_replace: bool
    request_id: str
    def __init__(self, src: _Optional[str] = ..., dst: _Optional[str] = ..., no_replace: _Optional[bool] = ..., request_id: _Optional[str] = ...) -> None: ...

class RenameReply(_message.Message):
    __slots__ = ("inode",)
    INODE_FIELD_NUMBER: _ClassVar[int]
    inode: Inode
    def __init__(self, inode: _Optional[_Union[Inode, _Mapping]] = ...) -> None: ...

class TruncateRequest(_message.Message):
    __slots__ = ("path", "length", "request_id")
    PATH_FIELD_NUMBER: _ClassVar[int]
    LENGTH_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    path: str
    length: int
    request_id: str
    def __init__(self, path: _Optional[str] = ..., length: _Optional[int] = ..., request_id: _Optional[str] = ...) -> None: ...

class TruncateReply(_message.Message):
    __slots__ = ("inode",)
    INODE_FIELD_NUMBER: _ClassVar[int]
    inode: Inode
    def __init__(self, inode: _Optional[_Union[Inode, _Mapping]] = ...) -> None: ...

class SetAttrRequest(_message.Message):
    __slots__ = ("path", "set_mode", "mode", "set_uid", "uid", "set_gid", "gid", "set_atime", "atime_ns", "set_mtime", "mtime_ns", "chunk_size", "stripe", "no_follow", "request_id", "times_now")
    PATH_FIELD_NUMBER: _ClassVar[int]
    SET_MODE_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    SET_UID_FIELD_NUMBER: _ClassVar[int]
    UID_FIELD_NUMBER: _ClassVar[int]
    SET_GID_FIELD_NUMBER: _ClassVar[int]
    GID_FIELD_NUMBER: _ClassVar[int]
    SET_ATIME_FIELD_NUMBER: _ClassVar[int]
    ATIME_NS_FIELD_NUMBER: _ClassVar[int]
    SET_MTIME_FIELD_NUMBER: _ClassVar[int]
    MTIME_NS_FIELD_NUMBER: _ClassVar[int]
    CHUNK_SIZE_FIELD_NUMBER: _ClassVar[int]
    STRIPE_FIELD_NUMBER: _ClassVar[int]
    NO_FOLLOW_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    TIMES_NOW_FIELD_NUMBER: _ClassVar[int]
    path: str
    set_mode: bool
    mode: int
    set_uid: bool
    uid: int
    set_gid: bool
    gid: int
    set_atime: bool
    atime_ns: int
    set_mtime: bool
    mtime_ns: int
    chunk_size: int
    stripe: int
    no_follow: bool
    request_id: str
    times_now: bool
    def __init__(self, path: _Optional[str] = ..., set_mode: _Optional[bool] = ..., mode: _Optional[int] = ..., set_uid: _Optional[bool] = ..., uid: _Optional[int] = ..., set_gid: _Optional[bool] = ..., gid: _Optional[int] = ..., set_atime: _Optional[bool] = ..., atime_ns: _Optional[int] = ..., set_mtime: _Optional[bool] = ..., mtime_ns: _Optional[int] = ..., chunk_size: _Optional[int] = ..., stripe: _Optional[int] = ..., no_follow: _Optional[bool] = ..., request_id: _Optional[str] = ..., times_now: _Optional[bool] = ...) -> None: ...

class SetAttrReply(_message.Message):
    __slots__ = ("inode",)
    INODE_FIELD_NUMBER: _ClassVar[int]
    inode: Inode
    def __init__(self, inode: _Optional[_Union[Inode, _Mapping]] = ...) -> None: ...

class LinkRequest(_message.Message):
    __slots__ = ("src", "dst", "request_id")
    SRC_FIELD_NUMBER: _ClassVar[int]
    DST_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    src: str
    dst: str
    request_id: str
    def __init__(self, src: _Optional[str] = ..., dst: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class LinkReply(_message.Message):
    __slots__ = ("inode",)
    INODE_FIELD_NUMBER: _ClassVar[int]
    inode: Inode
    def __init__(self, inode: _Optional[_Union[Inode, _Mapping]] = ...) -> None: ...

class SymlinkRequest(_message.Message):
    __slots__ = ("target", "path", "request_id", "caller")
    TARGET_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    CALLER_FIELD_NUMBER: _ClassVar[int]
    target: str
    path: str
    request_id: str
    caller: Caller
    def __init__(self, target: _Optional[str] = ..., path: _Optional[str] = ..., request_id: _Optional[str] = ..., caller: _Optional[_Union[Caller, _Mapping]] = ...) -> None: ...

class SymlinkReply(_message.Message):
    __slots__ = ("inode",)
    INODE_FIELD_NUMBER: _ClassVar[int]
    inode: Inode
    def __init__(self, inode: _Optional[_Union[Inode, _Mapping]] = ...) -> None: ...

class ReadLinkRequest(_message.Message):
    __slots__ = ("path",)
    PATH_FIELD_NUMBER: _ClassVar[int]
    path: str
    def __init__(self, path: _Optional[str] = ...) -> None: ...

class ReadLinkReply(_message.Message):
    __slots__ = ("target",)
    TARGET_FIELD_NUMBER: _ClassVar[int]
    target: str
    def __init__(self, target: _Optional[str] = ...) -> None: ...

class BatchStatRequest(_message.Message):
    __slots__ = ("paths", "no_follow", "capabilities")
    PATHS_FIELD_NUMBER: _ClassVar[int]
    NO_FOLLOW_FIELD_NUMBER: _ClassVar[int]
    CAPABILITIES_FIELD_NUMBER: _ClassVar[int]
    paths: _containers.RepeatedScalarFieldContainer[str]
    no_follow: bool
    capabilities: bool
    def __init__(self, paths: _Optional[_Iterable[str]] = ..., no_follow: _Optional[bool] = ..., capabilities: _Optional[bool] = ...) -> None: ...

class StatResult(_message.Message):
    __slots__ = ("status", "message", "inode", "read_capability")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    INODE_FIELD_NUMBER: _ClassVar[int]
    READ_CAPABILITY_FIELD_NUMBER: _ClassVar[int]
    status: int
    message: str
    inode: Inode
    read_capability: bytes
    def __init__(self, status: _Optional[int] = ..., message: _Optional[str] = ..., inode: _Optional[_Union[Inode, _Mapping]] = ..., read_capability: _Optional[bytes] = ...) -> None: ...

class BatchStatReply(_message.Message):
    __slots__ = ("results",)
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[StatResult]
    def __init__(self, results: _Optional[_Iterable[_Union[StatResult, _Mapping]]] = ...) -> None: ...

class StatFsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class StatFsReply(_message.Message):
    __slots__ = ("total_bytes", "free_bytes", "used_bytes", "inodes", "chunk_size", "replicas")
    TOTAL_BYTES_FIELD_NUMBER: _ClassVar[int]
    FREE_BYTES_FIELD_NUMBER: _ClassVar[int]
    USED_BYTES_FIELD_NUMBER: _ClassVar[int]
    INODES_FIELD_NUMBER: _ClassVar[int]
    CHUNK_SIZE_FIELD_NUMBER: _ClassVar[int]
    REPLICAS_FIELD_NUMBER: _ClassVar[int]
    total_bytes: int
    free_bytes: int
    used_bytes: int
    inodes: int
    chunk_size: int
    replicas: int
    def __init__(self, total_bytes: _Optional[int] = ..., free_bytes: _Optional[int] = ..., used_bytes: _Optional[int] = ..., inodes: _Optional[int] = ..., chunk_size: _Optional[int] = ..., replicas: _Optional[int] = ...) -> None: ...

class RenewSessionsRequest(_message.Message):
    __slots__ = ("inodes", "sessions", "lock_client")
    INODES_FIELD_NUMBER: _ClassVar[int]
    SESSIONS_FIELD_NUMBER: _ClassVar[int]
    LOCK_CLIENT_FIELD_NUMBER: _ClassVar[int]
    inodes: _containers.RepeatedScalarFieldContainer[int]
    sessions: _containers.RepeatedScalarFieldContainer[int]
    lock_client: str
    def __init__(self, inodes: _Optional[_Iterable[int]] = ..., sessions: _Optional[_Iterable[int]] = ..., lock_client: _Optional[str] = ...) -> None: ...

class RenewSessionsReply(_message.Message):
    __slots__ = ("renewed",)
    RENEWED_FIELD_NUMBER: _ClassVar[int]
    renewed: int
    def __init__(self, renewed: _Optional[int] = ...) -> None: ...

class RenewCapabilitiesRequest(_message.Message):
    __slots__ = ("capabilities",)
    CAPABILITIES_FIELD_NUMBER: _ClassVar[int]
    capabilities: _containers.RepeatedScalarFieldContainer[bytes]
    def __init__(self, capabilities: _Optional[_Iterable[bytes]] = ...) -> None: ...

class RenewCapabilitiesReply(_message.Message):
    __slots__ = ("capabilities", "status", "message")
    CAPABILITIES_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    capabilities: _containers.RepeatedScalarFieldContainer[bytes]
    status: _containers.RepeatedScalarFieldContainer[int]
    message: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, capabilities: _Optional[_Iterable[bytes]] = ..., status: _Optional[_Iterable[int]] = ..., message: _Optional[_Iterable[str]] = ...) -> None: ...

class Quota(_message.Message):
    __slots__ = ("directory", "uid", "max_bytes", "max_inodes", "used_bytes", "used_inodes", "path", "user")
    DIRECTORY_FIELD_NUMBER: _ClassVar[int]
    UID_FIELD_NUMBER: _ClassVar[int]
    MAX_BYTES_FIELD_NUMBER: _ClassVar[int]
    MAX_INODES_FIELD_NUMBER: _ClassVar[int]
    USED_BYTES_FIELD_NUMBER: _ClassVar[int]
    USED_INODES_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    USER_FIELD_NUMBER: _ClassVar[int]
    directory: int
    uid: int
    max_bytes: int
    max_inodes: int
    used_bytes: int
    used_inodes: int
    path: str
    user: str
    def __init__(self, directory: _Optional[int] = ..., uid: _Optional[int] = ..., max_bytes: _Optional[int] = ..., max_inodes: _Optional[int] = ..., used_bytes: _Optional[int] = ..., used_inodes: _Optional[int] = ..., path: _Optional[str] = ..., user: _Optional[str] = ...) -> None: ...

class SetQuotaRequest(_message.Message):
    __slots__ = ("path", "user_quota", "uid", "max_bytes", "max_inodes", "clear")
    PATH_FIELD_NUMBER: _ClassVar[int]
    USER_QUOTA_FIELD_NUMBER: _ClassVar[int]
    UID_FIELD_NUMBER: _ClassVar[int]
    MAX_BYTES_FIELD_NUMBER: _ClassVar[int]
    MAX_INODES_FIELD_NUMBER: _ClassVar[int]
    CLEAR_FIELD_NUMBER: _ClassVar[int]
    path: str
    user_quota: bool
    uid: int
    max_bytes: int
    max_inodes: int
    clear: bool
    def __init__(self, path: _Optional[str] = ..., user_quota: _Optional[bool] = ..., uid: _Optional[int] = ..., max_bytes: _Optional[int] = ..., max_inodes: _Optional[int] = ..., clear: _Optional[bool] = ...) -> None: ...

class SetQuotaReply(_message.Message):
    __slots__ = ("quota",)
    QUOTA_FIELD_NUMBER: _ClassVar[int]
    quota: Quota
    def __init__(self, quota: _Optional[_Union[Quota, _Mapping]] = ...) -> None: ...

class GetQuotaRequest(_message.Message):
    __slots__ = ("path", "uid", "user_quota")
    PATH_FIELD_NUMBER: _ClassVar[int]
    UID_FIELD_NUMBER: _ClassVar[int]
    USER_QUOTA_FIELD_NUMBER: _ClassVar[int]
    path: str
    uid: int
    user_quota: bool
    def __init__(self, path: _Optional[str] = ..., uid: _Optional[int] = ..., user_quota: _Optional[bool] = ...) -> None: ...

class GetQuotaReply(_message.Message):
    __slots__ = ("quotas",)
    QUOTAS_FIELD_NUMBER: _ClassVar[int]
    quotas: _containers.RepeatedCompositeFieldContainer[Quota]
    def __init__(self, quotas: _Optional[_Iterable[_Union[Quota, _Mapping]]] = ...) -> None: ...

class ExtendWriteRequest(_message.Message):
    __slots__ = ("capability", "end")
    CAPABILITY_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    capability: bytes
    end: int
    def __init__(self, capability: _Optional[bytes] = ..., end: _Optional[int] = ...) -> None: ...

class ExtendWriteReply(_message.Message):
    __slots__ = ("capability",)
    CAPABILITY_FIELD_NUMBER: _ClassVar[int]
    capability: bytes
    def __init__(self, capability: _Optional[bytes] = ...) -> None: ...

class AppendRequest(_message.Message):
    __slots__ = ("inode", "session", "length")
    INODE_FIELD_NUMBER: _ClassVar[int]
    SESSION_FIELD_NUMBER: _ClassVar[int]
    LENGTH_FIELD_NUMBER: _ClassVar[int]
    inode: int
    session: int
    length: int
    def __init__(self, inode: _Optional[int] = ..., session: _Optional[int] = ..., length: _Optional[int] = ...) -> None: ...

class AppendReply(_message.Message):
    __slots__ = ("offset",)
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    offset: int
    def __init__(self, offset: _Optional[int] = ...) -> None: ...

class MknodRequest(_message.Message):
    __slots__ = ("path", "type", "mode", "rdev", "request_id", "caller")
    PATH_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    RDEV_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    CALLER_FIELD_NUMBER: _ClassVar[int]
    path: str
    type: InodeType
    mode: int
    rdev: int
    request_id: str
    caller: Caller
    def __init__(self, path: _Optional[str] = ..., type: _Optional[_Union[InodeType, str]] = ..., mode: _Optional[int] = ..., rdev: _Optional[int] = ..., request_id: _Optional[str] = ..., caller: _Optional[_Union[Caller, _Mapping]] = ...) -> None: ...

class MknodReply(_message.Message):
    __slots__ = ("inode",)
    INODE_FIELD_NUMBER: _ClassVar[int]
    inode: Inode
    def __init__(self, inode: _Optional[_Union[Inode, _Mapping]] = ...) -> None: ...

class GetXattrRequest(_message.Message):
    __slots__ = ("path", "no_follow", "name", "list")
    PATH_FIELD_NUMBER: _ClassVar[int]
    NO_FOLLOW_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    LIST_FIELD_NUMBER: _ClassVar[int]
    path: str
    no_follow: bool
    name: str
    list: bool
    def __init__(self, path: _Optional[str] = ..., no_follow: _Optional[bool] = ..., name: _Optional[str] = ..., list: _Optional[bool] = ...) -> None: ...

class GetXattrReply(_message.Message):
    __slots__ = ("value", "names")
    VALUE_FIELD_NUMBER: _ClassVar[int]
    NAMES_FIELD_NUMBER: _ClassVar[int]
    value: bytes
    names: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, value: _Optional[bytes] = ..., names: _Optional[_Iterable[str]] = ...) -> None: ...

class SetXattrRequest(_message.Message):
    __slots__ = ("path", "no_follow", "name", "value", "create", "replace", "remove", "request_id")
    PATH_FIELD_NUMBER: _ClassVar[int]
    NO_FOLLOW_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    CREATE_FIELD_NUMBER: _ClassVar[int]
    REPLACE_FIELD_NUMBER: _ClassVar[int]
    REMOVE_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    path: str
    no_follow: bool
    name: str
    value: bytes
    create: bool
    replace: bool
    remove: bool
    request_id: str
    def __init__(self, path: _Optional[str] = ..., no_follow: _Optional[bool] = ..., name: _Optional[str] = ..., value: _Optional[bytes] = ..., create: _Optional[bool] = ..., replace: _Optional[bool] = ..., remove: _Optional[bool] = ..., request_id: _Optional[str] = ...) -> None: ...

class SetXattrReply(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class LockRange(_message.Message):
    __slots__ = ("start", "end", "type")
    START_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    start: int
    end: int
    type: int
    def __init__(self, start: _Optional[int] = ..., end: _Optional[int] = ..., type: _Optional[int] = ...) -> None: ...

class LockRecord(_message.Message):
    __slots__ = ("owner", "client", "ranges")
    OWNER_FIELD_NUMBER: _ClassVar[int]
    CLIENT_FIELD_NUMBER: _ClassVar[int]
    RANGES_FIELD_NUMBER: _ClassVar[int]
    owner: str
    client: str
    ranges: _containers.RepeatedCompositeFieldContainer[LockRange]
    def __init__(self, owner: _Optional[str] = ..., client: _Optional[str] = ..., ranges: _Optional[_Iterable[_Union[LockRange, _Mapping]]] = ...) -> None: ...

class LockRequest(_message.Message):
    __slots__ = ("inode", "client", "owner", "kind", "type", "start", "end", "test", "holder")
    INODE_FIELD_NUMBER: _ClassVar[int]
    CLIENT_FIELD_NUMBER: _ClassVar[int]
    OWNER_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    START_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    TEST_FIELD_NUMBER: _ClassVar[int]
    HOLDER_FIELD_NUMBER: _ClassVar[int]
    inode: int
    client: str
    owner: str
    kind: int
    type: int
    start: int
    end: int
    test: bool
    holder: str
    def __init__(self, inode: _Optional[int] = ..., client: _Optional[str] = ..., owner: _Optional[str] = ..., kind: _Optional[int] = ..., type: _Optional[int] = ..., start: _Optional[int] = ..., end: _Optional[int] = ..., test: _Optional[bool] = ..., holder: _Optional[str] = ...) -> None: ...

class LockReply(_message.Message):
    __slots__ = ("granted", "conflict", "conflict_owner", "shared", "lease_ttl_ms")
    GRANTED_FIELD_NUMBER: _ClassVar[int]
    CONFLICT_FIELD_NUMBER: _ClassVar[int]
    CONFLICT_OWNER_FIELD_NUMBER: _ClassVar[int]
    SHARED_FIELD_NUMBER: _ClassVar[int]
    LEASE_TTL_MS_FIELD_NUMBER: _ClassVar[int]
    granted: bool
    conflict: LockRange
    conflict_owner: str
    shared: bool
    lease_ttl_ms: int
    def __init__(self, granted: _Optional[bool] = ..., conflict: _Optional[_Union[LockRange, _Mapping]] = ..., conflict_owner: _Optional[str] = ..., shared: _Optional[bool] = ..., lease_ttl_ms: _Optional[int] = ...) -> None: ...

class WatchChangesRequest(_message.Message):
    __slots__ = ("epoch", "after", "wait_ms")
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    AFTER_FIELD_NUMBER: _ClassVar[int]
    WAIT_MS_FIELD_NUMBER: _ClassVar[int]
    epoch: int
    after: int
    wait_ms: int
    def __init__(self, epoch: _Optional[int] = ..., after: _Optional[int] = ..., wait_ms: _Optional[int] = ...) -> None: ...

class InodeChange(_message.Message):
    __slots__ = ("inode", "removed", "ctime_ns", "mtime_ns", "length", "nlink", "mode", "uid", "gid")
    INODE_FIELD_NUMBER: _ClassVar[int]
    REMOVED_FIELD_NUMBER: _ClassVar[int]
    CTIME_NS_FIELD_NUMBER: _ClassVar[int]
    MTIME_NS_FIELD_NUMBER: _ClassVar[int]
    LENGTH_FIELD_NUMBER: _ClassVar[int]
    NLINK_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    UID_FIELD_NUMBER: _ClassVar[int]
    GID_FIELD_NUMBER: _ClassVar[int]
    inode: int
    removed: bool
    ctime_ns: int
    mtime_ns: int
    length: int
    nlink: int
    mode: int
    uid: int
    gid: int
    def __init__(self, inode: _Optional[int] = ..., removed: _Optional[bool] = ..., ctime_ns: _Optional[int] = ..., mtime_ns: _Optional[int] = ..., length: _Optional[int] = ..., nlink: _Optional[int] = ..., mode: _Optional[int] = ..., uid: _Optional[int] = ..., gid: _Optional[int] = ...) -> None: ...

class WatchChangesReply(_message.Message):
    __slots__ = ("epoch", "last", "changes", "reset")
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    LAST_FIELD_NUMBER: _ClassVar[int]
    CHANGES_FIELD_NUMBER: _ClassVar[int]
    RESET_FIELD_NUMBER: _ClassVar[int]
    epoch: int
    last: int
    changes: _containers.RepeatedCompositeFieldContainer[InodeChange]
    reset: bool
    def __init__(self, epoch: _Optional[int] = ..., last: _Optional[int] = ..., changes: _Optional[_Iterable[_Union[InodeChange, _Mapping]]] = ..., reset: _Optional[bool] = ...) -> None: ...
