"""A chunk corrupted on disk is detected by its checksum and reported, never returned as data."""

from __future__ import annotations

import os

import pytest

import fs3

CHUNK = 64 << 10


def test_corrupted_chunk_is_reported_not_returned(client, cluster, workdir, corrupt):
    data = os.urandom(4 * CHUNK)
    path = f"{workdir}/victim"
    client.write(path, data)
    inode = client.stat(path).inode
    target = corrupt(cluster.data_dir, inode, 2, offset=1000)
    with pytest.raises(fs3.ChecksumMismatch) as info:
        client.read(path)
    assert info.value.errno == 5  # EIO
    assert "checksum" in str(info.value)
    with pytest.raises(fs3.ChecksumMismatch):
        client.read(path, 2 * CHUNK, 4096)
    # The other chunks, and the intact blocks of the damaged one, still read.
    assert client.read(path, 0, 2 * CHUNK) == data[: 2 * CHUNK]
    assert client.read(path, 3 * CHUNK, CHUNK) == data[3 * CHUNK :]
    assert client.read(path, 2 * CHUNK + 8192, 4096) == data[2 * CHUNK + 8192 : 2 * CHUNK + 12288]
    logs = "".join(p.read_text() for p in (cluster.data_dir / "logs").glob("storage-*.log"))
    assert f"chunk {inode}:2 version 1 failed its CRC32C" in logs
    assert target.exists()
