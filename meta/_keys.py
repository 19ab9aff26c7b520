"""The meta service's key layout in the KV store.

    INOD<id:u64>                  -> Inode             one per file, directory, symlink
    DENT<parent:u64><name utf-8>  -> Dentry            a directory's listing is one range scan
    SESS<inode:u64><session:u64>  -> Session           a file open for writing
    TMST<inode:u64><session:u64>  -> b""               an mtime was set explicitly while that session was open
    RSES<inode:u64><session:u64>  -> Session           a file open for reading only
    ORPH<inode:u64>               -> i64 ns            a removed file still open: its inode stays (nlink 0)
    GCQ_<inode:u64>               -> GarbageEntry      removed inodes whose chunks await reclamation
    IDAL                          -> u64               next unallocated inode id
    NODE<id:u32>                  -> NodeInfo          storage nodes
    TRGT<id:u32>                  -> TargetInfo        storage targets
    CHAN<id:u32>                  -> ChainInfo         replication chains
    CTBL<id:u32>                  -> ChainTable        chain tables
    RTVR                          -> u64               routing info version: bumps on any cluster change
    CLID                          -> u32 counters      next node/target/chain id
    SECR                          -> 32 bytes          cluster secret: signs data-plane tokens
    HBEAT<node:u32>               -> NodeHeartbeat     a node's last heartbeat
    REQS<request id>              -> AppliedRequest    replies of applied mutations (retry safety)
    USER<name>                    -> User              users
    TOKN<sha256 of a token>       -> user name         token index
    MGRL                          -> ManagerLease      which meta server acts as the cluster manager
    MSRV<address>                 -> i64 ns            meta servers, with the time each last said it lives
    QTRE<dir:u64>                 -> Quota             a directory tree's quota and usage
    QUSR<uid:u32>                 -> Quota             a user's quota and usage
    LOCK<inode:u64><kind:u8><owner> -> LockRecord      an owner's POSIX locks or flock of a file
    LKLS<client>                  -> u64 ns            until when a client's locks hold (renewed with its sessions)
    XATR<inode:u64><name utf-8>   -> value bytes       an inode's extended attributes
    CHBM<inode:u64>               -> bitmap            which chunks of a file writers stored (bit i: chunk i)
    UNRP<node:u32><reporter>      -> u64 ns            a client's last report that it cannot reach a node
    MOVE<chain:u32>               -> ReplicaMove       a replica moving to another target (drain, growth)
    RMND<node:u32>                -> u64 ns            a node removed from the cluster: may not register again

Integers are big-endian so that key order is numeric order.
"""

from __future__ import annotations

import struct

from .kv import prefix_end

_U64 = struct.Struct(">Q")
_U32 = struct.Struct(">I")

INODE = b"INOD"
DENTRY = b"DENT"
SESSION = b"SESS"
TIMES_SET = b"TMST"
READER = b"RSES"
ORPHAN = b"ORPH"
GARBAGE = b"GCQ_"
INODE_ALLOC = b"IDAL"
NODE = b"NODE"
TARGET = b"TRGT"
CHAIN = b"CHAN"
CHAIN_TABLE = b"CTBL"
ROUTING_VERSION = b"RTVR"
ID_COUNTER = b"CLID"
CLUSTER_SECRET = b"SECR"
HEARTBEAT = b"HBEAT"
REQUEST = b"REQS"
USER = b"USER"
TOKEN = b"TOKN"
META_SERVER = b"MSRV"
MANAGER_LEASE = b"MGRL"
QUOTA_TREE = b"QTRE"
QUOTA_USER = b"QUSR"
LOCK = b"LOCK"
LOCK_LEASE = b"LKLS"
XATTR = b"XATR"
CHUNK_BITMAP = b"CHBM"
UNREACHABLE = b"UNRP"
MOVE = b"MOVE"
REMOVED_NODE = b"RMND"


def u64(n: int) -> bytes:
    return _U64.pack(n)


def read_u64(b: bytes, offset: int = 0) -> int:
    return _U64.unpack_from(b, offset)[0]


def inode(ino: int) -> bytes:
    return INODE + _U64.pack(ino)


def dentry(parent: int, name: str) -> bytes:
    return DENTRY + _U64.pack(parent) + name.encode("utf-8")


def dentry_prefix(parent: int) -> bytes:
    return DENTRY + _U64.pack(parent)


def dentry_name(key: bytes) -> str:
    return key[len(DENTRY) + 8 :].decode("utf-8")


def session(ino: int, sid: int) -> bytes:
    return SESSION + _U64.pack(ino) + _U64.pack(sid)


def session_prefix(ino: int) -> bytes:
    return SESSION + _U64.pack(ino)


def reader(ino: int, sid: int) -> bytes:
    return READER + _U64.pack(ino) + _U64.pack(sid)


def reader_prefix(ino: int) -> bytes:
    return READER + _U64.pack(ino)


def orphan(ino: int) -> bytes:
    return ORPHAN + _U64.pack(ino)


def times_set(ino: int, sid: int) -> bytes:
    return TIMES_SET + _U64.pack(ino) + _U64.pack(sid)


def garbage(ino: int) -> bytes:
    return GARBAGE + _U64.pack(ino)


def node(node_id: int) -> bytes:
    return NODE + _U32.pack(node_id)


def target(target_id: int) -> bytes:
    return TARGET + _U32.pack(target_id)


def chain(chain_id: int) -> bytes:
    return CHAIN + _U32.pack(chain_id)


def chain_table(table_id: int) -> bytes:
    return CHAIN_TABLE + _U32.pack(table_id)


def heartbeat(node_id: int) -> bytes:
    return HEARTBEAT + _U32.pack(node_id)


def request(request_id: str) -> bytes:
    return REQUEST + request_id.encode()


def quota_tree(directory: int) -> bytes:
    return QUOTA_TREE + _U64.pack(directory)


def quota_user(uid: int) -> bytes:
    return QUOTA_USER + _U32.pack(uid)


def lock_prefix(ino: int, kind: int) -> bytes:
    return LOCK + _U64.pack(ino) + bytes([kind])


def lock(ino: int, kind: int, owner: str) -> bytes:
    return lock_prefix(ino, kind) + owner.encode()


def lock_lease(client: str) -> bytes:
    return LOCK_LEASE + client.encode()


def xattr(ino: int, name: str) -> bytes:
    return XATTR + _U64.pack(ino) + name.encode("utf-8", "surrogateescape")


def xattr_prefix(ino: int) -> bytes:
    return XATTR + _U64.pack(ino)


def chunk_bitmap(ino: int) -> bytes:
    return CHUNK_BITMAP + _U64.pack(ino)


def move(chain_id: int) -> bytes:
    return MOVE + _U32.pack(chain_id)


def removed_node(node_id: int) -> bytes:
    return REMOVED_NODE + _U32.pack(node_id)


def unreachable(node_id: int, reporter: str) -> bytes:
    return UNREACHABLE + _U32.pack(node_id) + reporter.encode()


def unreachable_node(key: bytes) -> int:
    return _U32.unpack_from(key, len(UNREACHABLE))[0]


def user(name: str) -> bytes:
    return USER + name.encode()


def token(digest: bytes) -> bytes:
    return TOKEN + digest


def meta_server(address: str) -> bytes:
    return META_SERVER + address.encode()


def id_counter(kind: str) -> bytes:
    return ID_COUNTER + kind.encode()


def prefix_range(prefix: bytes) -> tuple[bytes, bytes]:
    return prefix, prefix_end(prefix)
