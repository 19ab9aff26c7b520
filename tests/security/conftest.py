"""Helpers of the attack tests: a throwaway local Unix account, and the command line run as a user runs it."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import sys

import pytest
from _accounts import local_account


class UnixUser:
    """A local account with no fs3 token and no groups of ours, made with ``useradd``."""

    def __init__(self, name: str):
        self.name = name
        entry = pwd.getpwnam(name)
        self.uid, self.gid = entry.pw_uid, entry.pw_gid

    def run(self, *args: str) -> subprocess.CompletedProcess:
        """Run a command as this account (its own uid and gid, no supplementary groups)."""
        return subprocess.run(list(args), user=self.uid, group=self.gid, extra_groups=[], capture_output=True,
                              text=True, timeout=60, cwd="/")


@pytest.fixture
def unix_user():
    if os.geteuid() != 0 or shutil.which("useradd") is None:
        pytest.skip("needs root and useradd to make a local account")
    with local_account("fs3x") as name:
        yield UnixUser(name)


class Cli:
    """The command line run as a user runs it: ``python -m fs3`` in an environment without FS3_*
    settings (but the state directory that keeps `fs3 up`'s pointer out of the user's home)."""

    @staticmethod
    def env(**extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("FS3_") or k == "FS3_STATE_DIR"}
        env.update(extra)
        return env

    def __call__(self, *args: str, env: dict[str, str] | None = None,
                 timeout: float = 120) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "fs3", *args], capture_output=True, text=True,
                              env=env if env is not None else self.env(), timeout=timeout)

    @staticmethod
    def one_error_line(proc: subprocess.CompletedProcess, *needles: str) -> str:
        """A refusal as the user sees it: exit status 1, one line on stderr naming the problem, no
        traceback."""
        err = proc.stderr
        assert proc.returncode == 1, (proc.returncode, err)
        assert "Traceback" not in err, err
        assert len(err.strip().splitlines()) == 1, err
        for needle in needles:
            assert needle in err, err
        return err.strip()


@pytest.fixture
def cli() -> Cli:
    return Cli()
