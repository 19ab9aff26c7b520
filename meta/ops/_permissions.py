"""Who is asking (``Cred``) and what POSIX lets them do: mode bits for the owner, the group and the
others; root may do anything (but execute a file nobody may execute); sticky directories."""

from __future__ import annotations

from dataclasses import dataclass

from fs3._errors import NotPermitted, PermissionDenied
from fs3.proto import meta_pb2

from ._records import FILE

R, W, X = 4, 2, 1


@dataclass(frozen=True)
class Cred:
    """Who is asking: the user behind the token of the call."""

    uid: int
    gid: int
    groups: tuple[int, ...] = ()
    admin: bool = False
    name: str = ""

    @property
    def root(self) -> bool:
        return self.uid == 0

    def in_group(self, gid: int) -> bool:
        return gid == self.gid or gid in self.groups


ROOT_CRED = Cred(0, 0, (), True, "root")


def may(inode: meta_pb2.Inode, cred: Cred, want: int) -> bool:
    """POSIX permission check: the owner's bits, else the group's, else the others'; root may do
    anything (but execute a file nobody may execute)."""
    if cred.root:
        return not (want & X and inode.type == FILE and not inode.mode & 0o111)
    if cred.uid == inode.uid:
        bits = inode.mode >> 6
    elif cred.in_group(inode.gid):
        bits = inode.mode >> 3
    else:
        bits = inode.mode
    return bits & want == want


def check(inode: meta_pb2.Inode, cred: Cred, want: int, path: str) -> None:
    """EACCES unless ``cred`` may ``want`` (R, W, X bits) on ``inode``."""
    if not may(inode, cred, want):
        raise PermissionDenied("Permission denied", path=path)


def check_owner(inode: meta_pb2.Inode, cred: Cred, path: str) -> None:
    """EPERM unless ``cred`` owns ``inode`` (or is root)."""
    if not cred.root and cred.uid != inode.uid:
        raise NotPermitted("Operation not permitted (not the owner)", path=path)


def check_unlink(parent: meta_pb2.Inode, inode: meta_pb2.Inode | None, cred: Cred, path: str) -> None:
    """May ``cred`` take a name out of ``parent``: write and search permission on it, and in a sticky
    directory (like /tmp or /.trash) only the owner of the entry or of the directory may."""
    check(parent, cred, W | X, path)
    if parent.mode & 0o1000 and not cred.root and cred.uid != parent.uid and (
        inode is None or cred.uid != inode.uid
    ):
        raise NotPermitted("Operation not permitted (sticky directory: not the owner)", path=path)


def acting(cred: Cred, req) -> Cred:
    """Who a creating call runs as: the token's user, or the request's ``caller`` (a mount's local user,
    from its FUSE request) when the token is an admin's. Any other token sending a caller is refused:
    it would let a user make inodes owned by someone else."""
    if not req.HasField("caller"):
        return cred
    if not cred.admin:
        raise NotPermitted("Operation not permitted: acting for another user needs an admin token "
                           f"(you are {cred.name!r})", path=getattr(req, "path", None))
    c = req.caller
    return Cred(c.uid, c.gid, tuple(c.groups), False, f"uid {c.uid}")


def new_owner(parent: meta_pb2.Inode, cred: Cred) -> tuple[int, int]:
    """The uid and gid of an inode ``cred`` makes in ``parent``: the creator's, but the directory's
    group when the directory is setgid (as on Linux)."""
    return cred.uid, parent.gid if parent.mode & 0o2000 else cred.gid


def new_file_mode(mode: int, gid: int, cred: Cred) -> int:
    """The mode a new non-directory gets: setgid (with group execute) is dropped when its group is one
    the creator is not in (a setgid directory gave it) and the creator is not root, as Linux does: no
    one makes a program that runs as a group they are not in."""
    if mode & 0o2010 == 0o2010 and not cred.root and not cred.in_group(gid):
        return mode & ~0o2000
    return mode
