"""CRC32C checksums (hardware-accelerated where the CPU has it)."""

from __future__ import annotations

import crc32c as _crc32c

CRC_BLOCK = 4096  # bytes covered by one block checksum: the O_DIRECT unit, so reads verify what they read


crc32c = _crc32c.crc32c  # crc32c(data, value=0): CRC32C of a bytes-like object, continuing from value


def block_crcs(data: memoryview, block: int = CRC_BLOCK) -> list[int]:
    """One CRC32C per ``block`` bytes of ``data`` (the last block may be short)."""
    view = memoryview(data).cast("B")
    return [_crc32c.crc32c(view[i : i + block]) for i in range(0, len(view), block)]
