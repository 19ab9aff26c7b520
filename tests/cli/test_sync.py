"""`fs3 sync` against a real cluster: copies only what differs, a second sync copies nothing, `--delete`
spares what the filters exclude, filters apply in order (last match wins), `--dry-run` changes nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

MiB = 1 << 20


def fs3(cluster, *args, check=True):
    proc = subprocess.run([sys.executable, "-m", "fs3", "--cluster", str(cluster.data_dir), *args],
                          capture_output=True, timeout=180)
    if check and proc.returncode != 0:
        raise AssertionError(f"fs3 {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr.decode()}")
    return proc


def sync(cluster, *args) -> dict:
    return json.loads(fs3(cluster, "sync", "--json", *args).stdout)


def make_tree(root: Path) -> Path:
    src = root / "src"
    (src / "a" / "b").mkdir(parents=True)
    (src / "empty").mkdir()
    (src / "a" / "x.txt").write_bytes(b"one")
    (src / "a" / "b" / "y.tmp").write_bytes(b"scratch")
    (src / "big.bin").write_bytes(os.urandom(2 * MiB + 5))
    (src / "meta.json").write_bytes(b"{}")
    os.symlink("a/x.txt", src / "link")
    return src


def tree_of(root: Path) -> dict:
    out = {}
    for p in sorted(root.rglob("*")):
        rel = str(p.relative_to(root))
        out[rel] = ("link", os.readlink(p)) if p.is_symlink() else ("dir",) if p.is_dir() else p.read_bytes()
    return out


def test_a_second_sync_copies_nothing_and_a_change_is_copied(cluster, client, workdir, tmp_path):
    src = make_tree(tmp_path)
    url = f"fs3://{workdir}/mirror"
    first = sync(cluster, str(src), url)
    assert (first["files"], first["links"], first["unchanged"]) == (4, 1, 0)
    assert client.read(f"{workdir}/mirror/big.bin") == (src / "big.bin").read_bytes()
    assert client.stat(f"{workdir}/mirror/big.bin").mtime_ns == os.stat(src / "big.bin").st_mtime_ns
    assert client.readlink(f"{workdir}/mirror/link") == "a/x.txt"
    assert client.ls(f"{workdir}/mirror/empty") == []
    again = sync(cluster, str(src), url)
    assert (again["files"], again["links"], again["bytes"], again["unchanged"]) == (0, 0, 0, 5)
    # Same size, other bytes and mtime: copied. Same bytes, other mtime: only with --checksum left alone.
    (src / "a" / "x.txt").write_bytes(b"two")
    os.utime(src / "meta.json", ns=(1_000_000_000, 1_000_000_000))
    out = sync(cluster, "--checksum", str(src), url)
    assert (out["files"], out["bytes"]) == (1, 3)
    assert client.read(f"{workdir}/mirror/a/x.txt") == b"two"
    assert client.stat(f"{workdir}/mirror/meta.json").mtime_ns == 1_000_000_000  # times set, nothing copied
    assert sync(cluster, str(src), url)["files"] == 0
    # Back out to a local tree, and fs3 to fs3: the same tree, and again nothing the second time.
    fs3(cluster, "sync", url, str(tmp_path / "back"))
    assert tree_of(tmp_path / "back") == tree_of(src)
    assert sync(cluster, url, str(tmp_path / "back"))["files"] == 0
    assert sync(cluster, url, f"fs3://{workdir}/copy2")["files"] == 4
    assert sync(cluster, url, f"fs3://{workdir}/copy2")["files"] == 0


def test_delete_spares_excluded_paths_and_dry_run_changes_nothing(cluster, client, workdir, tmp_path):
    src = make_tree(tmp_path)
    url = f"fs3://{workdir}/m"
    sync(cluster, str(src), url)
    client.write(f"{workdir}/m/stray", b"not in the source")
    client.mkdir(f"{workdir}/m/old")
    client.write(f"{workdir}/m/old/gone", b"x")
    client.write(f"{workdir}/m/old/keep.log", b"excluded: protected")
    (src / "big.bin").unlink()
    plan = json.loads(fs3(cluster, "sync", "--dry-run", "--json", "--delete", "--exclude", "*.log",
                          str(src), url).stdout)
    deletes = sorted(a["path"] for a in plan["actions"] if a["action"] == "delete")
    assert deletes == ["big.bin", "old/gone", "stray"]
    assert client.exists(f"{workdir}/m/stray") and client.exists(f"{workdir}/m/big.bin")  # dry run
    text = fs3(cluster, "sync", "--dry-run", "--delete", str(src), url).stdout.decode()
    assert f"delete fs3://{workdir}/m/stray" in text
    out = sync(cluster, "--delete", "--exclude", "*.log", str(src), url)
    assert out["deleted"] == 3 and out["files"] == 0
    assert sorted(client.ls(f"{workdir}/m")) == ["a", "empty", "link", "meta.json", "old"]
    assert client.ls(f"{workdir}/m/old") == ["keep.log"]


def test_filters_apply_in_order_and_the_last_match_wins(cluster, client, workdir, tmp_path):
    src = make_tree(tmp_path)
    sync(cluster, "--exclude", "*", "--include", "*.json", "--include", "a/*", str(src), f"fs3://{workdir}/one")
    assert sorted(client.ls(f"{workdir}/one")) == ["a", "meta.json"]
    assert sorted(client.ls(f"{workdir}/one/a")) == ["b", "x.txt"]  # `*` crosses `/` as in aws s3 sync
    sync(cluster, "--include", "*.json", "--exclude", "*", str(src), f"fs3://{workdir}/two")
    assert client.ls(f"{workdir}/two") == []
    sync(cluster, "--exclude=*.tmp", "--exclude", "big*", str(src), f"fs3://{workdir}/three")
    assert sorted(client.ls(f"{workdir}/three")) == ["a", "empty", "link", "meta.json"]
    assert client.ls(f"{workdir}/three/a") == ["x.txt"]  # a/b held only an excluded file


def test_sync_mistakes_get_one_line(cluster, workdir, tmp_path):
    (tmp_path / "f").write_bytes(b"x")
    (tmp_path / "sub").mkdir()
    for args, needle in ((["sync", str(tmp_path / "f"), f"fs3://{workdir}/d"], "use `fs3 cp`"),
                         (["sync", str(tmp_path), f"fs3://{workdir}/no/such"], "No such file or directory"),
                         (["sync", str(tmp_path / "nope"), f"fs3://{workdir}/d"], "No such file or directory"),
                         (["sync", f"fs3://{workdir}", f"fs3://{workdir}/inside"], "overlap"),
                         (["sync", str(tmp_path / "sub"), str(tmp_path)], "overlap"),
                         (["sync", "-j", "0", str(tmp_path), f"fs3://{workdir}/d"], "jobs")):
        proc = fs3(cluster, *args, check=False)
        err = proc.stderr.decode()
        assert proc.returncode in (1, 2) and "Traceback" not in err and needle in err, err
        assert len(err.strip().splitlines()) == 1, err
