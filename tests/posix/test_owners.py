"""Owners, modes, special files, hard links and extended attributes on `fs3 mount --allow-other`,
compared with a local directory: a real non-root account (made with ``useradd``) makes, appends to,
chmods and removes its own files; the umask and mode 0 apply; setgid directories pass their group on;
``mkfifo`` makes a fifo; hard links share ``st_ino``; xattrs behave as on ext4."""

from __future__ import annotations

import errno
import json
import os
import shutil
import stat
import struct
import subprocess
import threading
import uuid
from pathlib import Path

import pytest
from _accounts import local_account
from _fuse import fs3, mounted

PY = "/usr/bin/python3"  # a Python any account may run (the venv's may sit below a private directory)


@pytest.fixture(scope="module")
def shared_mount(cluster):
    """The session cluster mounted with --allow-other where every account can reach it (pytest's
    temporary directories are root's alone)."""
    if os.geteuid() != 0:
        pytest.skip("needs root (to mount with --allow-other and to make a local account)")
    where = Path(f"/tmp/fs3-owners-{uuid.uuid4().hex[:8]}")
    where.mkdir(mode=0o755)
    with mounted(cluster, where, "--allow-other", log=Path(f"{where}.log")):
        yield where
    where.rmdir()


@pytest.fixture
def roots(shared_mount):
    """A fresh world-writable sticky directory (like /tmp) on the mount and on the local disk."""
    tag = uuid.uuid4().hex[:10]
    pair = [shared_mount / f"own-{tag}", Path(f"/tmp/fs3-owners-local-{tag}")]
    for d in pair:
        d.mkdir()
        os.chmod(d, 0o1777)
    yield pair
    shutil.rmtree(pair[1], ignore_errors=True)


@pytest.fixture
def account():
    """A local account: (uid, gid)."""
    if shutil.which("useradd") is None or shutil.which("setpriv") is None:
        pytest.skip("needs useradd and setpriv")
    import pwd
    with local_account("fs3o") as name:
        entry = pwd.getpwnam(name)
        yield entry.pw_uid, entry.pw_gid


def run_as(uid: int, gid: int, script: str, *args: str) -> dict:
    """Run a Python script as uid:gid (no supplementary groups); its JSON output."""
    proc = subprocess.run(["setpriv", f"--reuid={uid}", f"--regid={gid}", "--clear-groups", PY, "-c", script,
                           *args], capture_output=True, text=True, timeout=120, cwd="/")
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


OWN_FILES = r"""
import errno, json, os, stat, sys
os.chdir(sys.argv[1])
os.umask(0o022)
out = {}
def st(name):
    s = os.lstat(name)
    return [s.st_uid == os.getuid(), s.st_gid == os.getgid(), oct(stat.S_IMODE(s.st_mode)), stat.S_IFMT(s.st_mode)]
def err(fn, *a):
    try:
        fn(*a)
        return 0
    except OSError as e:
        return errno.errorcode[e.errno]
fd = os.open("f", os.O_CREAT | os.O_WRONLY, 0o666)
os.write(fd, b"one\n")
os.close(fd)
out["f"] = st("f")
with open("f", "a") as f:
    f.write("two\n")
os.chmod("f", 0o600)
out["f chmod"] = st("f")
out["content"] = open("f").read()
os.mkdir("d", 0o777)
os.symlink("f", "l")
os.mkfifo("p", 0o666)
os.link("f", "h")
for name in ("d", "l", "p", "h"):
    out[name] = st(name)
out["same ino"] = os.stat("f").st_ino == os.stat("h").st_ino
out["nlink"] = os.stat("f").st_nlink
out["chown to root"] = err(os.chown, "f", 0, 0)
out["chmod root's"] = err(os.chmod, "rootfile", 0o777)
out["append root's"] = err(open, "rootfile", "a")
out["unlink root's"] = err(os.unlink, "rootfile")
for name in ("h", "f", "l", "p"):
    os.unlink(name)
os.rmdir("d")
out["left"] = sorted(os.listdir("."))
print(json.dumps(out))
"""


def test_a_local_user_owns_what_they_make(roots, account):
    """The issue's case: made through the mount by a non-root user, a file is theirs to append to,
    chmod and delete; what is root's stays out of their reach, as on a local disk."""
    uid, gid = account
    seen = []
    for root in roots:
        (root / "rootfile").write_text("root's\n")
        os.chmod(root / "rootfile", 0o644)
        seen.append(run_as(uid, gid, OWN_FILES, str(root)))
        seen[-1]["root sees"] = sorted(os.listdir(root))
    assert seen[0] == seen[1], [(k, seen[0][k], seen[1][k]) for k in seen[0] if seen[0][k] != seen[1][k]]
    assert seen[0]["f chmod"][:3] == [True, True, "0o600"] and seen[0]["content"] == "one\ntwo\n"
    assert seen[0]["same ino"] and seen[0]["left"] == ["rootfile"]


MODES = r"""
import json, os, stat, sys
os.chdir(sys.argv[1])
out = {}
def mode(name):
    return oct(stat.S_IMODE(os.lstat(name).st_mode))
for umask in (0o000, 0o022, 0o077, 0o027):
    os.umask(umask)
    for perm in (0, 0o666, 0o777, 0o1777):
        f, d = f"f{umask:o}-{perm:o}", f"d{umask:o}-{perm:o}"
        os.close(os.open(f, os.O_CREAT | os.O_WRONLY | os.O_EXCL, perm))
        os.mkdir(d, perm)
        out[f], out[d] = mode(f), mode(d)
os.umask(0o022)
os.mkfifo("fifo0", 0)
out["fifo0"] = mode("fifo0")
print(json.dumps(out))
"""


def test_mode_zero_and_the_umask_apply_as_locally(roots):
    seen = [run_as(0, 0, MODES, str(root)) for root in roots]
    assert seen[0] == seen[1]
    assert seen[0]["f0-0"] == "0o0" and seen[0]["d0-0"] == "0o0" and seen[0]["f27-666"] == "0o640"


SETGID = r"""
import json, os, stat, sys
os.chdir(sys.argv[1])
os.umask(0o022)
os.mkdir("g")
os.chown("g", -1, 4242)
os.chmod("g", 0o2775)
open("g/f", "w").close()
os.mkdir("g/sub")
os.symlink("f", "g/l")
print(json.dumps({n: [os.lstat(n).st_gid, oct(stat.S_IMODE(os.lstat(n).st_mode))] for n in ("g/f", "g/sub")}
                 | {"l": os.lstat("g/l").st_gid}))
"""


def test_setgid_directories_pass_their_group_on(roots):
    seen = [run_as(0, 0, SETGID, str(root)) for root in roots]
    assert seen[0] == seen[1]
    assert seen[0]["g/f"][0] == 4242 and seen[0]["g/sub"] == [4242, "0o2755"]


OUTSIDER = r"""
import json, os, stat, sys
os.chdir(sys.argv[1])
os.umask(0o022)
os.close(os.open("g/prog", os.O_CREAT | os.O_WRONLY, 0o2755))
os.close(os.open("g/plain", os.O_CREAT | os.O_WRONLY, 0o2644))
print(json.dumps({n: [os.lstat(n).st_gid, oct(stat.S_IMODE(os.lstat(n).st_mode))] for n in ("g/prog", "g/plain")}))
"""


def test_a_creator_outside_a_setgid_directorys_group_gets_no_setgid_program(roots, account):
    """Linux drops setgid from a new group-executable file whose group (from a setgid directory) the
    creator is not in: no one makes a program that runs as a group they are not in."""
    uid, gid = account
    seen = []
    for root in roots:
        os.mkdir(root / "g")
        os.chown(root / "g", -1, 4242)
        os.chmod(root / "g", 0o2777)
        seen.append(run_as(uid, gid, OUTSIDER, str(root)))
    assert seen[0] == seen[1]
    assert seen[0]["g/prog"] == [4242, "0o755"] and seen[0]["g/plain"] == [4242, "0o2644"]


def test_a_fifo_on_the_mount_is_a_pipe(roots):
    for root in roots:
        path = root / "p"
        os.mkfifo(path, 0o600)
        assert stat.S_ISFIFO(os.stat(path).st_mode)
        got = []
        reader = threading.Thread(target=lambda p=path, g=got: g.append(Path(p).read_bytes()))
        reader.start()
        path.write_bytes(b"through the kernel's pipe")
        reader.join(timeout=30)
        assert got == [b"through the kernel's pipe"]
        assert os.stat(path).st_size == 0
        os.unlink(path)
    # a socket and a device node are inodes too (devices: root's)
    for root in roots:
        os.mknod(root / "c", 0o600 | stat.S_IFCHR, os.makedev(1, 3))
        st = os.stat(root / "c")
        assert stat.S_ISCHR(st.st_mode) and st.st_rdev == os.makedev(1, 3)


def test_hard_links_share_st_ino(roots):
    mnt, _ = roots
    (mnt / "a").write_text("x")
    os.link(mnt / "a", mnt / "b")
    a, b = os.stat(mnt / "a"), os.stat(mnt / "b")
    assert a.st_ino == b.st_ino and a.st_nlink == b.st_nlink == 2
    assert os.stat(mnt / "a").st_ino == a.st_ino  # stable across lookups
    names = {e.name: e.inode() for e in os.scandir(mnt)}
    assert names["a"] == names["b"] == a.st_ino


def _errno_of(fn, *args) -> int:
    try:
        fn(*args)
    except OSError as exc:
        return exc.errno
    return 0


def test_xattrs_as_on_a_local_disk(roots):
    seen = []
    for root in roots:
        f = root / "f"
        f.write_text("x")
        os.setxattr(f, "user.a", b"1")
        os.setxattr(f, "user.empty", b"")
        out = {
            "list": sorted(os.listxattr(f)),
            "a": os.getxattr(f, "user.a"),
            "empty": os.getxattr(f, "user.empty"),
            "missing": _errno_of(os.getxattr, f, "user.missing"),
            "create existing": _errno_of(os.setxattr, f, "user.a", b"2", os.XATTR_CREATE),
            "replace missing": _errno_of(os.setxattr, f, "user.b", b"2", os.XATTR_REPLACE),
            "long name": _errno_of(os.setxattr, f, "user." + "n" * 251, b"2"),
            "too big": _errno_of(os.setxattr, f, "user.big", b"v" * (64 * 1024 + 1)),
            "remove missing": _errno_of(os.removexattr, f, "user.missing"),
        }
        os.setxattr(f, "user.a", b"2", os.XATTR_REPLACE)
        os.removexattr(f, "user.empty")
        out["after"] = [os.listxattr(f), os.getxattr(f, "user.a")]
        os.mkdir(root / "d")
        os.setxattr(root / "d", "user.dir", b"yes")
        out["dir"] = os.getxattr(root / "d", "user.dir")
        seen.append(out)
    assert seen[0] == seen[1]
    assert seen[0]["missing"] == errno.ENODATA


def test_fs3_stat_shows_xattrs(cluster, roots):
    mnt, _ = roots
    (mnt / "f").write_text("x")
    os.setxattr(mnt / "f", "user.colour", b"blue")
    out = fs3(cluster, "stat", f"/{mnt.name}/f").stdout.decode()
    assert "user.colour" in out and "blue" in out
    info = json.loads(fs3(cluster, "stat", "--json", f"/{mnt.name}/f").stdout)
    assert info["xattrs"] == {"user.colour": "blue"}


DEEP = r"""
import json, os, sys
os.chdir(sys.argv[1])
out = []
for depth in range(30):  # 30 levels of 200-byte names: over 6,000 bytes below the root
    os.mkdir("d" * 200)
    os.chdir("d" * 200)
with open("f", "w") as f:
    f.write("deep")
out.append(open("f").read())
try:
    os.mkdir("n" * 256)
except OSError as exc:
    out.append(exc.errno)
print(json.dumps(out))
"""


def test_path_length_is_the_callers_not_the_mounts(roots):
    """A local disk limits each name (255 bytes) and each path a call passes (PATH_MAX), not how deep
    a tree goes: relative paths reach below 4 KiB. The mount's own paths grow with the depth."""
    seen = [run_as(0, 0, DEEP, str(root)) for root in roots]
    assert seen[0] == seen[1] == ["deep", errno.ENAMETOOLONG]


def test_a_write_drops_file_capabilities_as_locally(roots):
    """The kernel asks for security.capability before each write (the mount remembers a missing one
    for a moment instead of asking meta every time: client/_mount_xattrs.py), and drops it when a file
    that has one is written. Setting one through the mount must be seen at once all the same."""
    caps = struct.pack("<5I", 0x02000000, 1 << 10, 0, 0, 0)  # v2: cap_net_bind_service, permitted
    seen = []
    for root in roots:
        f = root / "tool"
        with open(f, "wb") as out:
            for _ in range(5):
                out.write(b"#" * 100)
                out.flush()
        os.setxattr(f, "security.capability", caps)
        before = os.getxattr(f, "security.capability")
        with open(f, "ab") as out:
            out.write(b"more")
        seen.append([before == caps, _errno_of(os.getxattr, f, "security.capability"), f.stat().st_size])
    assert seen[0] == seen[1] == [True, errno.ENODATA, 504]


def test_st_blocks_leaves_out_the_holes_of_a_sparse_file(roots):
    """du of a sparse file counts what is stored, not its length (fs3 counts whole chunks that some
    writer stored: meta/ops/_stored.py; ext4 counts 4 KiB blocks)."""
    for root in roots:
        with open(root / "sparse", "wb") as f:
            f.seek(10 << 20)
            f.write(b"x")
        (root / "dense").write_bytes(os.urandom(300_000))
        sparse, dense = os.stat(root / "sparse"), os.stat(root / "dense")
        assert sparse.st_size == (10 << 20) + 1 and sparse.st_blocks * 512 < (1 << 20), root
        assert dense.st_blocks * 512 >= 300_000, root
        du = subprocess.run(["du", "-k", str(root / "sparse")], capture_output=True, text=True, check=True)
        assert int(du.stdout.split()[0]) < 1024, root


LIST = r"""
import json, os, sys
print(json.dumps(sorted(os.listxattr(sys.argv[1]))))
"""


def test_trusted_attributes_are_listed_for_root_only(roots, account):
    """The mount asks meta with root's token, so it hides trusted.* names from other callers itself."""
    uid, gid = account
    seen = []
    for root in roots:
        f = root / "f"
        f.write_text("x")
        os.chmod(f, 0o644)
        os.setxattr(f, "user.u", b"1")
        os.setxattr(f, "trusted.t", b"2")
        seen.append((sorted(os.listxattr(f)), run_as(uid, gid, LIST, str(f))))
        assert _errno_of(os.getxattr, f, "trusted.t") == 0
    assert seen[0] == seen[1]
    assert seen[0] == (["trusted.t", "user.u"], ["user.u"])
