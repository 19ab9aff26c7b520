"""`fs3 mount MOUNTPOINT` / `fs3 umount MOUNTPOINT`: the cluster as a local file system (FUSE)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import click

from fs3._errors import FS3Error, InvalidArgument, Unavailable
from fs3._retry import poll

from ._common import state


@click.command()
@click.argument("mountpoint", type=click.Path(path_type=Path))
@click.option("--foreground", "-f", is_flag=True, help="Stay in the foreground until unmounted.")
@click.option("--direct-io", is_flag=True,
              help="Bypass the kernel page cache for every file (O_DIRECT opens always do).")
@click.option("--allow-other", is_flag=True, help="Let other users use the mount (needs user_allow_other).")
@click.option("--attr-timeout", type=click.FloatRange(0, 3600), default=30.0, show_default=True, metavar="SECONDS",
              help="How long the kernel may keep attributes and names; other clients' changes drop them "
                   "at once (0: every stat asks meta).")
@click.option("--log", "log_file", type=click.Path(path_type=Path), help="Where a background mount logs.")
def mount(mountpoint, foreground, direct_io, allow_other, attr_timeout, log_file):
    """Mount the cluster at MOUNTPOINT (FUSE). In the background unless --foreground; `fs3 umount` ends it."""
    if not os.path.exists("/dev/fuse"):
        raise Unavailable("FUSE is not available here (/dev/fuse is missing)")
    if not mountpoint.is_dir():
        raise InvalidArgument(f"Invalid argument: mount point {mountpoint} is not a directory")
    if os.path.ismount(mountpoint):
        raise InvalidArgument(f"Invalid argument: something is already mounted at {mountpoint}")
    st = state()
    if foreground:
        import logging

        from fs3.client import mount as serve

        logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(levelname)s %(message)s")
        client = st.client()
        serve(client, str(mountpoint), foreground=True, direct_io=direct_io, allow_other=allow_other,
              attr_timeout=attr_timeout)
        return
    st.client()  # fail here, clearly, when the cluster cannot be reached
    args = [sys.executable, "-m", "fs3"]
    if st.cluster:
        args += ["--cluster", st.cluster]
    if st.token:
        args += ["--token", st.token]
    args += ["mount", "--foreground", str(mountpoint)]
    if direct_io:
        args.append("--direct-io")
    if allow_other:
        args.append("--allow-other")
    args += ["--attr-timeout", repr(attr_timeout)]
    log_file = log_file or Path(os.environ.get("TMPDIR", "/tmp")) / f"fs3-mount-{os.getpid()}.log"
    with open(log_file, "ab") as log:
        proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)

    def mounted() -> bool:
        if os.path.ismount(mountpoint):
            return True
        if proc.poll() is not None:
            raise FS3Error(f"the mount process exited ({proc.returncode}); see {log_file}")
        return False

    def gave_up() -> Unavailable:
        proc.terminate()
        return Unavailable(f"{mountpoint} was not mounted within 20 s; see {log_file}")

    poll(mounted, 20.0, interval=0.1, error=gave_up)
    click.echo(f"mounted fs3 at {mountpoint} (pid {proc.pid}, log {log_file}); unmount with `fs3 umount {mountpoint}`")


@click.command()
@click.argument("mountpoint", type=click.Path(path_type=Path))
def umount(mountpoint):
    """Unmount an fs3 mount."""
    if not os.path.ismount(mountpoint):
        raise InvalidArgument(f"Invalid argument: nothing is mounted at {mountpoint}")
    tool = shutil.which("fusermount3") or shutil.which("fusermount")
    command = [tool, "-u", str(mountpoint)] if tool else ["umount", str(mountpoint)]
    proc = subprocess.run(command, capture_output=True, timeout=30)
    if proc.returncode != 0:
        raise FS3Error(f"could not unmount {mountpoint}: {proc.stderr.decode().strip() or proc.returncode} "
                       "(is a process still using it? `fuser -m` shows which)")
    click.echo(f"unmounted {mountpoint}")
