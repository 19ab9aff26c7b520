"""What this host can offer on the data plane, and why not the rest (shown in status output)."""

from __future__ import annotations

import importlib.util
import os

from ._wire import TRANSPORT_RDMA, TRANSPORT_SHM, TRANSPORT_TCP, TRANSPORT_UCX

IMPLEMENTED = TRANSPORT_SHM | TRANSPORT_TCP  # the RDMA transport itself is not built yet


def rdma_device() -> tuple[bool, str]:
    """Whether an RDMA device and pyverbs are present, with the reason when not."""
    devices = "/sys/class/infiniband"
    try:
        names = os.listdir(devices)
    except OSError:
        names = []
    if not names:
        return False, "unavailable (no RDMA device)"
    if importlib.util.find_spec("pyverbs") is None:
        return False, f"unavailable (RDMA device {names[0]} present, but pyverbs is not installed)"
    return True, f"device {names[0]}"


def local_offer(*, shm: bool = True, ucx: str | None = None) -> tuple[int, dict[int, str]]:
    """The transports this end offers, and a reason for each one it does not. ``ucx``: "" when this
    connection runs over UCX (offered), else why not (None: not said here)."""
    offer = TRANSPORT_TCP
    reasons: dict[int, str] = {}
    if ucx == "":
        offer |= TRANSPORT_UCX
    elif ucx is not None:
        reasons[TRANSPORT_UCX] = ucx
    has_rdma, why = rdma_device()
    if not has_rdma:
        reasons[TRANSPORT_RDMA] = why
    elif not IMPLEMENTED & TRANSPORT_RDMA:
        reasons[TRANSPORT_RDMA] = f"{why} present, but this fs3 has no RDMA transport yet"
    else:
        offer |= TRANSPORT_RDMA
    if shm and os.path.isdir("/dev/shm"):
        offer |= TRANSPORT_SHM
    elif shm:
        reasons[TRANSPORT_SHM] = "unavailable (no /dev/shm)"
    else:
        reasons[TRANSPORT_SHM] = "disabled"
    return offer, reasons
