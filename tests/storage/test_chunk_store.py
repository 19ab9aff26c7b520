"""The chunk store on a real directory: copy-on-write updates, O_DIRECT, checksums, crash consistency."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from fs3 import ChecksumMismatch
from fs3.storage import ChunkStore

MiB = 1 << 20


@pytest.fixture
def store(tmp_path):
    s = ChunkStore(tmp_path / "target")
    yield s
    s.close()


def test_write_read_overwrite(store):
    data = os.urandom(MiB)
    rec = store.write(1, 0, 0, data, MiB)
    assert (rec.version, rec.length) == (1, MiB)
    assert store.read(1, 0, 0, MiB)[0] == data
    assert store.read(1, 0, 4000, 10_000)[0] == data[4000:14000]
    rec = store.write(1, 0, 5000, b"xyz", MiB)
    expect = data[:5000] + b"xyz" + data[5003:]
    assert rec.version == 2 and store.read(1, 0, 0, MiB)[0] == expect
    assert store.read(1, 0, MiB - 2, 100)[0] == expect[-2:]  # short: the chunk ends
    assert store.read(1, 0, MiB, 100)[0] == b""


def test_write_past_end_zero_fills(store):
    store.write(2, 0, 0, b"abc", MiB)
    store.write(2, 0, 10_000, b"z", MiB)
    assert store.read(2, 0, 0, 20_000)[0] == b"abc" + bytes(10_000 - 3) + b"z"


def test_a_new_chunk_written_past_its_start_reads_zeros_before_the_write(store):
    # Dirty the buffer pool first: a recycled buffer must not leak its old bytes into the gap.
    store.write(9, 0, 0, b"\xee" * 8192, MiB)
    store.drop(9, 0)
    store.write(3, 0, 1, b"\x01", MiB)
    assert store.read(3, 0, 0, 2)[0] == b"\x00\x01"
    store.write(3, 1, 5000, b"x", MiB)
    assert store.read(3, 1, 0, 5001)[0] == bytes(5000) + b"x"


def test_missing_chunk_and_bounds(store):
    assert store.read(3, 0, 0, 10) == (b"", None)
    with pytest.raises(OSError):
        store.write(3, 0, MiB - 1, b"ab", MiB)


def test_truncate_and_remove(store):
    data = os.urandom(300_000)
    for i in range(4):
        store.write(4, i, 0, data, MiB)
    store.write(5, 0, 0, b"other file", MiB)
    rec = store.truncate(4, 1, 12_345)
    assert rec.length == 12_345 and store.read(4, 1, 0, MiB)[0] == data[:12_345]
    assert store.truncate(4, 1, 99_999).length == 12_345  # never grows
    assert store.remove_from(4, 2) == 2
    assert store.read(4, 2, 0, 10)[1] is None and store.read(4, 0, 0, 10)[0] == data[:10]
    assert store.remove_from(4, 0) == 2
    assert store.chunk_count == 1 and store.used_bytes == len(b"other file")


def test_slots_are_reused_and_accounting_survives_reopen(tmp_path):
    s = ChunkStore(tmp_path / "t")
    for v in range(20):
        s.write(1, 0, 0, bytes([v]) * 100_000, MiB)
    size = (tmp_path / "t" / "slots" / "c17.dat").stat().st_size
    assert size <= 32 * (1 << 17)  # copy-on-write reuses freed slots instead of growing
    s.close()
    s = ChunkStore(tmp_path / "t")
    assert s.read(1, 0, 0, 10)[0] == bytes([19]) * 10
    assert (s.chunk_count, s.used_bytes) == (1, 100_000)
    s.close()


def test_uses_o_direct_on_a_real_disk(store):
    store.write(1, 0, 0, b"x", MiB)
    assert store.direct  # /tmp is ext4 here; a tmpfs without O_DIRECT would fall back


def _corrupt(store, inode, index, offset):
    rec = store.query(inode, index)
    path = store.root / "slots" / f"c{rec.cls}.dat"
    with open(path, "r+b") as f:
        f.seek((rec.slot << rec.cls) + offset)
        byte = f.read(1)
        f.seek((rec.slot << rec.cls) + offset)
        f.write(bytes([byte[0] ^ 0xFF]))


def test_corruption_is_detected_never_returned(store):
    data = os.urandom(MiB)
    store.write(7, 0, 0, data, MiB)
    _corrupt(store, 7, 0, 200_000)
    with pytest.raises(ChecksumMismatch) as info:
        store.read(7, 0, 0, MiB)
    assert "checksum" in str(info.value)
    with pytest.raises(ChecksumMismatch):
        store.read(7, 0, 200_000, 1)
    # Blocks that are intact still verify and serve.
    assert store.read(7, 0, 0, 4096)[0] == data[:4096]
    assert store.corruptions == 2
    # An update that must keep the damaged bytes refuses too, rather than spreading them.
    with pytest.raises(ChecksumMismatch):
        store.write(7, 0, 10, b"x", MiB)


@pytest.mark.parametrize("length", [MiB, MiB - 1000, 3 * 4096 + 7])
def test_a_damaged_block_is_named_by_multi_block_reads(store, length):
    """Reads of many blocks check each block's CRC: the first damaged one is the one reported, in the
    last (short) block too, and reads that stay clear of it are served."""
    data = os.urandom(length)
    store.write(3, 0, 0, data, MiB)
    last = (length - 1) // 4096
    for block in sorted({1, last}):
        store.write(3, 0, 0, data, MiB)  # a fresh, intact version
        _corrupt(store, 3, 0, block * 4096 + 5)
        with pytest.raises(ChecksumMismatch, match=f"at block {block}"):
            store.read(3, 0, 0, length)
        with pytest.raises(ChecksumMismatch, match=f"at block {block}"):
            store.read(3, 0, block * 4096 - 10, 4096 * 2)
        if block > 0:
            assert store.read(3, 0, 0, block * 4096)[0] == data[: block * 4096]
        if block < last:
            assert store.read(3, 0, (block + 1) * 4096, length)[0] == data[(block + 1) * 4096 :]


WRITER = textwrap.dedent("""
    import sys
    from pathlib import Path
    from fs3.storage import ChunkStore
    store = ChunkStore(Path(sys.argv[1]))
    v = 0
    while True:
        v += 1
        for k in range(4):
            size = 4096 * (1 + k * 13 % 40) - k * 100
            store.write(1, k, 0, bytes([v % 251]) * size, 1 << 20)
            print(f"{k} {v}", flush=True)
""")


@pytest.mark.parametrize("seed", range(6))
def test_kill_9_mid_write_leaves_only_committed_chunks(tmp_path, seed):
    """SIGKILL a writer at a random moment: every chunk then reads back whole and checksummed, as its
    last acknowledged version or the one in flight, never a mix."""
    target = tmp_path / "t"
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(target)], stdout=subprocess.PIPE, text=True)
    acked: dict[int, int] = {}
    deadline = time.monotonic() + random.Random(seed).uniform(0.3, 1.5)
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        k, v = map(int, line.split())
        acked[k] = v
    proc.send_signal(signal.SIGKILL)
    for line in proc.stdout:  # acknowledgements already written before the kill
        k, v = map(int, line.split())
        acked[k] = v
    proc.wait()
    assert acked, "the writer never acknowledged a write"
    store = ChunkStore(target)
    try:
        for k, v in acked.items():
            data, rec = store.read(1, k, 0, 1 << 20)
            assert rec is not None
            allowed = {v % 251, (v + 1) % 251}
            assert len(set(data)) == 1 and data[0] in allowed, (k, v, data[:1])
            assert len(data) == 4096 * (1 + k * 13 % 40) - k * 100
    finally:
        store.close()


def test_pending_versions_are_not_served_until_committed(store):
    store.write(9, 0, 0, b"v1" * 1000, MiB)
    lease, length, version = store.build(9, 0, 0, b"v2" * 1000, MiB)
    with lease as buf:
        assert version == 2
        pending = store.stage(9, 0, version, memoryview(buf), length)
    assert lease.buf is None  # given back to the pool
    committed, staged = store.state(9, 0)
    assert (committed.version, staged.version) == (1, 2) and staged.crc == pending.crc
    with pytest.raises(OSError) as info:  # CRAQ: a replica with an update in flight does not answer
        store.read(9, 0, 0, 10)
    assert info.value.status == 3008
    store.commit(9, 0, 2)
    assert store.read(9, 0, 0, 4)[0] == b"v2v2"
    assert store.state(9, 0)[1] is None


def test_pending_versions_survive_a_restart_and_put_supersedes_them(tmp_path):
    s = ChunkStore(tmp_path / "t")
    s.write(3, 0, 0, b"a" * 5000, MiB)
    lease, length, version = s.build(3, 0, 0, b"b" * 5000, MiB)
    with lease as buf:
        s.stage(3, 0, version, memoryview(buf), length)
    s.close()
    s = ChunkStore(tmp_path / "t")
    committed, pending = s.state(3, 0)
    assert (committed.version, pending.version) == (1, 2)
    # Recovery installs the chain's committed version 2 directly; the stale pending one goes.
    content = memoryview(s.buffers.acquire(8192))  # page-aligned, as O_DIRECT needs
    content[:5000] = b"c" * 5000
    content[5000:8192] = bytes(3192)
    s.put(3, 0, 2, content, 5000)
    assert s.state(3, 0)[1] is None
    assert s.read(3, 0, 0, 5000)[0] == b"c" * 5000
    assert s.put(3, 0, 2, content, 5000, only_if_newer=True) is None
    s.close()


def test_a_full_disk_is_a_clear_no_space_error_that_loses_nothing(tmp_path, monkeypatch):
    import errno

    from fs3 import NoSpace
    from fs3.storage import _direct_io

    store = ChunkStore(tmp_path / "t")
    try:
        store.write(1, 0, 0, b"kept" * 1000, MiB)
        store.write(1, 1, 0, b"x" * 100, MiB)  # the small class's file is grown now, not below

        def full(fd, offset, length):
            raise OSError(errno.ENOSPC, "No space left on device")

        monkeypatch.setattr(_direct_io.os, "posix_fallocate", full)
        with pytest.raises(NoSpace) as info:
            for i in range(64):  # until the class needs more room
                store.write(2, i, 0, os.urandom(MiB), MiB)
        assert info.value.errno == errno.ENOSPC and "no space left" in str(info.value)
        monkeypatch.undo()
        assert store.read(1, 0, 0, 4000)[0] == b"kept" * 1000
        store.write(3, 0, 0, b"after", MiB)
        assert store.read(3, 0, 0, 5)[0] == b"after"
    finally:
        store.close()
