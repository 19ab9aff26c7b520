"""What the client hands back: file status and directory entries."""

from __future__ import annotations

import stat as _stat
from dataclasses import dataclass

from fs3.proto import meta_pb2

_TYPE_NAME = {meta_pb2.FILE: "file", meta_pb2.DIRECTORY: "directory", meta_pb2.SYMLINK: "symlink",
              meta_pb2.FIFO: "fifo", meta_pb2.CHAR_DEVICE: "char_device", meta_pb2.BLOCK_DEVICE: "block_device",
              meta_pb2.SOCKET: "socket"}
_TYPE_BITS = {"file": _stat.S_IFREG, "directory": _stat.S_IFDIR, "symlink": _stat.S_IFLNK, "fifo": _stat.S_IFIFO,
              "char_device": _stat.S_IFCHR, "block_device": _stat.S_IFBLK, "socket": _stat.S_IFSOCK}
TYPE_BITS = {kind: _TYPE_BITS[name] for kind, name in _TYPE_NAME.items()}  # by meta_pb2.InodeType


@dataclass(frozen=True)
class FileStat:
    """Status of one inode; ``st_*`` aliases make it usable where ``os.stat_result`` is expected."""

    path: str
    inode: int
    type: str           # "file", "directory", "symlink", "fifo", "char_device", "block_device" or "socket"
    size: int
    mode: int           # permission bits
    uid: int
    gid: int
    nlink: int
    atime_ns: int
    mtime_ns: int
    ctime_ns: int
    chunk_size: int
    stripe: int
    chains: tuple[int, ...]
    symlink_target: str = ""
    rdev: int = 0       # a device's number
    blocks: int = 0     # 512-byte blocks stored (a sparse file's holes not counted: meta/ops/_stored.py)

    @classmethod
    def from_inode(cls, path: str, inode: meta_pb2.Inode) -> FileStat:
        return cls(
            path=path, inode=inode.id, type=_TYPE_NAME.get(inode.type, "unknown"), size=inode.length,
            mode=inode.mode, uid=inode.uid, gid=inode.gid, nlink=inode.nlink,
            atime_ns=inode.atime_ns, mtime_ns=inode.mtime_ns, ctime_ns=inode.ctime_ns,
            chunk_size=inode.layout.chunk_size, stripe=inode.layout.stripe,
            chains=tuple(inode.layout.chains), symlink_target=inode.symlink_target, rdev=inode.rdev,
            blocks=-(-(inode.stored if inode.stored_known else inode.length) // 512),
        )

    @property
    def name(self) -> str:
        return self.path.rstrip("/").rsplit("/", 1)[-1] or "/"

    @property
    def is_dir(self) -> bool:
        return self.type == "directory"

    @property
    def is_file(self) -> bool:
        return self.type == "file"

    @property
    def st_mode(self) -> int:
        return _TYPE_BITS.get(self.type, 0) | self.mode

    @property
    def st_size(self) -> int:
        return self.size

    @property
    def st_ino(self) -> int:
        return self.inode

    @property
    def st_blocks(self) -> int:
        return self.blocks

    @property
    def st_rdev(self) -> int:
        return self.rdev

    @property
    def st_nlink(self) -> int:
        return self.nlink

    @property
    def st_uid(self) -> int:
        return self.uid

    @property
    def st_gid(self) -> int:
        return self.gid

    @property
    def st_mtime(self) -> float:
        return self.mtime_ns / 1e9

    @property
    def st_atime(self) -> float:
        return self.atime_ns / 1e9

    @property
    def st_ctime(self) -> float:
        return self.ctime_ns / 1e9
