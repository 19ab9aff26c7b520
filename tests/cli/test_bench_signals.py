"""Every `fs3 bench` stopped by SIGTERM or SIGINT (a Ctrl-C) stops every process it started (clusters:
etcd, meta, storage; mounts; client pools), unmounts, and removes its temporary files and its files in
fs3; and a numeric option out of range gives one line, not a traceback or a table of zeros."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import pytest
from _fuse import need_fuse
from _timing import wait_for


def _children() -> dict[int, list[int]]:
    kids: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            kids.setdefault(ppid, []).append(int(entry))
    return kids


def descendants(pid: int) -> set[int]:
    kids, found, todo = _children(), set(), [pid]
    while todo:
        for child in kids.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


class Bench:
    """``fs3 bench ...`` in a child process whose temporary files go to a directory of the test's own,
    its stderr collected line by line as it comes."""

    def __init__(self, tmp_path: Path, args: list[str]):
        self.tmp = tmp_path / "tmp"
        self.tmp.mkdir()
        env = dict(os.environ, TMPDIR=str(self.tmp), PYTHONUNBUFFERED="1")
        self.proc = subprocess.Popen([sys.executable, "-m", "fs3", *args], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, env=env)
        self.err: list[str] = []
        self._reader = threading.Thread(target=lambda: self.err.extend(iter(self.proc.stderr.readline, "")),
                                        daemon=True)
        self._reader.start()
        self.seen: set[int] = set()

    def said(self, text: str) -> bool:
        return any(text in line for line in self.err)

    def processes(self, *words: str) -> list[int]:
        """Its descendants now (remembered for the end), those whose command line has all ``words``."""
        now = descendants(self.proc.pid)
        self.seen |= now
        return [p for p in now if all(w in cmdline(p) for w in words)]

    def stop(self, sig: int) -> tuple[int, str]:
        self.seen |= descendants(self.proc.pid)
        self.proc.send_signal(sig)
        self.proc.wait(timeout=120)  # (its stdout is a few lines: no pipe fills up)
        self._reader.join(10)  # its stderr is read by that thread alone
        return self.proc.returncode, "".join(self.err)

    def kill(self) -> None:
        """After a failure: nothing of it may outlive the test (its children found before it dies, since
        they are orphaned after)."""
        self.seen |= descendants(self.proc.pid)
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        for pid in self.seen:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)


def _left_behind(bench: Bench) -> None:
    """Nothing it started runs on, nothing it wrote under its temporary directory stays."""
    wait_for(lambda: not [p for p in bench.seen if alive(p)], 30,
             f"the processes it started to end ({[(p, cmdline(p)) for p in bench.seen if alive(p)]})")
    assert not any(line.split()[1].startswith(str(bench.tmp)) for line in open("/proc/self/mounts"))
    assert list(bench.tmp.iterdir()) == []


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_bench_meta_stops_its_clusters_and_removes_its_files(tmp_path, sig):
    bench = Bench(tmp_path, ["bench", "meta", "--backend", "sqlite", "--clients", "2", "--files", "8000",
                             "--big-dir", "0"])
    try:
        # under way: its cluster's meta and storage and its client pool all running
        wait_for(lambda: bench.said("create with 2 clients"), 90, "the create phase to start")
        assert bench.processes("fs3", "meta", "--kv") and bench.processes("fs3", "storage", "--meta")
        assert len(bench.processes("multiprocessing")) >= 2
        code, err = bench.stop(sig)
    finally:
        bench.kill()
    assert code == 128 + sig and "Traceback" not in err, err
    assert err.strip().splitlines()[-1] == f"fs3: bench: interrupted ({signal.Signals(sig).name}); stopped what " \
                                           "it had started"
    _left_behind(bench)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_bench_mount_unmounts_and_stops_its_mount(cluster, client, tmp_path, sig):
    need_fuse()
    where = f"/bs-{uuid.uuid4().hex[:8]}"
    bench = Bench(tmp_path, ["--cluster", str(cluster.data_dir), "bench", "mount", "--dir", where,
                             "--file-size", "4M", "--duration", "600", "--files", "10"])
    try:
        # reading through its mount, for far longer than the test waits
        wait_for(lambda: bench.said("random O_DIRECT reads of 4 KiB"), 120, "the reads to start")
        assert bench.processes("fs3", "mount", "--foreground")
        assert any(line.split()[1].startswith(str(bench.tmp)) for line in open("/proc/self/mounts"))
        code, err = bench.stop(sig)
    finally:
        bench.kill()
    assert code == 128 + sig and "Traceback" not in err, err
    _left_behind(bench)
    assert client.ls(where) == []  # its test file in fs3 removed too


def test_bench_smallfiles_removes_its_files_in_fs3_when_stopped(cluster, client, tmp_path):
    where = f"/bs-{uuid.uuid4().hex[:8]}"
    bench = Bench(tmp_path, ["--cluster", str(cluster.data_dir), "bench", "smallfiles", "--dir", where,
                             "--files", "20000", "--no-mount", "--no-cp"])
    try:
        wait_for(lambda: bench.said("fs3 client:"), 90, "the fs3 side to start")
        wait_for(lambda: client.ls(where) and client.ls(f"{where}/{client.ls(where)[0]}"), 60,
                 "files in fs3")
        code, err = bench.stop(signal.SIGTERM)
    finally:
        bench.kill()
    assert code == 128 + signal.SIGTERM and "Traceback" not in err, err
    _left_behind(bench)
    assert client.ls(where) == []


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_bench_read_stops_its_reading_threads_and_removes_its_baseline(cluster, client, tmp_path, sig):
    # the asyncio path: fs3's reads on the event loop (the mount test stops the baseline's threads)
    where = f"/br-{uuid.uuid4().hex[:8]}"
    bench = Bench(tmp_path, ["--cluster", str(cluster.data_dir), "bench", "read", "--dir", where,
                             "--file-size", "4M", "--block-size", "4K", "--duration", "600"])
    try:
        wait_for(lambda: list(bench.tmp.glob("fs3-bench-*/baseline-0.dat")), 60, "its baseline file")
        code, err = bench.stop(sig)
    finally:
        bench.kill()
    assert code == 128 + sig and "Traceback" not in err, err
    _left_behind(bench)
    assert client.ls(where) == []  # its test file in fs3 too


@pytest.mark.parametrize("args", [
    ["--duration", "-1"], ["--duration", "0"], ["read", "--duration", "nan"], ["calls", "--duration", "0"],
    ["mount", "--files", "0"], ["smallfiles", "--files", "-3"], ["smallfiles", "--jobs", "0"],
    ["meta", "--clients", "0"], ["calls", "--batch", "99"],
])
def test_bench_refuses_numbers_out_of_range_in_one_line(cluster, args):
    proc = subprocess.run([sys.executable, "-m", "fs3", "--cluster", str(cluster.data_dir), "bench", *args],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0 and proc.stdout == ""  # no table (of zeros or else)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("fs3: bench: ") and "Invalid" in lines[0], proc.stderr
