"""The commands people reach for, as coreutils users expect them: wildcards in ls/cat/rm, ls -a -R -d -l -h,
stat of a link itself, rm and cat going on past a bad operand, du and find. The real `fs3` command line
(click's runner, in process) against the session cluster; where coreutils have the command, the same
tree is built on the local disk and the answers are compared."""

from __future__ import annotations

import glob
import json
import os
import subprocess
import time
from pathlib import Path

import pytest
from _users import fresh_user
from click.testing import CliRunner

from fs3.cli import cli

DAY_NS = 86_400 * 10**9


def run(cluster, *args, token=None, input=None, ok=None):
    """`fs3 ARGS` as the admin (or the holder of ``token``); never a traceback. ``ok``: want exit 0 (True) or 1."""
    base = ["--cluster", str(cluster.data_dir)] + (["--token", token] if token else [])
    result = CliRunner().invoke(cli, [*base, *args], input=input)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exc_info
    assert "Traceback" not in result.stderr, result.stderr
    if ok is not None:
        assert result.exit_code == (0 if ok else 1), (args, result.exit_code, result.stderr)
    return result


def lines(result) -> list[str]:
    return result.stdout.splitlines()


def build(client, root: str, local: Path, files: dict[str, bytes], *, dirs=(), links=None, mtimes=None) -> None:
    """The same tree in fs3 under ``root`` and on the local disk under ``local``."""
    links, mtimes = links or {}, mtimes or {}
    local.mkdir(parents=True, exist_ok=True)
    for d in dirs:
        client.mkdir(f"{root}/{d}", parents=True)
        (local / d).mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        client.write(f"{root}/{name}", data)
        (local / name).write_bytes(data)
    for name, target in links.items():
        client.symlink(target, f"{root}/{name}")
        (local / name).symlink_to(target)
    for name, ns in mtimes.items():
        client.utime(f"{root}/{name}", (ns, ns))
        os.utime(local / name, ns=(ns, ns))


# -- wildcards -------------------------------------------------------------------------------------------

GLOB_FILES = {"a.bin": b"A", "b.bin": b"BB", "c.txt": b"C", ".h.bin": b"H", "sub/d.bin": b"D",
              "sub2/e.bin": b"E", "sub2/f.txt": b"F", "br[1]": b"literal"}


def test_wildcards_expand_as_the_shell_would(cluster, client, workdir, tmp_path):
    build(client, workdir, tmp_path, GLOB_FILES, dirs=["sub", "sub2", ".hdir"])
    for pattern in ["*.bin", "?.bin", "[ab].bin", "[!a].bin", "*/*.bin", ".*", "*", "s*/*", "sub?/f.txt",
                    "*/f.txt", ".h*"]:
        got = lines(run(cluster, "ls", "-d", f"fs3://{workdir}/{pattern}", ok=True))
        want = sorted(glob.glob(str(tmp_path / pattern)))  # Python's glob is the shell's (no dot names)
        assert [g.rstrip("/").removeprefix(f"fs3://{workdir}/") for g in got] == \
               [os.path.relpath(w, tmp_path) for w in want], pattern


def test_cat_and_rm_take_wildcards_and_a_literal_bracket_name(cluster, client, workdir, tmp_path):
    build(client, workdir, tmp_path, GLOB_FILES, dirs=["sub", "sub2"])
    assert run(cluster, "cat", f"fs3://{workdir}/[ab].bin", ok=True).stdout_bytes == b"ABB"
    assert run(cluster, "cat", f"fs3://{workdir}/br[1]", ok=True).stdout_bytes == b"literal"  # matches nothing
    run(cluster, "rm", f"fs3://{workdir}/*.bin", ok=True)
    assert sorted(client.ls(workdir)) == [".h.bin", "br[1]", "c.txt", "sub", "sub2"]  # dot name spared
    run(cluster, "rm", f"{workdir}/sub*/*", ok=True)  # the plain /path spelling too
    assert client.ls(f"{workdir}/sub") == [] and client.ls(f"{workdir}/sub2") == []


def test_a_pattern_that_matches_nothing_is_an_error(cluster, client, workdir):
    client.write(f"{workdir}/keep", b"k")
    for cmd in (["ls"], ["cat"], ["rm"], ["stat"], ["du"], ["find"]):
        r = run(cluster, *cmd, f"fs3://{workdir}/*.nope", ok=False)
        assert r.stderr.strip() == f"fs3: {cmd[0]}: No match: fs3://{workdir}/*.nope", r.stderr
    assert run(cluster, "rm", "-f", f"fs3://{workdir}/*.nope", ok=True).stderr == ""  # as rm -f of a missing path
    assert client.ls(workdir) == ["keep"]


# -- ls ---------------------------------------------------------------------------------------------------

def test_ls_hides_dot_entries_unless_a_and_json_lists_every_entry(cluster, client, workdir):
    client.write(f"{workdir}/.hidden", b"h")
    client.write(f"{workdir}/shown", b"s")
    assert lines(run(cluster, "ls", f"fs3://{workdir}", ok=True)) == ["shown"]
    assert lines(run(cluster, "ls", "-a", f"fs3://{workdir}", ok=True)) == [".hidden", "shown"]
    assert [e["name"] for e in json.loads(run(cluster, "ls", "--json", f"fs3://{workdir}", ok=True).stdout)] == \
           [".hidden", "shown"]


def test_ls_R_lists_as_coreutils_ls_R(cluster, client, workdir, tmp_path):
    files = {"top": b"t", "d1/x": b"x", "d1/d2/y": b"y", "d1/d2/d3/z": b"z", "e/w": b"w", ".hd/q": b"q"}
    build(client, f"{workdir}/tree", tmp_path / "tree", files, dirs=["d1/d2/d3", "e", "empty", ".hd"],
          links={"ln": "top"})
    ours = run(cluster, "ls", "-R", f"fs3://{workdir}/tree", ok=True).stdout
    theirs = subprocess.run(["ls", "-R", "-1", str(tmp_path / "tree")], capture_output=True, text=True,
                            env={**os.environ, "LC_ALL": "C"}, check=True).stdout
    ours = "\n".join(line.rstrip("/") for line in ours.splitlines())
    assert ours.replace(f"fs3://{workdir}", "ROOT") == theirs.rstrip("\n").replace(str(tmp_path), "ROOT")
    with_all = run(cluster, "ls", "-R", "-a", f"fs3://{workdir}/tree", ok=True).stdout
    assert f"fs3://{workdir}/tree/.hd:\nq" in with_all


def test_ls_d_lists_a_directory_itself(cluster, client, workdir):
    client.write(f"{workdir}/inside", b"i")
    assert lines(run(cluster, "ls", "-d", f"fs3://{workdir}", ok=True)) == [f"fs3://{workdir}/"]
    long = lines(run(cluster, "ls", "-ld", f"fs3://{workdir}", ok=True))
    assert len(long) == 1 and long[0].startswith("d") and long[0].endswith(f"fs3://{workdir}/")


def test_ls_l_shows_link_targets_and_owner_names(cluster, client, workdir):
    info, token = fresh_user(client, "ls-owner", uid=6161, gid=6161)
    client.write(f"{workdir}/mine", b"m")
    client.chown(f"{workdir}/mine", 6161, 6161)
    client.write(f"{workdir}/stranger", b"s")
    client.chown(f"{workdir}/stranger", 7777, 7778)  # in no registry
    client.symlink("/somewhere/else", f"{workdir}/link")
    as_admin = {line.split()[-1] if "->" not in line else line.split()[-3]: line
                for line in lines(run(cluster, "ls", "-l", f"fs3://{workdir}", ok=True))}
    assert as_admin["mine"].split()[2:4] == ["ls-owner", "ls-owner"]
    assert as_admin["stranger"].split()[2:4] == ["7777", "7778"]
    assert as_admin["link"].startswith("l") and as_admin["link"].endswith("link -> /somewhere/else")
    # a user who may not list the registry still sees its own name (from whoami), the rest as numbers
    as_user = lines(run(cluster, "ls", "-l", f"fs3://{workdir}", token=token, ok=True))
    mine = next(line for line in as_user if line.endswith(" mine"))
    assert mine.split()[2:4] == ["ls-owner", "ls-owner"]
    assert next(line for line in as_user if line.endswith(" stranger")).split()[2:4] == ["7777", "7778"]


def test_h_is_human_sizes_not_help(cluster, client, workdir):
    client.write(f"{workdir}/big", b"\0" * (3 << 20))
    for args in (["ls", "-lh", f"fs3://{workdir}"], ["df", "-h"], ["du", "-sh", f"fs3://{workdir}"],
                 ["quota", "ls", "-h"]):
        r = run(cluster, *args)
        assert r.exit_code in (0, 1) and "Usage:" not in r.stdout, (args, r.stdout)
    assert "3.0M" in run(cluster, "ls", "-lh", f"fs3://{workdir}", ok=True).stdout
    assert "3.0M" in run(cluster, "du", "-sh", f"fs3://{workdir}", ok=True).stdout
    assert "G" in run(cluster, "df", "-h", ok=True).stdout.splitlines()[1]
    for cmd in ("ls", "df", "du", "find", "stat"):
        assert run(cluster, cmd, "--help", ok=True).stdout.startswith(f"Usage: cli {cmd}")


# -- stat --------------------------------------------------------------------------------------------------

def test_stat_shows_a_link_itself_and_L_follows_it(cluster, client, workdir):
    client.write(f"{workdir}/target", b"twelve bytes")
    client.symlink("target", f"{workdir}/link")
    itself = json.loads(run(cluster, "stat", "--json", f"fs3://{workdir}/link", ok=True).stdout)
    assert itself["type"] == "symlink" and itself["symlink_target"] == "target" and itself["size"] == 6
    followed = json.loads(run(cluster, "stat", "-L", "--json", f"fs3://{workdir}/link", ok=True).stdout)
    assert followed["type"] == "file" and followed["size"] == 12
    assert f"Path: {workdir}/link -> target" in run(cluster, "stat", f"fs3://{workdir}/link", ok=True).stdout
    client.symlink("nowhere", f"{workdir}/dangling")  # stat of a dangling link works; -L says why not
    assert json.loads(run(cluster, "stat", "--json", f"fs3://{workdir}/dangling", ok=True).stdout)["type"] == "symlink"
    assert "No such file" in run(cluster, "stat", "-L", f"fs3://{workdir}/dangling", ok=False).stderr


# -- rm and cat go on ---------------------------------------------------------------------------------------

def test_rm_goes_on_past_missing_paths_as_coreutils_rm(cluster, client, workdir, tmp_path):
    for name in ("a", "b"):
        client.write(f"{workdir}/{name}", b"x")
        (tmp_path / name).write_bytes(b"x")
    client.mkdir(f"{workdir}/dir")
    (tmp_path / "dir").mkdir()
    names = ["missing1", "a", "dir", "missing2", "b"]
    ours = run(cluster, "rm", *(f"fs3://{workdir}/{n}" for n in names))
    theirs = subprocess.run(["rm", *(str(tmp_path / n) for n in names)], capture_output=True, text=True)
    assert ours.exit_code == 1 and theirs.returncode == 1
    assert sorted(client.ls(workdir)) == sorted(os.listdir(tmp_path)) == ["dir"]
    errors = ours.stderr.splitlines()
    assert len(errors) == len(theirs.stderr.splitlines()) == 3, ours.stderr
    assert "missing1" in errors[0] and "Is a directory" in errors[1] and "missing2" in errors[2]
    # -f: missing paths are no error at all
    r = run(cluster, "rm", "-f", f"fs3://{workdir}/missing1", f"fs3://{workdir}/dir", ok=False)
    assert len(r.stderr.splitlines()) == 1 and "Is a directory" in r.stderr
    assert run(cluster, "rm", "-rf", f"fs3://{workdir}/missing1", f"fs3://{workdir}/dir", ok=True).stderr == ""
    assert client.ls(workdir) == []


def test_cat_goes_on_past_a_missing_file(cluster, client, workdir):
    client.write(f"{workdir}/one", b"1")
    client.write(f"{workdir}/two", b"2")
    r = run(cluster, "cat", f"fs3://{workdir}/one", f"fs3://{workdir}/gone", f"fs3://{workdir}/two", ok=False)
    assert r.stdout_bytes == b"12" and "gone" in r.stderr and len(r.stderr.splitlines()) == 1


# -- du ----------------------------------------------------------------------------------------------------

DU_FILES = {"f0": b"", "f1": b"x" * 1, "f2": b"y" * 4096, "f3": os.urandom(70_000), "d/g": os.urandom(200_001),
            "d/e/h": b"z" * 513}


def test_du_counts_as_coreutils_du(cluster, client, workdir, tmp_path):
    build(client, workdir, tmp_path, DU_FILES, dirs=["d/e"])
    client.link(f"{workdir}/f3", f"{workdir}/d/f3-again")  # a hard link: counted once
    os.link(tmp_path / "f3", tmp_path / "d" / "f3-again")
    # apparent sizes per file, as coreutils du -ab gives them
    theirs = dict(reversed(line.split("\t")) for line in subprocess.run(
        ["du", "-ab", str(tmp_path)], capture_output=True, text=True, check=True).stdout.splitlines())
    ours = dict(reversed(line.split("\t")) for line in lines(run(cluster, "du", "-ab", f"fs3://{workdir}", ok=True)))
    for name in set(DU_FILES) - {"f3"}:
        assert ours[f"fs3://{workdir}/{name}"] == theirs[str(tmp_path / name)], name
    # of f3's two names, each shows one (the first its walk meets), with the size, as coreutils du -a does
    assert [ours.get(f"fs3://{workdir}/{n}") for n in ("f3", "d/f3-again")].count("70000") == 1
    assert [theirs.get(str(tmp_path / n)) for n in ("f3", "d/f3-again")].count("70000") == 1
    assert len(ours) == len(theirs)
    # the total: every file once (coreutils adds its directories' own sizes, fs3's directories take none)
    want = sum(len(data) for data in DU_FILES.values())
    assert lines(run(cluster, "du", "-sb", f"fs3://{workdir}", ok=True)) == [f"{want}\tfs3://{workdir}"]
    # KiB stored, rounded up: each file's 512-byte blocks
    stored = sum(-(-len(data) // 512) * 512 for data in DU_FILES.values())
    assert lines(run(cluster, "du", "-s", f"fs3://{workdir}", ok=True)) == [f"{-(-stored // 1024)}\tfs3://{workdir}"]
    # without -s: each directory, deepest first, as du prints them; --json says the same
    assert [line.split("\t")[1] for line in lines(run(cluster, "du", f"fs3://{workdir}", ok=True))] == \
           [f"fs3://{workdir}/d/e", f"fs3://{workdir}/d", f"fs3://{workdir}"]
    for depth in ("0", "1"):  # -d N: shown as deep as N, counted all the way down (as coreutils du -d)
        got = [line.split("\t")[::-1] for line in lines(run(cluster, "du", "-b", "-d", depth, f"fs3://{workdir}",
                                                              ok=True))]
        want = [line.split("\t")[::-1] for line in subprocess.run(
            ["du", "-b", "-d", depth, str(tmp_path)], capture_output=True, text=True, check=True).stdout.splitlines()]
        assert [p.removeprefix(f"fs3://{workdir}") for p, _ in got] == [p.removeprefix(str(tmp_path)) for p, _ in want]
        assert got[-1][1] == str(want_total := sum(len(data) for data in DU_FILES.values())), (got, want_total)
    rows = json.loads(run(cluster, "du", "-s", "--json", f"fs3://{workdir}/*", ok=True).stdout)
    by_path = {r["path"].rsplit("/", 1)[1]: r for r in rows}
    assert by_path["d"]["apparent_bytes"] == 200_001 + 513 + 70_000 and by_path["d"]["files"] == 3
    assert "f3" not in by_path  # already counted under d/ (same inode, operands in order): not shown


# -- find --------------------------------------------------------------------------------------------------

def test_find_answers_as_gnu_find(cluster, client, workdir, tmp_path):
    now = time.time_ns()
    files = {"a.txt": b"a" * 10, "b.bin": b"b" * 2000, "c.bin": b"c" * (1 << 20), "sub/d.txt": b"",
             "sub/deep/e.bin": b"e" * 1025, ".hid.txt": b"h" * 3000, "sub/old.txt": b"o" * 5}
    ages = {"a.txt": 0.5, "b.bin": 3.5, "c.bin": 10.5, "sub/d.txt": 1.5, "sub/deep/e.bin": 30.5, ".hid.txt": 2.5,
            "sub/old.txt": 400.5}
    build(client, f"{workdir}/t", tmp_path / "t", files, dirs=["sub/deep", "empty"],
          links={"ln.txt": "a.txt"}, mtimes={n: now - int(days * DAY_NS) for n, days in ages.items()})
    cases = [[], ["-name", "*.txt"], ["-name", "*.bin", "-type", "f"], ["-type", "d"], ["-type", "l"],
             ["-type", "f", "-size", "+1k"], ["-type", "f", "-size", "-2k"], ["-type", "f", "-size", "2k"],
             ["-type", "f", "-size", "+2000c"], ["-type", "f", "-size", "-1M"], ["-type", "f", "-size", "1M"],
             ["-type", "f", "-mtime", "+3"], ["-type", "f", "-mtime", "-3"], ["-type", "f", "-mtime", "10"],
             ["-maxdepth", "1"], ["-maxdepth", "0"], ["-name", "*.txt", "-mtime", "+1", "-type", "f"]]
    for case in cases:
        theirs = subprocess.run(["find", str(tmp_path / "t"), *case], capture_output=True, text=True, check=True)
        ours = run(cluster, "find", f"fs3://{workdir}/t", *case, ok=True)
        assert sorted(p.removeprefix(f"fs3://{workdir}") for p in lines(ours)) == \
               sorted(p.removeprefix(str(tmp_path)) for p in theirs.stdout.splitlines()), case
    nul = run(cluster, "find", f"fs3://{workdir}/t", "-type", "f", "-name", "*.bin", "-print0", ok=True).stdout
    assert sorted(nul.split("\0")) == sorted(["", *(f"fs3://{workdir}/t/{n}" for n in ("b.bin", "c.bin", "sub/deep/e.bin"))])
    found = json.loads(run(cluster, "find", f"{workdir}/t", "--name", "c.bin", "--json", ok=True).stdout)
    assert [(f["path"], f["size"]) for f in found] == [(f"{workdir}/t/c.bin", 1 << 20)]


def test_find_refuses_a_bad_size_in_one_line(cluster, workdir):
    for bad in ("abc", "+-3", "1X", "+", f"{10**30}"):
        r = run(cluster, "find", f"fs3://{workdir}", "--size", bad, ok=False)
        assert len(r.stderr.splitlines()) == 1 and "Invalid --size" in r.stderr, r.stderr
    r = run(cluster, "find", f"fs3://{workdir}", "--mtime", "3d", ok=False)
    assert "Invalid --mtime" in r.stderr


def test_find_and_du_go_on_past_a_directory_they_may_not_read(cluster, client, workdir):
    """Another user's token: a root-owned 0700 directory is reported, the rest is still walked."""
    _, token = fresh_user(client, "walker", uid=6262, gid=6262)
    client.write(f"{workdir}/open.txt", b"o" * 100)
    client.mkdir(f"{workdir}/closed", 0o700)
    client.write(f"{workdir}/closed/secret", b"s")
    client.mkdir(f"{workdir}/later")
    client.write(f"{workdir}/later/z", b"z" * 7)
    r = run(cluster, "find", f"fs3://{workdir}", token=token, ok=False)
    assert lines(r) == [f"fs3://{workdir}", f"fs3://{workdir}/closed", f"fs3://{workdir}/later",
                        f"fs3://{workdir}/later/z", f"fs3://{workdir}/open.txt"]
    assert len(r.stderr.splitlines()) == 1 and "closed" in r.stderr and "ermission" in r.stderr, r.stderr
    r = run(cluster, "du", "-sb", f"fs3://{workdir}", token=token, ok=False)
    assert lines(r) == [f"107\tfs3://{workdir}"] and "closed" in r.stderr
    r = run(cluster, "ls", "-R", f"fs3://{workdir}", token=token, ok=False)
    assert f"fs3://{workdir}/later:\nz" in r.stdout and "closed" in r.stderr


@pytest.mark.parametrize("cmd", ["ls", "du", "find", "stat", "cat"])
def test_a_missing_operand_does_not_stop_the_others(cluster, client, workdir, cmd):
    client.write(f"{workdir}/here", b"h")
    r = run(cluster, cmd, f"fs3://{workdir}/gone", f"fs3://{workdir}/here")
    assert r.exit_code == 1 and len(r.stderr.splitlines()) == 1 and "gone" in r.stderr
    assert "here" in r.stdout or r.stdout_bytes == b"h"
    if cmd in ("ls", "stat", "find"):  # --json: what was found, in the shape for two operands
        r = run(cluster, cmd, "--json", f"fs3://{workdir}/gone", f"fs3://{workdir}/here", ok=False)
        found = json.loads(r.stdout)
        assert "here" in json.dumps(found) and "gone" not in json.dumps(found)
