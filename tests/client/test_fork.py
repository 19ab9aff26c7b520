"""A process that used its fs3 client forks (as a DataLoader does): the child connects anew and reads, many
times over, while the parent goes on with its client; a client a child inherited refuses to be used there.
A process killed with SIGKILL leaves no shared-memory region behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest
from _timing import wait_for

_FORKER = """
import os, sys, fs3
from fs3._errors import FS3Error

def child(address, path, parent_client):
    try:
        try:
            parent_client.stat("/")
            return 3  # the parent's client must not seem to work here
        except FS3Error as exc:
            if "forked child connects anew" not in str(exc):
                return 4
        with fs3.connect(address) as mine:
            return 0 if mine.read(path) == b"x" * 100_000 else 5
    except BaseException:  # anything else is a failure of the child
        return 6

address, path = sys.argv[1], sys.argv[2]
with fs3.connect(address) as client:
    client.write(path, b"x" * 100_000)
    for _ in range(5):
        client.stat(path)  # gRPC channels open in this process right before each fork
        pid = os.fork()
        if pid == 0:
            os._exit(child(address, path, client))
        _, status = os.waitpid(pid, 0)
        print(os.WEXITSTATUS(status) if os.WIFEXITED(status) else -os.WTERMSIG(status), flush=True)
        assert client.read(path) == b"x" * 100_000
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_connects_anew_while_the_parent_goes_on(cluster, workdir):
    """In a process of its own, as a trainer is: a process whose gRPC users are fs3's sync clients
    (another library's open gRPC channels, or an AsyncClient on the caller's loop, are not quiesced:
    see client/_fork.py)."""
    proc = subprocess.run([sys.executable, "-c", _FORKER, cluster.meta[0], f"{workdir}/f"], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["0"] * 5, proc.stderr


_HOLDER = """
import sys, fs3
c = fs3.connect(sys.argv[1])
c.stat("/")
print("ready", flush=True)
sys.stdin.read()
"""


def test_kill_9_leaves_no_shared_memory_region(cluster):
    proc = subprocess.Popen([sys.executable, "-c", _HOLDER, cluster.meta[0]], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE)
    try:
        assert proc.stdout.readline() == b"ready\n"
        mine = [n for n in os.listdir("/dev/shm") if n.startswith(f"fs3-{proc.pid}-")]
        assert mine, "the client made no shared-memory region"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    wait_for(lambda: not [n for n in mine if os.path.exists(f"/dev/shm/{n}")], timeout=5.0, interval=0.05,
             max_interval=0.1, what="the killed process's region to be removed")


_BUSY_FORKER = """
import os, sys, threading, fs3

address, root = sys.argv[1], sys.argv[2]
errors, done = [], [0] * 3
stop = threading.Event()

def busy(k, client):
    try:
        i = 0
        while not stop.is_set():
            client.write(f"{root}/t{k}-{i % 4}", b"y" * 1000)  # create, open, write, close
            client.stat(root)
            i += 1
            done[k] = i
    except BaseException as exc:
        errors.append(repr(exc))

with fs3.connect(address) as client:
    threads = [threading.Thread(target=busy, args=(k, client)) for k in range(3)]
    for t in threads:
        t.start()
    for _ in range(12):
        pid = os.fork()
        if pid == 0:
            os._exit(0)
        os.waitpid(pid, 0)
    while min(done) < 5 and not errors:  # each thread went on past the forks
        stop.wait(0.01)
    stop.set()
    for t in threads:
        t.join()
print(errors, flush=True)
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_forks_do_not_fail_the_calls_other_threads_have_in_flight(cluster, workdir):
    """A fork closes the client's gRPC channels (client/_fork.py); a call another thread had in flight on
    them is repeated on a new channel, not failed with CancelledError."""
    proc = subprocess.run([sys.executable, "-c", _BUSY_FORKER, cluster.meta[0], workdir], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip() == "[]", proc.stdout + proc.stderr[-3000:]
