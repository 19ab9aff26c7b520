"""O_DIRECT where the file system allows it, a clean buffered fallback where it refuses."""

from __future__ import annotations

import errno
import os

from fs3.storage import ChunkStore, _direct_io


def test_buffered_fallback_when_o_direct_is_refused(tmp_path, monkeypatch):
    real_open = os.open

    def refusing_open(path, flags, mode=0o777):
        if flags & os.O_DIRECT:
            raise OSError(errno.EINVAL, "Invalid argument")  # what tmpfs-like file systems answer
        return real_open(path, flags, mode)

    monkeypatch.setattr(_direct_io.os, "open", refusing_open)
    store = ChunkStore(tmp_path / "t")
    try:
        store.write(1, 0, 0, b"still works" * 1000, 1 << 20)
        assert store.read(1, 0, 0, 11)[0] == b"still works"
        assert store.direct is False
    finally:
        store.close()


def test_aligned_buffers():
    buf = _direct_io.aligned_buffer(5000)
    assert len(buf) == 8192
    assert _direct_io.align_up(4097) == 8192 and _direct_io.align_down(4097) == 4096
