"""`fs3 cp` as a user runs it, against a real cluster: each case of issue 18's "What was found" 1-3 and
`cp URL -`, and the promises the fixes make (a killed copy leaves nothing under the final name; a
`--continue` finishes it with the same bytes; symlinks, modes and times travel)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from _cli import one_error_line
from _timing import wait_for

MiB = 1 << 20


def fs3(cluster, *args, check=True, input=None, cwd=None):
    proc = subprocess.run([sys.executable, "-m", "fs3", "--cluster", str(cluster.data_dir), *args],
                          capture_output=True, input=input, cwd=cwd, timeout=180)
    if check and proc.returncode != 0:
        raise AssertionError(f"fs3 {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr.decode()}")
    return proc


def test_a_file_copied_onto_itself_is_an_error_and_keeps_its_bytes(cluster, client, workdir, tmp_path):
    data = os.urandom(300_000)
    local = tmp_path / "f"
    local.write_bytes(data)
    os.link(local, tmp_path / "g")  # two names of one inode
    for a, b in ((local, local), (local, tmp_path / "g"), (tmp_path / "g", tmp_path)):
        one_error_line(fs3(cluster, "cp", str(a), str(b), check=False), "same file")
        assert local.read_bytes() == data
    client.write(f"{workdir}/f", data)
    client.link(f"{workdir}/f", f"{workdir}/g")
    url = f"fs3://{workdir}"
    for a, b in ((f"{url}/f", f"{url}/f"), (f"{url}/f", f"{url}/g"), (f"{url}/g", f"{url}/")):
        one_error_line(fs3(cluster, "cp", a, b, check=False), "same file")
        assert client.read(f"{workdir}/f") == data
    assert sorted(client.ls(workdir)) == ["f", "g"]  # no partial left beside them


def test_a_trailing_slash_means_a_directory(cluster, client, workdir, tmp_path):
    (tmp_path / "f").write_bytes(b"x")
    url = f"fs3://{workdir}"
    one_error_line(fs3(cluster, "cp", str(tmp_path / "f"), f"{url}/missing/", check=False), "Not a directory")
    client.write(f"{workdir}/file", b"old")
    one_error_line(fs3(cluster, "cp", str(tmp_path / "f"), f"{url}/file/", check=False), "Not a directory")
    assert sorted(client.ls(workdir)) == ["file"] and client.read(f"{workdir}/file") == b"old"
    client.mkdir(f"{workdir}/dir")
    fs3(cluster, "cp", str(tmp_path / "f"), f"{url}/dir/")
    assert client.read(f"{workdir}/dir/f") == b"x"
    # The same from fs3 to a local path; and a tree may name its new directory with a slash (as cp -r).
    one_error_line(fs3(cluster, "cp", f"{url}/file", str(tmp_path / "nowhere") + "/", check=False),
                   "Not a directory")
    assert not (tmp_path / "nowhere").exists()
    fs3(cluster, "cp", "-r", f"{url}/dir", f"{url}/newdir/")
    assert client.read(f"{workdir}/newdir/f") == b"x"


def test_a_missing_parent_fails_the_same_for_a_file_and_a_tree(cluster, client, workdir, tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "f").write_bytes(b"x")
    url = f"fs3://{workdir}"
    one_error_line(fs3(cluster, "cp", str(tmp_path / "d" / "f"), f"{url}/a/b/f", check=False),
                   "No such file or directory", f"{workdir}/a/b")
    one_error_line(fs3(cluster, "cp", "-r", str(tmp_path / "d"), f"{url}/a/b/d", check=False),
                   "No such file or directory", f"{workdir}/a/b")
    assert client.ls(workdir) == []
    one_error_line(fs3(cluster, "cp", "-r", f"{url}", str(tmp_path / "x" / "y"), check=False),
                   "No such file or directory")
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize(("side", "sig"), [("fs3", signal.SIGKILL), ("local", signal.SIGKILL),
                                           ("fs3", signal.SIGINT)])
def test_a_killed_copy_leaves_no_file_under_its_name_and_continue_finishes_it(cluster, client, workdir,
                                                                             tmp_path, side, sig):
    """kill -9 (or Ctrl-C) while the copy is mid-way (it has written 16 MiB of 40 and waits for more on
    its standard input); then `--continue` from the whole file checks the partial's bytes and appends
    the rest."""
    data = os.urandom(40 * MiB)
    (tmp_path / "big").write_bytes(data)
    if side == "fs3":
        final, partial = f"fs3://{workdir}/big", f"{workdir}/.big.fs3-part"

        def partial_size() -> int:
            try:
                return client.stat(partial).size
            except FileNotFoundError:
                return 0

        def final_exists() -> bool:
            return client.exists(f"{workdir}/big")
    else:
        (tmp_path / "out").mkdir()
        final, partial = str(tmp_path / "out" / "big"), str(tmp_path / "out" / ".big.fs3-part")

        def partial_size() -> int:
            return os.path.getsize(partial) if os.path.exists(partial) else 0

        def final_exists() -> bool:
            return os.path.exists(final)

    copy = subprocess.Popen([sys.executable, "-m", "fs3", "--cluster", str(cluster.data_dir), "cp", "-", final],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        copy.stdin.write(data[: 16 * MiB])
        copy.stdin.flush()
        wait_for(lambda: partial_size() >= 8 * MiB, what="a partial file with data")
        assert copy.poll() is None, "the copy ended before the kill: nothing was tested"
        assert not final_exists()
        copy.send_signal(sig)
        assert copy.wait(timeout=60) == (-9 if sig == signal.SIGKILL else 130)
    finally:
        if copy.poll() is None:
            copy.kill()
            copy.wait()
        copy.stdin.close()
    assert not final_exists(), "a killed copy left a file under the final name"
    kept = partial_size()
    assert 8 * MiB <= kept <= 16 * MiB
    out = json.loads(fs3(cluster, "cp", "--continue", "--checksum", "--json", str(tmp_path / "big"), final).stdout)
    assert out["resumed_bytes"] == kept and out["bytes"] == len(data) - kept and out["files"] == 1
    got = client.read(f"{workdir}/big") if side == "fs3" else Path(final).read_bytes()
    assert got == data
    assert partial_size() == 0  # renamed away


def test_continue_distrusts_a_partial_whose_bytes_differ(cluster, client, workdir, tmp_path):
    data = os.urandom(3 * MiB)
    (tmp_path / "big").write_bytes(data)
    client.write(f"{workdir}/.big.fs3-part", data[:MiB] + b"X" + data[MiB + 1 : 2 * MiB])  # one byte off
    out = json.loads(fs3(cluster, "cp", "--continue", "--json", str(tmp_path / "big"), f"fs3://{workdir}/").stdout)
    assert out["resumed_bytes"] == 0 and out["bytes"] == len(data)
    assert client.read(f"{workdir}/big") == data
    # A plain copy takes over a leftover partial too: the next copy of that file cleans it up.
    client.write(f"{workdir}/.big.fs3-part", b"leftover of a killed copy")
    fs3(cluster, "cp", str(tmp_path / "big"), f"fs3://{workdir}/big")
    assert client.ls(workdir) == ["big"] and client.read(f"{workdir}/big") == data


def test_cp_to_dash_writes_standard_output_and_from_dash_reads_standard_input(cluster, client, workdir, tmp_path):
    data = os.urandom(5 * MiB + 3)
    client.write(f"{workdir}/x", data)
    proc = fs3(cluster, "cp", "-q", f"fs3://{workdir}/x", "-", cwd=tmp_path)
    assert proc.stdout == data and proc.stderr == b""
    assert list(tmp_path.iterdir()) == []  # no file named "-"
    fs3(cluster, "cp", "-", f"fs3://{workdir}/y", input=b"from stdin")
    assert client.read(f"{workdir}/y") == b"from stdin"
    one_error_line(fs3(cluster, "cp", f"fs3://{workdir}", "-", check=False), "Is a directory")
    one_error_line(fs3(cluster, "cp", "--json", f"fs3://{workdir}/x", "-", check=False), "--json")


def make_tree(root: Path) -> Path:
    src = root / "src"
    (src / "sub").mkdir(parents=True)
    (src / "file").write_bytes(b"data")
    (src / "sub" / "inner").write_bytes(b"inner")
    os.symlink("file", src / "to-file")
    os.symlink("sub", src / "to-dir")
    os.symlink("nowhere", src / "dangling")
    return src


def test_symlinks_stay_symlinks_and_dash_l_follows_them(cluster, client, workdir, tmp_path):
    src = make_tree(tmp_path)
    url = f"fs3://{workdir}"
    fs3(cluster, "cp", "-r", str(src), f"{url}/t")
    for name, target in (("to-file", "file"), ("to-dir", "sub"), ("dangling", "nowhere")):
        assert client.lstat(f"{workdir}/t/{name}").type == "symlink"
        assert client.readlink(f"{workdir}/t/{name}") == target
    fs3(cluster, "cp", "-r", f"{url}/t", str(tmp_path / "back"))
    assert os.readlink(tmp_path / "back" / "to-dir") == "sub"
    assert os.readlink(tmp_path / "back" / "dangling") == "nowhere"
    # -L: the links' targets are copied instead; the dangling one is named, and the exit status says so.
    proc = fs3(cluster, "cp", "-r", "-L", str(src), f"{url}/followed", check=False)
    assert proc.returncode == 1 and "dangling" in proc.stderr.decode()
    assert client.lstat(f"{workdir}/followed/to-file").type == "file"
    assert client.read(f"{workdir}/followed/to-dir/inner") == b"inner"
    assert not client.exists(f"{workdir}/followed/dangling")


def test_dash_p_keeps_mode_and_times(cluster, client, workdir, tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "tool").write_bytes(b"#!/bin/sh\n")
    os.chmod(src / "tool", 0o751)
    os.utime(src / "tool", ns=(1_600_000_000_123_456_789, 1_500_000_000_987_654_321))
    os.utime(src, ns=(1_400_000_000_000_000_000, 1_400_000_000_000_000_000))
    fs3(cluster, "cp", "-r", "-p", str(src), f"fs3://{workdir}/p")
    st = client.stat(f"{workdir}/p/tool")
    assert (st.mode, st.mtime_ns, st.atime_ns) == (0o751, 1_500_000_000_987_654_321, 1_600_000_000_123_456_789)
    assert client.stat(f"{workdir}/p").mtime_ns == 1_400_000_000_000_000_000  # set after it filled
    fs3(cluster, "cp", "-p", f"fs3://{workdir}/p/tool", str(tmp_path / "back"))
    back = os.stat(tmp_path / "back")
    assert (back.st_mode & 0o7777, back.st_mtime_ns) == (0o751, 1_500_000_000_987_654_321)
    if os.geteuid() == 0:  # as root, -p keeps the owner too, both ways
        os.chown(src / "tool", 4321, 4322)
        fs3(cluster, "cp", "-p", str(src / "tool"), f"fs3://{workdir}/owned")
        st = client.stat(f"{workdir}/owned")
        assert (st.uid, st.gid) == (4321, 4322)
        fs3(cluster, "cp", "-p", f"fs3://{workdir}/owned", str(tmp_path / "owned"))
        assert (os.stat(tmp_path / "owned").st_uid, os.stat(tmp_path / "owned").st_gid) == (4321, 4322)
    fs3(cluster, "cp", str(src / "tool"), f"fs3://{workdir}/plain")  # without -p: a new file's times
    assert client.stat(f"{workdir}/plain").mtime_ns != 1_500_000_000_987_654_321


def test_the_summary_line_json_and_quiet(cluster, client, workdir, tmp_path):
    (tmp_path / "f").write_bytes(os.urandom(MiB))
    proc = fs3(cluster, "cp", "--checksum", str(tmp_path / "f"), f"fs3://{workdir}/a")
    (line,) = proc.stderr.decode().splitlines()
    assert line.startswith("fs3: cp: copied 1 file, 1.0 MB in ") and "MB/s" in line
    out = json.loads(fs3(cluster, "cp", "--json", str(tmp_path / "f"), f"fs3://{workdir}/b").stdout)
    assert out["files"] == 1 and out["bytes"] == MiB and out["errors"] == [] and out["seconds"] > 0
    assert fs3(cluster, "cp", "-q", str(tmp_path / "f"), f"fs3://{workdir}/c").stderr == b""
    assert client.read(f"{workdir}/a") == client.read(f"{workdir}/c") == (tmp_path / "f").read_bytes()


def test_fs3_wildcards_and_a_symlink_loop_under_dash_l(cluster, client, workdir, tmp_path):
    for name in ("a.bin", "b.bin", "c.txt"):
        client.write(f"{workdir}/{name}", name.encode())
    (tmp_path / "out").mkdir()
    fs3(cluster, "cp", f"fs3://{workdir}/*.bin", str(tmp_path / "out"))
    assert sorted(os.listdir(tmp_path / "out")) == ["a.bin", "b.bin"]
    one_error_line(fs3(cluster, "cp", f"fs3://{workdir}/*.none", str(tmp_path / "out"), check=False), "No match")
    loop = tmp_path / "loop"
    (loop / "d").mkdir(parents=True)
    os.symlink("..", loop / "d" / "up")  # -L would walk up forever
    proc = fs3(cluster, "cp", "-r", "-L", str(loop), f"fs3://{workdir}/loop", check=False)
    assert proc.returncode == 1 and "symlink loop" in proc.stderr.decode()
    assert client.ls(f"{workdir}/loop/d") == []


def test_another_users_copy_is_refused_in_one_line_and_leaves_nothing(cluster, client, workdir, tmp_path):
    from _users import fresh_user

    _, token = fresh_user(client, "cp-outsider")
    client.chmod(workdir, 0o755)
    client.write(f"{workdir}/secret", b"root only")
    client.chmod(f"{workdir}/secret", 0o600)
    (tmp_path / "f").write_bytes(b"x")
    url = f"fs3://{workdir}"
    err = one_error_line(fs3(cluster, "--token", token, "cp", str(tmp_path / "f"), f"{url}/intruder", check=False),
                         "Permission denied", f"{url}/intruder")
    assert "fs3-part" not in err  # the error names what the user asked for
    one_error_line(fs3(cluster, "--token", token, "cp", f"{url}/secret", str(tmp_path / "stolen"), check=False),
                   "Permission denied")
    assert sorted(client.ls(workdir)) == ["secret"]  # no file and no partial
    assert sorted(os.listdir(tmp_path)) == ["f"]


def test_a_damaged_chunk_fails_the_copy_and_leaves_nothing(cluster, client, workdir, tmp_path, corrupt):
    """A source chunk whose stored bytes no longer match their CRC32C: the copy stops with one line,
    and neither the destination nor a partial of it is left (locally or in fs3)."""
    client.write(f"{workdir}/f", os.urandom(MiB))  # 16 chunks of 64 KiB on the session cluster
    corrupt(cluster.data_dir, client.stat(f"{workdir}/f").inode, 5, offset=100)
    (tmp_path / "out").mkdir()
    for dst in (str(tmp_path / "out" / "f"), f"fs3://{workdir}/g"):
        one_error_line(fs3(cluster, "cp", "--checksum", f"fs3://{workdir}/f", dst, check=False), "checksum")
    assert os.listdir(tmp_path / "out") == []
    assert client.ls(workdir) == ["f"]
