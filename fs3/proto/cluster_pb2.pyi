from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class PublicState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PUBLIC_STATE_UNSPECIFIED: _ClassVar[PublicState]
    SERVING: _ClassVar[PublicState]
    SYNCING: _ClassVar[PublicState]
    WAITING: _ClassVar[PublicState]
    LASTSRV: _ClassVar[PublicState]
    OFFLINE: _ClassVar[PublicState]

class LocalState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    LOCAL_STATE_UNSPECIFIED: _ClassVar[LocalState]
    UPTODATE: _ClassVar[LocalState]
    ONLINE: _ClassVar[LocalState]
    LOCAL_OFFLINE: _ClassVar[LocalState]

class NodeState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    NODE_STATE_UNSPECIFIED: _ClassVar[NodeState]
    NODE_UP: _ClassVar[NodeState]
    NODE_DOWN: _ClassVar[NodeState]
PUBLIC_STATE_UNSPECIFIED: PublicState
SERVING: PublicState
SYNCING: PublicState
WAITING: PublicState
LASTSRV: PublicState
OFFLINE: PublicState
LOCAL_STATE_UNSPECIFIED: LocalState
UPTODATE: LocalState
ONLINE: LocalState
LOCAL_OFFLINE: LocalState
NODE_STATE_UNSPECIFIED: NodeState
NODE_UP: NodeState
NODE_DOWN: NodeState

class NodeInfo(_message.Message):
    __slots__ = ("id", "address", "state", "last_heartbeat_ns", "hostname", "registered_ns", "pid", "data_address", "data_socket", "draining", "ucx_address")
    ID_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    LAST_HEARTBEAT_NS_FIELD_NUMBER: _ClassVar[int]
    HOSTNAME_FIELD_NUMBER: _ClassVar[int]
    REGISTERED_NS_FIELD_NUMBER: _ClassVar[int]
    PID_FIELD_NUMBER: _ClassVar[int]
    DATA_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    DATA_SOCKET_FIELD_NUMBER: _ClassVar[int]
    DRAINING_FIELD_NUMBER: _ClassVar[int]
    UCX_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    id: int
    address: str
    state: NodeState
    last_heartbeat_ns: int
    hostname: str
    registered_ns: int
    pid: int
    data_address: str
    data_socket: str
    draining: bool
    ucx_address: str
    def __init__(self, id: _Optional[int] = ..., address: _Optional[str] = ..., state: _Optional[_Union[NodeState, str]] = ..., last_heartbeat_ns: _Optional[int] = ..., hostname: _Optional[str] = ..., registered_ns: _Optional[int] = ..., pid: _Optional[int] = ..., data_address: _Optional[str] = ..., data_socket: _Optional[str] = ..., draining: _Optional[bool] = ..., ucx_address: _Optional[str] = ...) -> None: ...

class TargetInfo(_message.Message):
    __slots__ = ("id", "node_id", "path", "public_state", "local_state", "chain_id", "used_bytes", "chunk_count", "direct_io", "free_bytes", "admin_offline", "corruptions", "repairs", "sync_percent", "history", "lost_chunks", "retired")
    ID_FIELD_NUMBER: _ClassVar[int]
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    PUBLIC_STATE_FIELD_NUMBER: _ClassVar[int]
    LOCAL_STATE_FIELD_NUMBER: _ClassVar[int]
    CHAIN_ID_FIELD_NUMBER: _ClassVar[int]
    USED_BYTES_FIELD_NUMBER: _ClassVar[int]
    CHUNK_COUNT_FIELD_NUMBER: _ClassVar[int]
    DIRECT_IO_FIELD_NUMBER: _ClassVar[int]
    FREE_BYTES_FIELD_NUMBER: _ClassVar[int]
    ADMIN_OFFLINE_FIELD_NUMBER: _ClassVar[int]
    CORRUPTIONS_FIELD_NUMBER: _ClassVar[int]
    REPAIRS_FIELD_NUMBER: _ClassVar[int]
    SYNC_PERCENT_FIELD_NUMBER: _ClassVar[int]
    HISTORY_FIELD_NUMBER: _ClassVar[int]
    LOST_CHUNKS_FIELD_NUMBER: _ClassVar[int]
    RETIRED_FIELD_NUMBER: _ClassVar[int]
    id: int
    node_id: int
    path: str
    public_state: PublicState
    local_state: LocalState
    chain_id: int
    used_bytes: int
    chunk_count: int
    direct_io: bool
    free_bytes: int
    admin_offline: bool
    corruptions: int
    repairs: int
    sync_percent: int
    history: _containers.RepeatedCompositeFieldContainer[TargetTransition]
    lost_chunks: int
    retired: bool
    def __init__(self, id: _Optional[int] = ..., node_id: _Optional[int] = ..., path: _Optional[str] = ..., public_state: _Optional[_Union[PublicState, str]] = ..., local_state: _Optional[_Union[LocalState, str]] = ..., chain_id: _Optional[int] = ..., used_bytes: _Optional[int] = ..., chunk_count: _Optional[int] = ..., direct_io: _Optional[bool] = ..., free_bytes: _Optional[int] = ..., admin_offline: _Optional[bool] = ..., corruptions: _Optional[int] = ..., repairs: _Optional[int] = ..., sync_percent: _Optional[int] = ..., history: _Optional[_Iterable[_Union[TargetTransition, _Mapping]]] = ..., lost_chunks: _Optional[int] = ..., retired: _Optional[bool] = ...) -> None: ...

class TargetTransition(_message.Message):
    __slots__ = ("public_state", "local_state", "chain_version", "time_ns")
    PUBLIC_STATE_FIELD_NUMBER: _ClassVar[int]
    LOCAL_STATE_FIELD_NUMBER: _ClassVar[int]
    CHAIN_VERSION_FIELD_NUMBER: _ClassVar[int]
    TIME_NS_FIELD_NUMBER: _ClassVar[int]
    public_state: PublicState
    local_state: LocalState
    chain_version: int
    time_ns: int
    def __init__(self, public_state: _Optional[_Union[PublicState, str]] = ..., local_state: _Optional[_Union[LocalState, str]] = ..., chain_version: _Optional[int] = ..., time_ns: _Optional[int] = ...) -> None: ...

class ChainInfo(_message.Message):
    __slots__ = ("id", "version", "targets")
    ID_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    TARGETS_FIELD_NUMBER: _ClassVar[int]
    id: int
    version: int
    targets: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, id: _Optional[int] = ..., version: _Optional[int] = ..., targets: _Optional[_Iterable[int]] = ...) -> None: ...

class ChainTable(_message.Message):
    __slots__ = ("id", "version", "chains", "replicas")
    ID_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    CHAINS_FIELD_NUMBER: _ClassVar[int]
    REPLICAS_FIELD_NUMBER: _ClassVar[int]
    id: int
    version: int
    chains: _containers.RepeatedScalarFieldContainer[int]
    replicas: int
    def __init__(self, id: _Optional[int] = ..., version: _Optional[int] = ..., chains: _Optional[_Iterable[int]] = ..., replicas: _Optional[int] = ...) -> None: ...

class RoutingInfo(_message.Message):
    __slots__ = ("version", "nodes", "targets", "chains", "tables", "meta_addresses", "moves")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    NODES_FIELD_NUMBER: _ClassVar[int]
    TARGETS_FIELD_NUMBER: _ClassVar[int]
    CHAINS_FIELD_NUMBER: _ClassVar[int]
    TABLES_FIELD_NUMBER: _ClassVar[int]
    META_ADDRESSES_FIELD_NUMBER: _ClassVar[int]
    MOVES_FIELD_NUMBER: _ClassVar[int]
    version: int
    nodes: _containers.RepeatedCompositeFieldContainer[NodeInfo]
    targets: _containers.RepeatedCompositeFieldContainer[TargetInfo]
    chains: _containers.RepeatedCompositeFieldContainer[ChainInfo]
    tables: _containers.RepeatedCompositeFieldContainer[ChainTable]
    meta_addresses: _containers.RepeatedScalarFieldContainer[str]
    moves: _containers.RepeatedCompositeFieldContainer[ReplicaMove]
    def __init__(self, version: _Optional[int] = ..., nodes: _Optional[_Iterable[_Union[NodeInfo, _Mapping]]] = ..., targets: _Optional[_Iterable[_Union[TargetInfo, _Mapping]]] = ..., chains: _Optional[_Iterable[_Union[ChainInfo, _Mapping]]] = ..., tables: _Optional[_Iterable[_Union[ChainTable, _Mapping]]] = ..., meta_addresses: _Optional[_Iterable[str]] = ..., moves: _Optional[_Iterable[_Union[ReplicaMove, _Mapping]]] = ...) -> None: ...

class ReplicaMove(_message.Message):
    __slots__ = ("chain_id", "from_target", "to_target", "started_ns", "why")
    CHAIN_ID_FIELD_NUMBER: _ClassVar[int]
    FROM_TARGET_FIELD_NUMBER: _ClassVar[int]
    TO_TARGET_FIELD_NUMBER: _ClassVar[int]
    STARTED_NS_FIELD_NUMBER: _ClassVar[int]
    WHY_FIELD_NUMBER: _ClassVar[int]
    chain_id: int
    from_target: int
    to_target: int
    started_ns: int
    why: str
    def __init__(self, chain_id: _Optional[int] = ..., from_target: _Optional[int] = ..., to_target: _Optional[int] = ..., started_ns: _Optional[int] = ..., why: _Optional[str] = ...) -> None: ...

class TargetRegistration(_message.Message):
    __slots__ = ("id", "path", "direct_io")
    ID_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    DIRECT_IO_FIELD_NUMBER: _ClassVar[int]
    id: int
    path: str
    direct_io: bool
    def __init__(self, id: _Optional[int] = ..., path: _Optional[str] = ..., direct_io: _Optional[bool] = ...) -> None: ...

class RegisterNodeRequest(_message.Message):
    __slots__ = ("node_id", "address", "hostname", "targets", "pid", "data_address", "data_socket", "ucx_address")
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    HOSTNAME_FIELD_NUMBER: _ClassVar[int]
    TARGETS_FIELD_NUMBER: _ClassVar[int]
    PID_FIELD_NUMBER: _ClassVar[int]
    DATA_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    DATA_SOCKET_FIELD_NUMBER: _ClassVar[int]
    UCX_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    node_id: int
    address: str
    hostname: str
    targets: _containers.RepeatedCompositeFieldContainer[TargetRegistration]
    pid: int
    data_address: str
    data_socket: str
    ucx_address: str
    def __init__(self, node_id: _Optional[int] = ..., address: _Optional[str] = ..., hostname: _Optional[str] = ..., targets: _Optional[_Iterable[_Union[TargetRegistration, _Mapping]]] = ..., pid: _Optional[int] = ..., data_address: _Optional[str] = ..., data_socket: _Optional[str] = ..., ucx_address: _Optional[str] = ...) -> None: ...

class RegisterNodeReply(_message.Message):
    __slots__ = ("node_id", "target_ids", "routing_version", "heartbeat_interval_ms", "cluster_secret", "lease_ms")
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    TARGET_IDS_FIELD_NUMBER: _ClassVar[int]
    ROUTING_VERSION_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_INTERVAL_MS_FIELD_NUMBER: _ClassVar[int]
    CLUSTER_SECRET_FIELD_NUMBER: _ClassVar[int]
    LEASE_MS_FIELD_NUMBER: _ClassVar[int]
    node_id: int
    target_ids: _containers.RepeatedScalarFieldContainer[int]
    routing_version: int
    heartbeat_interval_ms: int
    cluster_secret: bytes
    lease_ms: int
    def __init__(self, node_id: _Optional[int] = ..., target_ids: _Optional[_Iterable[int]] = ..., routing_version: _Optional[int] = ..., heartbeat_interval_ms: _Optional[int] = ..., cluster_secret: _Optional[bytes] = ..., lease_ms: _Optional[int] = ...) -> None: ...

class TargetReport(_message.Message):
    __slots__ = ("id", "local_state", "used_bytes", "chunk_count", "free_bytes", "corruptions", "repairs", "sync_percent", "lost_chunks", "chain_version")
    ID_FIELD_NUMBER: _ClassVar[int]
    LOCAL_STATE_FIELD_NUMBER: _ClassVar[int]
    USED_BYTES_FIELD_NUMBER: _ClassVar[int]
    CHUNK_COUNT_FIELD_NUMBER: _ClassVar[int]
    FREE_BYTES_FIELD_NUMBER: _ClassVar[int]
    CORRUPTIONS_FIELD_NUMBER: _ClassVar[int]
    REPAIRS_FIELD_NUMBER: _ClassVar[int]
    SYNC_PERCENT_FIELD_NUMBER: _ClassVar[int]
    LOST_CHUNKS_FIELD_NUMBER: _ClassVar[int]
    CHAIN_VERSION_FIELD_NUMBER: _ClassVar[int]
    id: int
    local_state: LocalState
    used_bytes: int
    chunk_count: int
    free_bytes: int
    corruptions: int
    repairs: int
    sync_percent: int
    lost_chunks: int
    chain_version: int
    def __init__(self, id: _Optional[int] = ..., local_state: _Optional[_Union[LocalState, str]] = ..., used_bytes: _Optional[int] = ..., chunk_count: _Optional[int] = ..., free_bytes: _Optional[int] = ..., corruptions: _Optional[int] = ..., repairs: _Optional[int] = ..., sync_percent: _Optional[int] = ..., lost_chunks: _Optional[int] = ..., chain_version: _Optional[int] = ...) -> None: ...

class OpStats(_message.Message):
    __slots__ = ("op", "count", "errors", "bytes", "seconds", "frames", "buckets")
    OP_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    ERRORS_FIELD_NUMBER: _ClassVar[int]
    BYTES_FIELD_NUMBER: _ClassVar[int]
    SECONDS_FIELD_NUMBER: _ClassVar[int]
    FRAMES_FIELD_NUMBER: _ClassVar[int]
    BUCKETS_FIELD_NUMBER: _ClassVar[int]
    op: str
    count: int
    errors: int
    bytes: int
    seconds: float
    frames: int
    buckets: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, op: _Optional[str] = ..., count: _Optional[int] = ..., errors: _Optional[int] = ..., bytes: _Optional[int] = ..., seconds: _Optional[float] = ..., frames: _Optional[int] = ..., buckets: _Optional[_Iterable[int]] = ...) -> None: ...

class NodeStats(_message.Message):
    __slots__ = ("ops", "connections", "refused", "started_ns")
    OPS_FIELD_NUMBER: _ClassVar[int]
    CONNECTIONS_FIELD_NUMBER: _ClassVar[int]
    REFUSED_FIELD_NUMBER: _ClassVar[int]
    STARTED_NS_FIELD_NUMBER: _ClassVar[int]
    ops: _containers.RepeatedCompositeFieldContainer[OpStats]
    connections: int
    refused: int
    started_ns: int
    def __init__(self, ops: _Optional[_Iterable[_Union[OpStats, _Mapping]]] = ..., connections: _Optional[int] = ..., refused: _Optional[int] = ..., started_ns: _Optional[int] = ...) -> None: ...

class NodeHeartbeat(_message.Message):
    __slots__ = ("node_id", "received_ns", "targets", "stats")
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    RECEIVED_NS_FIELD_NUMBER: _ClassVar[int]
    TARGETS_FIELD_NUMBER: _ClassVar[int]
    STATS_FIELD_NUMBER: _ClassVar[int]
    node_id: int
    received_ns: int
    targets: _containers.RepeatedCompositeFieldContainer[TargetReport]
    stats: NodeStats
    def __init__(self, node_id: _Optional[int] = ..., received_ns: _Optional[int] = ..., targets: _Optional[_Iterable[_Union[TargetReport, _Mapping]]] = ..., stats: _Optional[_Union[NodeStats, _Mapping]] = ...) -> None: ...

class ManagerLease(_message.Message):
    __slots__ = ("holder", "expiry_ns")
    HOLDER_FIELD_NUMBER: _ClassVar[int]
    EXPIRY_NS_FIELD_NUMBER: _ClassVar[int]
    holder: str
    expiry_ns: int
    def __init__(self, holder: _Optional[str] = ..., expiry_ns: _Optional[int] = ...) -> None: ...

class HeartbeatRequest(_message.Message):
    __slots__ = ("node_id", "targets", "stats")
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    TARGETS_FIELD_NUMBER: _ClassVar[int]
    STATS_FIELD_NUMBER: _ClassVar[int]
    node_id: int
    targets: _containers.RepeatedCompositeFieldContainer[TargetReport]
    stats: NodeStats
    def __init__(self, node_id: _Optional[int] = ..., targets: _Optional[_Iterable[_Union[TargetReport, _Mapping]]] = ..., stats: _Optional[_Union[NodeStats, _Mapping]] = ...) -> None: ...

class HeartbeatReply(_message.Message):
    __slots__ = ("routing_version",)
    ROUTING_VERSION_FIELD_NUMBER: _ClassVar[int]
    routing_version: int
    def __init__(self, routing_version: _Optional[int] = ...) -> None: ...

class GetRoutingInfoRequest(_message.Message):
    __slots__ = ("known_version", "with_history")
    KNOWN_VERSION_FIELD_NUMBER: _ClassVar[int]
    WITH_HISTORY_FIELD_NUMBER: _ClassVar[int]
    known_version: int
    with_history: bool
    def __init__(self, known_version: _Optional[int] = ..., with_history: _Optional[bool] = ...) -> None: ...

class GetRoutingInfoReply(_message.Message):
    __slots__ = ("unchanged", "routing", "call_address")
    UNCHANGED_FIELD_NUMBER: _ClassVar[int]
    ROUTING_FIELD_NUMBER: _ClassVar[int]
    CALL_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    unchanged: bool
    routing: RoutingInfo
    call_address: str
    def __init__(self, unchanged: _Optional[bool] = ..., routing: _Optional[_Union[RoutingInfo, _Mapping]] = ..., call_address: _Optional[str] = ...) -> None: ...

class GetDataTokenRequest(_message.Message):
    __slots__ = ("client",)
    CLIENT_FIELD_NUMBER: _ClassVar[int]
    client: str
    def __init__(self, client: _Optional[str] = ...) -> None: ...

class GetDataTokenReply(_message.Message):
    __slots__ = ("token", "expiry_unix")
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    EXPIRY_UNIX_FIELD_NUMBER: _ClassVar[int]
    token: bytes
    expiry_unix: int
    def __init__(self, token: _Optional[bytes] = ..., expiry_unix: _Optional[int] = ...) -> None: ...

class SetTargetOfflineRequest(_message.Message):
    __slots__ = ("target_id", "offline")
    TARGET_ID_FIELD_NUMBER: _ClassVar[int]
    OFFLINE_FIELD_NUMBER: _ClassVar[int]
    target_id: int
    offline: bool
    def __init__(self, target_id: _Optional[int] = ..., offline: _Optional[bool] = ...) -> None: ...

class SetTargetOfflineReply(_message.Message):
    __slots__ = ("target",)
    TARGET_FIELD_NUMBER: _ClassVar[int]
    target: TargetInfo
    def __init__(self, target: _Optional[_Union[TargetInfo, _Mapping]] = ...) -> None: ...

class ReportUnreachableRequest(_message.Message):
    __slots__ = ("address", "client")
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    CLIENT_FIELD_NUMBER: _ClassVar[int]
    address: str
    client: str
    def __init__(self, address: _Optional[str] = ..., client: _Optional[str] = ...) -> None: ...

class ReportUnreachableReply(_message.Message):
    __slots__ = ("suspected",)
    SUSPECTED_FIELD_NUMBER: _ClassVar[int]
    suspected: bool
    def __init__(self, suspected: _Optional[bool] = ...) -> None: ...

class CreateChainTableRequest(_message.Message):
    __slots__ = ("replicas", "table_id")
    REPLICAS_FIELD_NUMBER: _ClassVar[int]
    TABLE_ID_FIELD_NUMBER: _ClassVar[int]
    replicas: int
    table_id: int
    def __init__(self, replicas: _Optional[int] = ..., table_id: _Optional[int] = ...) -> None: ...

class CreateChainTableReply(_message.Message):
    __slots__ = ("table", "chains")
    TABLE_FIELD_NUMBER: _ClassVar[int]
    CHAINS_FIELD_NUMBER: _ClassVar[int]
    table: ChainTable
    chains: _containers.RepeatedCompositeFieldContainer[ChainInfo]
    def __init__(self, table: _Optional[_Union[ChainTable, _Mapping]] = ..., chains: _Optional[_Iterable[_Union[ChainInfo, _Mapping]]] = ...) -> None: ...

class DrainNodeRequest(_message.Message):
    __slots__ = ("node_id", "dry_run")
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    DRY_RUN_FIELD_NUMBER: _ClassVar[int]
    node_id: int
    dry_run: bool
    def __init__(self, node_id: _Optional[int] = ..., dry_run: _Optional[bool] = ...) -> None: ...

class GrowChainsRequest(_message.Message):
    __slots__ = ("table_id", "dry_run")
    TABLE_ID_FIELD_NUMBER: _ClassVar[int]
    DRY_RUN_FIELD_NUMBER: _ClassVar[int]
    table_id: int
    dry_run: bool
    def __init__(self, table_id: _Optional[int] = ..., dry_run: _Optional[bool] = ...) -> None: ...

class ReplicaMovesReply(_message.Message):
    __slots__ = ("moves", "chains", "table")
    MOVES_FIELD_NUMBER: _ClassVar[int]
    CHAINS_FIELD_NUMBER: _ClassVar[int]
    TABLE_FIELD_NUMBER: _ClassVar[int]
    moves: _containers.RepeatedCompositeFieldContainer[ReplicaMove]
    chains: _containers.RepeatedCompositeFieldContainer[ChainInfo]
    table: ChainTable
    def __init__(self, moves: _Optional[_Iterable[_Union[ReplicaMove, _Mapping]]] = ..., chains: _Optional[_Iterable[_Union[ChainInfo, _Mapping]]] = ..., table: _Optional[_Union[ChainTable, _Mapping]] = ...) -> None: ...

class RemoveNodeRequest(_message.Message):
    __slots__ = ("node_id",)
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    node_id: int
    def __init__(self, node_id: _Optional[int] = ...) -> None: ...

class RemoveNodeReply(_message.Message):
    __slots__ = ("node", "target_ids")
    NODE_FIELD_NUMBER: _ClassVar[int]
    TARGET_IDS_FIELD_NUMBER: _ClassVar[int]
    node: NodeInfo
    target_ids: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, node: _Optional[_Union[NodeInfo, _Mapping]] = ..., target_ids: _Optional[_Iterable[int]] = ...) -> None: ...

class ScrubRequest(_message.Message):
    __slots__ = ("chain_id",)
    CHAIN_ID_FIELD_NUMBER: _ClassVar[int]
    chain_id: int
    def __init__(self, chain_id: _Optional[int] = ...) -> None: ...

class ScrubRepair(_message.Message):
    __slots__ = ("inode", "index", "action", "targets", "detail")
    INODE_FIELD_NUMBER: _ClassVar[int]
    INDEX_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    TARGETS_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    inode: int
    index: int
    action: str
    targets: _containers.RepeatedScalarFieldContainer[int]
    detail: str
    def __init__(self, inode: _Optional[int] = ..., index: _Optional[int] = ..., action: _Optional[str] = ..., targets: _Optional[_Iterable[int]] = ..., detail: _Optional[str] = ...) -> None: ...

class ChainScrubReport(_message.Message):
    __slots__ = ("chain_id", "chain_version", "targets", "chunks", "restored", "removed", "pending", "undecided", "failed", "skipped", "repairs")
    CHAIN_ID_FIELD_NUMBER: _ClassVar[int]
    CHAIN_VERSION_FIELD_NUMBER: _ClassVar[int]
    TARGETS_FIELD_NUMBER: _ClassVar[int]
    CHUNKS_FIELD_NUMBER: _ClassVar[int]
    RESTORED_FIELD_NUMBER: _ClassVar[int]
    REMOVED_FIELD_NUMBER: _ClassVar[int]
    PENDING_FIELD_NUMBER: _ClassVar[int]
    UNDECIDED_FIELD_NUMBER: _ClassVar[int]
    FAILED_FIELD_NUMBER: _ClassVar[int]
    SKIPPED_FIELD_NUMBER: _ClassVar[int]
    REPAIRS_FIELD_NUMBER: _ClassVar[int]
    chain_id: int
    chain_version: int
    targets: _containers.RepeatedScalarFieldContainer[int]
    chunks: int
    restored: int
    removed: int
    pending: int
    undecided: int
    failed: int
    skipped: str
    repairs: _containers.RepeatedCompositeFieldContainer[ScrubRepair]
    def __init__(self, chain_id: _Optional[int] = ..., chain_version: _Optional[int] = ..., targets: _Optional[_Iterable[int]] = ..., chunks: _Optional[int] = ..., restored: _Optional[int] = ..., removed: _Optional[int] = ..., pending: _Optional[int] = ..., undecided: _Optional[int] = ..., failed: _Optional[int] = ..., skipped: _Optional[str] = ..., repairs: _Optional[_Iterable[_Union[ScrubRepair, _Mapping]]] = ...) -> None: ...

class ScrubReply(_message.Message):
    __slots__ = ("chains", "seconds")
    CHAINS_FIELD_NUMBER: _ClassVar[int]
    SECONDS_FIELD_NUMBER: _ClassVar[int]
    chains: _containers.RepeatedCompositeFieldContainer[ChainScrubReport]
    seconds: float
    def __init__(self, chains: _Optional[_Iterable[_Union[ChainScrubReport, _Mapping]]] = ..., seconds: _Optional[float] = ...) -> None: ...
