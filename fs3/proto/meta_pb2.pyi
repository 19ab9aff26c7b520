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
INODE_TYPE_UNSPECIFIED: InodeType
FILE: InodeType
DIRECTORY: InodeType
SYMLINK: InodeType

class Inode(_message.Message):
    __slots__ = ("id", "type", "mode", "uid", "gid", "nlink", "length", "atime_ns", "mtime_ns", "ctime_ns", "layout", "parent", "symlink_target")
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
    def __init__(self, id: _Optional[int] = ..., type: _Optional[_Union[InodeType, str]] = ..., mode: _Optional[int] = ..., uid: _Optional[int] = ..., gid: _Optional[int] = ..., nlink: _Optional[int] = ..., length: _Optional[int] = ..., atime_ns: _Optional[int] = ..., mtime_ns: _Optional[int] = ..., ctime_ns: _Optional[int] = ..., layout: _Optional[_Union[_common_pb2.Layout, _Mapping]] = ..., parent: _Optional[int] = ..., symlink_target: _Optional[str] = ...) -> None: ...

class Dentry(_message.Message):
    __slots__ = ("inode", "type")
    INODE_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    inode: int
    type: InodeType
    def __init__(self, inode: _Optional[int] = ..., type: _Optional[_Union[InodeType, str]] = ...) -> None: ...

class Session(_message.Message):
    __slots__ = ("id", "inode", "client", "opened_ns")
    ID_FIELD_NUMBER: _ClassVar[int]
    INODE_FIELD_NUMBER: _ClassVar[int]
    CLIENT_FIELD_NUMBER: _ClassVar[int]
    OPENED_NS_FIELD_NUMBER: _ClassVar[int]
    id: int
    inode: int
    client: str
    opened_ns: int
    def __init__(self, id: _Optional[int] = ..., inode: _Optional[int] = ..., client: _Optional[str] = ..., opened_ns: _Optional[int] = ...) -> None: ...

class GarbageEntry(_message.Message):
    __slots__ = ("inode", "queued_ns")
    INODE_FIELD_NUMBER: _ClassVar[int]
    QUEUED_NS_FIELD_NUMBER: _ClassVar[int]
    inode: Inode
    queued_ns: int
    def __init__(self, inode: _Optional[_Union[Inode, _Mapping]] = ..., queued_ns: _Optional[int] = ...) -> None: ...

class StatRequest(_message.Message):
    __slots__ = ("path",)
    PATH_FIELD_NUMBER: _ClassVar[int]
    path: str
    def __init__(self, path: _Optional[str] = ...) -> None: ...

class StatReply(_message.Message):
    __slots__ = ("inode",)
    INODE_FIELD_NUMBER: _ClassVar[int]
    inode: Inode
    def __init__(self, inode: _Optional[_Union[Inode, _Mapping]] = ...) -> None: ...

class MkdirRequest(_message.Message):
    __slots__ = ("path", "mode", "parents")
    PATH_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    PARENTS_FIELD_NUMBER: _ClassVar[int]
    path: str
    mode: int
    parents: bool
    def __init__(self, path: _Optional[str] = ..., mode: _Optional[int] = ..., parents: _Optional[bool] = ...) -> None: ...

class MkdirReply(_message.Message):
    __slots__ = ("inode",)
    INODE_FIELD_NUMBER: _ClassVar[int]
    inode: Inode
    def __init__(self, inode: _Optional[_Union[Inode, _Mapping]] = ...) -> None: ...

class OpenRequest(_message.Message):
    __slots__ = ("path", "write", "create", "exclusive", "truncate", "mode", "chunk_size", "stripe", "client")
    PATH_FIELD_NUMBER: _ClassVar[int]
    WRITE_FIELD_NUMBER: _ClassVar[int]
    CREATE_FIELD_NUMBER: _ClassVar[int]
    EXCLUSIVE_FIELD_NUMBER: _ClassVar[int]
    TRUNCATE_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    CHUNK_SIZE_FIELD_NUMBER: _ClassVar[int]
    STRIPE_FIELD_NUMBER: _ClassVar[int]
    CLIENT_FIELD_NUMBER: _ClassVar[int]
    path: str
    write: bool
    create: bool
    exclusive: bool
    truncate: bool
    mode: int
    chunk_size: int
    stripe: int
    client: str
    def __init__(self, path: _Optional[str] = ..., write: _Optional[bool] = ..., create: _Optional[bool] = ..., exclusive: _Optional[bool] = ..., truncate: _Optional[bool] = ..., mode: _Optional[int] = ..., chunk_size: _Optional[int] = ..., stripe: _Optional[int] = ..., client: _Optional[str] = ...) -> None: ...

class OpenReply(_message.Message):
    __slots__ = ("inode", "session")
    INODE_FIELD_NUMBER: _ClassVar[int]
    SESSION_FIELD_NUMBER: _ClassVar[int]
    inode: Inode
    session: int
    def __init__(self, inode: _Optional[_Union[Inode, _Mapping]] = ..., session: _Optional[int] = ...) -> None: ...

class CloseRequest(_message.Message):
    __slots__ = ("inode", "session", "wrote", "written_end")
    INODE_FIELD_NUMBER: _ClassVar[int]
    SESSION_FIELD_NUMBER: _ClassVar[int]
    WROTE_FIELD_NUMBER: _ClassVar[int]
    WRITTEN_END_FIELD_NUMBER: _ClassVar[int]
    inode: int
    session: int
    wrote: bool
    written_end: int
    def __init__(self, inode: _Optional[int] = ..., session: _Optional[int] = ..., wrote: _Optional[bool] = ..., written_end: _Optional[int] = ...) -> None: ...

class CloseReply(_message.Message):
    __slots__ = ("inode",)
    INODE_FIELD_NUMBER: _ClassVar[int]
    inode: Inode
    def __init__(self, inode: _Optional[_Union[Inode, _Mapping]] = ...) -> None: ...

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
    __slots__ = ("path", "directory", "recursive", "any_type")
    PATH_FIELD_NUMBER: _ClassVar[int]
    DIRECTORY_FIELD_NUMBER: _ClassVar[int]
    RECURSIVE_FIELD_NUMBER: _ClassVar[int]
    ANY_TYPE_FIELD_NUMBER: _ClassVar[int]
    path: str
    directory: bool
    recursive: bool
    any_type: bool
    def __init__(self, path: _Optional[str] = ..., directory: _Optional[bool] = ..., recursive: _Optional[bool] = ..., any_type: _Optional[bool] = ...) -> None: ...

class RemoveReply(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class RenameRequest(_message.Message):
    __slots__ = ("src", "dst", "no_replace")
    SRC_FIELD_NUMBER: _ClassVar[int]
    DST_FIELD_NUMBER: _ClassVar[int]
    NO_REPLACE_FIELD_NUMBER: _ClassVar[int]
    src: str
    dst: str
    no_replace: bool
    def __init__(self, src: _Optional[str] = ..., dst: _Optional[str] = ..., no_replace: _Optional[bool] = ...) -> None: ...

class RenameReply(_message.Message):
    __slots__ = ("inode",)
    INODE_FIELD_NUMBER: _ClassVar[int]
    inode: Inode
    def __init__(self, inode: _Optional[_Union[Inode, _Mapping]] = ...) -> None: ...

class TruncateRequest(_message.Message):
    __slots__ = ("path", "length")
    PATH_FIELD_NUMBER: _ClassVar[int]
    LENGTH_FIELD_NUMBER: _ClassVar[int]
    path: str
    length: int
    def __init__(self, path: _Optional[str] = ..., length: _Optional[int] = ...) -> None: ...

class TruncateReply(_message.Message):
    __slots__ = ("inode",)
    INODE_FIELD_NUMBER: _ClassVar[int]
    inode: Inode
    def __init__(self, inode: _Optional[_Union[Inode, _Mapping]] = ...) -> None: ...
