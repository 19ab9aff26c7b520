"""Throwaway local Unix accounts for the tests that attack as another user
(``from _accounts import local_account``)."""

from __future__ import annotations

import contextlib
import subprocess
import uuid
from collections.abc import Iterator

from _timing import wait_for


def _useradd(name: str) -> bool:
    """Make the account; False while another process (another test run's useradd or userdel, which
    wait for each other only so long) holds the lock on /etc/passwd or /etc/group: try again."""
    proc = subprocess.run(["useradd", "--no-create-home", "--shell", "/usr/sbin/nologin", name],
                          capture_output=True, text=True, timeout=60)
    if proc.returncode == 0:
        return True
    if "cannot lock" in proc.stderr or "try again later" in proc.stderr:
        return False
    raise AssertionError(f"useradd {name} failed ({proc.returncode}): {proc.stderr.strip()}")


@contextlib.contextmanager
def local_account(prefix: str) -> Iterator[str]:
    """A new account named ``prefix`` plus a random suffix, removed after the block."""
    name = f"{prefix}{uuid.uuid4().hex[:8]}"
    wait_for(lambda: _useradd(name), timeout=120, what=f"useradd {name} to get the lock on /etc/passwd")
    try:
        yield name
    finally:
        subprocess.run(["userdel", name], capture_output=True, timeout=60)
