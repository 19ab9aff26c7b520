"""Model-based test: the same random namespace operations applied to fs3 and to a local directory must
give the same results and the same errno values, and leave the same tree.

The local directory is the model (Linux's own semantics). The tests run as root on both sides (the
session cluster's admin token is root's; root bypasses permission bits in both), so chmod is compared
through the modes it leaves. Symlink targets are relative and stay inside the tree, so both sides
resolve them the same way.
"""

from __future__ import annotations

import errno
import os
import shutil
import stat as _stat
import tempfile
import uuid

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

NAMES = ["a", "b", "c"]
PATHS = NAMES + [f"{x}/{y}" for x in NAMES for y in NAMES]  # relative to the tree's root
TARGETS = NAMES + ["a/b", "b/c", "c/a", "."]               # symlink contents (relative, never escaping)

paths = st.sampled_from(PATHS)
data = st.binary(max_size=96)


def outcome(fn):
    """What an operation did: ("ok", value) or ("err", errno)."""
    try:
        return ("ok", fn())
    except OSError as exc:
        return ("err", exc.errno)


def _kind(mode: int) -> str:
    if _stat.S_ISDIR(mode):
        return "directory"
    if _stat.S_ISLNK(mode):
        return "symlink"
    return "file"


class NamespaceModel(RuleBasedStateMachine):
    client = None  # set by the test (the session client)
    steps = 0      # operations compared, over all examples

    @initialize()
    def setup(self):
        self.local = tempfile.mkdtemp(prefix="fs3-model-")
        self.remote = f"/model-{uuid.uuid4().hex[:10]}"
        self.client.mkdir(self.remote)

    def teardown(self):
        if hasattr(self, "local"):
            try:
                self.compare_contents()
            finally:
                shutil.rmtree(self.local, ignore_errors=True)
                self.client.remove(self.remote, recursive=True)

    def lp(self, rel: str) -> str:
        return os.path.join(self.local, rel)

    def rp(self, rel: str) -> str:
        return f"{self.remote}/{rel}"

    def same(self, local_fn, remote_fn):
        NamespaceModel.steps += 1
        expected, got = outcome(local_fn), outcome(remote_fn)
        assert got == expected, f"local {expected} but fs3 {got}"
        return expected

    # -- operations --------------------------------------------------------------------------------

    @rule(path=paths, content=data)
    def create(self, path, content):
        def local():
            with open(self.lp(path), "wb") as f:
                return f.write(content)

        self.same(local, lambda: self.client.write(self.rp(path), content))

    @rule(path=paths, offset=st.integers(0, 150), content=data)
    def write_at(self, path, offset, content):
        def local():
            with open(self.lp(path), "r+b") as f:
                f.seek(offset)
                return f.write(content)

        self.same(local, lambda: self.client.write(self.rp(path), content, offset=offset))

    @rule(path=paths)
    def read(self, path):
        def local():
            with open(self.lp(path), "rb") as f:
                return f.read()

        self.same(local, lambda: self.client.read(self.rp(path)))

    @rule(path=paths)
    def mkdir(self, path):
        self.same(lambda: os.mkdir(self.lp(path)), lambda: self.client.mkdir(self.rp(path)) and None)

    @rule(src=paths, dst=paths)
    def rename(self, src, dst):
        self.same(lambda: os.rename(self.lp(src), self.lp(dst)),
                  lambda: self.client.rename(self.rp(src), self.rp(dst)) and None)

    @rule(src=paths, dst=paths)
    def link(self, src, dst):
        self.same(lambda: os.link(self.lp(src), self.lp(dst), follow_symlinks=False),
                  lambda: self.client.link(self.rp(src), self.rp(dst)) and None)

    @rule(content=st.sampled_from(TARGETS), path=paths)
    def symlink(self, content, path):
        self.same(lambda: os.symlink(content, self.lp(path)),
                  lambda: self.client.symlink(content, self.rp(path)) and None)

    @rule(path=paths)
    def readlink(self, path):
        self.same(lambda: os.readlink(self.lp(path)), lambda: self.client.readlink(self.rp(path)))

    @rule(path=paths)
    def unlink(self, path):
        self.same(lambda: os.unlink(self.lp(path)), lambda: self.client.unlink(self.rp(path)))

    @rule(path=paths)
    def rmdir(self, path):
        self.same(lambda: os.rmdir(self.lp(path)), lambda: self.client.rmdir(self.rp(path)))

    @rule(path=paths, length=st.integers(0, 200))
    def truncate(self, path, length):
        self.same(lambda: os.truncate(self.lp(path), length),
                  lambda: self.client.truncate(self.rp(path), length) and None)

    @rule(path=paths, mode=st.sampled_from([0o600, 0o644, 0o700, 0o755, 0o1777, 0o444]))
    def chmod(self, path, mode):
        self.same(lambda: os.chmod(self.lp(path), mode), lambda: self.client.chmod(self.rp(path), mode) and None)

    # -- the trees ---------------------------------------------------------------------------------

    @invariant()
    def same_entries(self):
        if not hasattr(self, "local"):
            return
        remote = self.client.stat_many([self.rp(p) for p in PATHS], follow_symlinks=False)
        for rel, r in zip(PATHS, remote, strict=True):
            try:
                s = os.lstat(self.lp(rel))
            except OSError as exc:
                assert isinstance(r, OSError) and r.errno == exc.errno, f"{rel}: local errno {exc.errno}, fs3 {r}"
                continue
            assert not isinstance(r, OSError), f"{rel}: exists locally, fs3 says {r}"
            kind = _kind(s.st_mode)
            assert r.type == kind, f"{rel}: local {kind}, fs3 {r.type}"
            if kind != "symlink":
                assert r.mode == _stat.S_IMODE(s.st_mode), f"{rel}: mode local {oct(s.st_mode)} fs3 {oct(r.mode)}"
            if kind == "file":
                assert (r.size, r.nlink) == (s.st_size, s.st_nlink), f"{rel}: size/links differ"
            if kind == "directory":
                assert r.nlink == s.st_nlink, f"{rel}: directory links local {s.st_nlink} fs3 {r.nlink}"

    def compare_contents(self):
        for rel in PATHS:
            p = self.lp(rel)
            if os.path.islink(p):
                assert self.client.readlink(self.rp(rel)) == os.readlink(p)
            elif os.path.isfile(p):
                with open(p, "rb") as f:
                    assert self.client.read(self.rp(rel)) == f.read(), rel


def test_fs3_behaves_like_a_local_directory(client):
    NamespaceModel.client = client
    run = NamespaceModel.TestCase
    examples = int(os.environ.get("FS3_MODEL_EXAMPLES", "15"))  # raise it for a longer hunt
    run.settings = settings(max_examples=examples, stateful_step_count=30, deadline=None,
                            suppress_health_check=list(HealthCheck))
    run().runTest()
    assert NamespaceModel.steps >= 200, f"only {NamespaceModel.steps} operations compared"
    print(f"\n{NamespaceModel.steps} operations compared with a local directory")


def test_errno_of_a_symlink_loop_matches(client, workdir, tmp_path):
    os.symlink("b", tmp_path / "a")
    os.symlink("a", tmp_path / "b")
    client.symlink("b", f"{workdir}/a")
    client.symlink("a", f"{workdir}/b")
    with __import__("pytest").raises(OSError) as local:
        open(tmp_path / "a", "rb")
    with __import__("pytest").raises(OSError) as remote:
        client.read(f"{workdir}/a")
    assert local.value.errno == remote.value.errno == errno.ELOOP
