"""Shared fixtures: real local clusters (meta + storage processes on 127.0.0.x) in temporary directories;
``--cpu-hogs N`` (run the suite while N other processes keep cores busy) and the ``needs_torch`` marker."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from _timing import wait_for

import fs3
from fs3.local import LocalCluster, LocalClusterConfig

# A busy loop that leaves when its parent does, however the parent ends (even by SIGKILL, which no
# cleanup hook sees): checking the parent pid every few milliseconds costs nothing next to the loop.
_HOG = """
import os, sys
parent = int(sys.argv[1])
while os.getppid() == parent:
    for _ in range(200_000):
        pass
"""


def pytest_addoption(parser):
    parser.addoption("--time-budget", type=float, default=75.0, metavar="MINUTES",
                     help="stop the session (with its report) once it has run this long; 0: no limit")
    parser.addoption(
        "--cpu-hogs", type=int, default=0, metavar="N",
        help="keep N busy-looping processes (nice 0: real competition for the CPU) running for the whole "
             "session, to check that the suite passes on a loaded machine; docs/testing.md",
    )


def pytest_runtest_setup(item):
    """Past its time budget, the session stops with its report: a run gone wrong (every test waiting out
    its limit) shows why, instead of being cut off by CI's limit with nothing said."""
    budget = item.config.getoption("--time-budget")
    spent = time.monotonic() - item.config._fs3_started  # type: ignore[attr-defined]
    if budget and spent > budget * 60:
        pytest.exit(f"the session ran past its {budget} minute budget (--time-budget); a normal run takes "
                    "about 25 minutes: look at the first failures above", returncode=3)


def pytest_configure(config):
    config._fs3_started = time.monotonic()  # type: ignore[attr-defined]
    hogs = config.getoption("--cpu-hogs", 0) or 0
    config._fs3_hogs = [  # type: ignore[attr-defined]
        # own session: a Ctrl-C at the terminal reaches pytest, which stops them, not the hogs directly
        subprocess.Popen([sys.executable, "-c", _HOG, str(os.getpid())], start_new_session=True,
                         stdin=subprocess.DEVNULL)
        for _ in range(max(0, hogs))
    ]


def pytest_unconfigure(config):
    """Runs after a pass, a failure, an error and a Ctrl-C alike."""
    hogs = getattr(config, "_fs3_hogs", [])
    for p in hogs:
        if p.poll() is None:
            p.send_signal(signal.SIGKILL)
    for p in hogs:
        p.wait()
    hogs.clear()


def pytest_report_header(config):
    hogs = getattr(config, "_fs3_hogs", [])
    if hogs:
        return f"cpu hogs: {len(hogs)} busy processes for the whole session (pids {', '.join(str(p.pid) for p in hogs)})"
    return None


_torch_imports: list[bool] = []


def torch_imports() -> bool:
    """Whether PyTorch imports here (tried once)."""
    if not _torch_imports:
        try:
            import torch  # noqa: F401
        except ImportError:
            _torch_imports.append(False)
        else:
            _torch_imports.append(True)
    return _torch_imports[0]


def pytest_collection_modifyitems(config, items):
    wanting = [item for item in items if item.get_closest_marker("needs_torch") is not None]
    if wanting and not torch_imports():  # torch is imported only when a collected test needs it
        for item in wanting:
            item.add_marker(pytest.mark.skip(reason="needs PyTorch (pip install 'fs3[torch]')"))


@pytest.fixture(autouse=True, scope="session")
def _isolated_state(tmp_path_factory):
    """Keep `fs3 up`'s "most recent cluster" pointer out of the user's home."""
    state = tmp_path_factory.mktemp("fs3-state")
    old = os.environ.get("FS3_STATE_DIR")
    os.environ["FS3_STATE_DIR"] = str(state)
    os.environ.pop("FS3_CLUSTER", None)
    # Test clusters' storage nodes listen with UCX only where a test asks (tests/integration/test_ucx.py):
    # importing ucxx costs each node a second and tens of MB, and other tests expect framed TCP.
    os.environ["FS3_STORAGE_UCX"] = "0"
    yield state
    if old is None:
        os.environ.pop("FS3_STATE_DIR", None)
    else:
        os.environ["FS3_STATE_DIR"] = old


def start_cluster(data_dir: Path, **overrides) -> LocalCluster:
    config = LocalClusterConfig(data_dir=data_dir, gc_delay=0.0, **overrides)
    return LocalCluster.start(config, timeout=90)


@pytest.fixture(scope="session")
def cluster(tmp_path_factory):
    """One 3-node cluster for the session, with small chunks (64 KiB) so files span many chunks, and one
    replica per chain (so a damaged chunk has no other copy: tests/integration covers replication)."""
    c = start_cluster(tmp_path_factory.mktemp("cluster"), chunk_size=64 << 10, stripe=3, replicas=1)
    yield c
    c.stop()


@pytest.fixture(scope="session")
def client(cluster):
    with fs3.connect(cluster.meta[0]) as c:
        yield c


@pytest.fixture
def workdir(client) -> str:
    """A fresh directory in fs3 for one test."""
    path = f"/t-{uuid.uuid4().hex[:12]}"
    client.mkdir(path)
    return path


def corrupt_chunk(data_dir: Path, inode: int, index: int, offset: int = 0, *, everywhere: bool = False) -> Path:
    """Flip one byte of a stored chunk on whichever target holds it (``everywhere``: on every target that
    does); returns the (first) target directory."""
    import sqlite3
    import struct

    key = struct.pack(">QQ", inode, index)
    first = None
    for db in sorted(Path(data_dir).glob("storage-*/target-*/chunks.db")):
        # A chain member writes its commit of a pending version with its next transaction (group commit):
        # just after a write is acknowledged, the newest version may still sit in ``pending`` on disk while
        # the node serves it as committed. Its slot is the same either way, so the newest of both is hit.
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
            row = conn.execute(
                "SELECT cls, slot, length FROM (SELECT version, cls, slot, length FROM chunks WHERE id = ? "
                "UNION ALL SELECT version, cls, slot, length FROM pending WHERE id = ?) "
                "ORDER BY version DESC LIMIT 1", (key, key)).fetchone()
        if row is None:
            continue
        cls, slot, length = row
        assert offset < length
        with open(db.parent / "slots" / f"c{cls}.dat", "r+b") as f:
            f.seek((slot << cls) + offset)
            byte = f.read(1)
            f.seek((slot << cls) + offset)
            f.write(bytes([byte[0] ^ 0x5A]))
        if not everywhere:
            return db.parent
        first = first or db.parent
    if first is not None:
        return first
    raise AssertionError(f"chunk {inode}:{index} is on no target under {data_dir}")


@pytest.fixture
def corrupt():
    return corrupt_chunk


class LocalEtcd:
    """A real 3-member etcd cluster on 127.0.0.101-103 (Debian's etcd-server), for KV tests."""

    def __init__(self, data_dir: Path, members: int = 3):
        from fs3.local import _etcd

        self.data_dir = data_dir
        self.plan = _etcd.member_plan(members, f"fs3-test-{uuid.uuid4().hex[:8]}")
        self.procs: list = [None] * members
        self.endpoints = [f"{m['host']}:{m['client']}" for m in self.plan]
        self._subprocess = subprocess
        for i in range(members):
            self.start(i)
        wait_for(lambda: all(_etcd.healthy(e) for e in self.endpoints), what=f"etcd to be healthy (see {data_dir})")

    @property
    def url(self) -> str:
        return "etcd://" + ",".join(self.endpoints)

    def fresh_kv(self):
        """A KV store on this cluster, emptied first (tests share the cluster)."""
        from fs3.meta.kv import EtcdKV

        kv = EtcdKV(self.endpoints)
        kv.transact(lambda t: t.clear_range(b"\x00", b"\xff\xff\xff\xff"))
        return kv

    def start(self, i: int) -> None:
        from fs3.local import _etcd

        args = _etcd.member_args(self.plan, i, str(self.data_dir / f"member-{i}"))
        log = open(self.data_dir / f"member-{i}.log", "ab")  # noqa: SIM115 - owned by the process
        self.procs[i] = self._subprocess.Popen(args, stdout=log, stderr=log, stdin=self._subprocess.DEVNULL)

    def kill(self, i: int) -> None:
        self.procs[i].kill()
        self.procs[i].wait()

    def stop(self) -> None:
        for p in self.procs:
            if p is not None and p.poll() is None:
                p.terminate()
        for p in self.procs:
            if p is not None:
                try:
                    p.wait(10)
                except Exception:  # noqa: BLE001
                    p.kill()


def etcd_available() -> bool:
    import shutil

    return shutil.which("etcd") is not None


def require_etcd() -> None:
    """Skip without etcd, unless FS3_REQUIRE_ETCD is set (CI installs it: there a missing etcd fails)."""
    if not etcd_available():
        if os.environ.get("FS3_REQUIRE_ETCD"):
            pytest.fail("etcd is required (FS3_REQUIRE_ETCD is set) but not installed")
        pytest.skip("etcd not installed (apt-get install etcd-server)")


@pytest.fixture(scope="session")
def etcd(tmp_path_factory):
    require_etcd()
    cluster = LocalEtcd(tmp_path_factory.mktemp("etcd"))
    yield cluster
    cluster.stop()


@pytest.fixture
def need_etcd():
    """For tests that start their own etcd (through `fs3 up --etcd`)."""
    require_etcd()
