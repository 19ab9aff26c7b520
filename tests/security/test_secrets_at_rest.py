"""Secrets at rest (issue 15, item 3): meta.db holds the cluster secret and the user records, a target
everyone's chunks. A local account without an fs3 token must not read them, and a server that finds
them open to group/other refuses to start, saying how to fix it."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from _timing import wait_for

import fs3
from fs3._auth import TOKEN_FILE, read_token_file
from fs3.local import LocalCluster, LocalClusterConfig
from fs3.meta.kv import SQLiteKV
from fs3.storage import Target


def mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture
def open_cluster():
    """A local cluster whose data directory others may enter (0755, in /tmp), as a deployment's
    /var/lib/fs3 holding meta/ and the targets is: only the servers' own modes protect what is in it."""
    base = Path(tempfile.mkdtemp(prefix="fs3-secrets-"))
    base.chmod(0o755)
    cluster = LocalCluster.start(LocalClusterConfig(data_dir=base / "fs3", storage_nodes=1, replicas=1,
                                                    gc_delay=0.0), timeout=90, remember=False)
    cluster.data_dir.chmod(0o755)  # `fs3 up` makes its own 0700; the servers must not rely on that
    try:
        yield cluster
    finally:
        cluster.stop()
        shutil.rmtree(base, ignore_errors=True)


def test_a_local_account_cannot_read_the_databases_of_a_running_cluster(open_cluster, unix_user):
    data = open_cluster.data_dir
    assert mode(data) & 0o005 == 0o005, "the test needs a data directory others may enter"
    token = read_token_file(data / TOKEN_FILE)
    with fs3.connect(open_cluster.meta[0], token=token) as client:
        client.write("/secret.bin", b"root's data " * 1000)
    meta_dir = data / "meta"
    target = next(data.glob("storage-*/target-*"))
    secrets = [data / "cluster.secret", meta_dir / "meta.db", *meta_dir.glob("meta.db-*"), target / "chunks.db",
               *target.glob("chunks.db-*"), *target.glob("slots/c*.dat"), target / "target.json"]
    assert (meta_dir / "meta.db-wal").exists() and (target / "chunks.db-wal").exists()  # a running cluster
    for d in (meta_dir, target.parent, target, target / "slots"):
        assert mode(d) == 0o700, (d, oct(mode(d)))
    for f in secrets:
        assert mode(f) & 0o077 == 0, (f, oct(mode(f)))

    # The attack: a local account with no fs3 token tries to read them, and to list the directories.
    for f in secrets:
        proc = unix_user.run("cat", str(f))
        assert proc.returncode != 0 and proc.stdout == "", (f, proc)
        assert "Permission denied" in proc.stderr, (f, proc.stderr)
    for d in (meta_dir, target):
        proc = unix_user.run("ls", str(d))
        assert proc.returncode != 0 and "Permission denied" in proc.stderr, (d, proc)
    # Only the admin token beside them was private before; it stays so.
    assert unix_user.run("cat", str(data / TOKEN_FILE)).returncode != 0


def _meta(db: Path, cli, addr_file: Path | None = None):
    args = ["meta", "--kv", f"sqlite://{db}", "--listen", "127.0.0.1:0", "--calls", "off"]
    return cli(*args, timeout=60) if addr_file is None else subprocess.Popen(
        [sys.executable, "-m", "fs3", *args, "--addr-file", str(addr_file)], env=cli.env(),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def test_meta_refuses_to_start_on_a_database_others_may_read(tmp_path, cli):
    db = tmp_path / "meta" / "meta.db"
    SQLiteKV(db).close()
    assert mode(db.parent) == 0o700 and mode(db) == 0o600

    db.chmod(0o644)
    cli.one_error_line(_meta(db, cli), f"{db} is mode 0644", f"chmod 600 {db}")
    db.chmod(0o600)
    db.parent.chmod(0o755)
    cli.one_error_line(_meta(db, cli), f"{db.parent} is mode 0755", f"chmod 700 {db.parent}")
    db.parent.chmod(0o700)
    wal = db.with_name("meta.db-wal")
    wal.touch(mode=0o666)
    wal.chmod(0o666)
    cli.one_error_line(_meta(db, cli), f"chmod 600 {wal}")
    wal.unlink()

    # With the fixes applied, it starts.
    addr = tmp_path / "addr"
    proc = _meta(db, cli, addr)
    try:
        wait_for(lambda: addr.exists() or proc.poll() is not None, what="meta to start")
        assert proc.poll() is None, "meta did not start once its files were private"
    finally:
        proc.terminate()
        proc.wait(30)


def test_storage_refuses_to_start_on_a_target_others_may_read(tmp_path, cli):
    path = tmp_path / "disk" / "target-1"
    target = Target.open(path, direct=False)
    target.store.write(1, 0, 0, b"x" * 5000, 1 << 20)
    target.close()
    assert mode(path) == mode(path.parent) == mode(path / "slots") == 0o700
    slot = next(path.glob("slots/c*.dat"))

    def storage():
        return cli("storage", "--meta", "127.0.0.1:1", "--target", str(path), "--listen", "127.0.0.1:0",
                   "--no-direct-io", env=cli.env(FS3_TOKEN="fs3_unused"), timeout=60)

    db = path / "chunks.db"
    for loose, fix, private in ((db, f"chmod 600 {db}", 0o600), (slot, f"chmod 600 {slot}", 0o600),
                                (path, f"chmod 700 {path}", 0o700)):
        loose.chmod(0o644 if private == 0o600 else 0o755)
        cli.one_error_line(storage(), str(loose), fix)
        loose.chmod(private)


def _kv_secret(db: Path) -> bytes | None:
    import sqlite3

    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        row = conn.execute("SELECT v FROM kv WHERE k = ?", (b"SECR",)).fetchone()
    return None if row is None else bytes(row[0])


def test_the_cluster_secret_lives_apart_from_the_namespace(open_cluster):
    """`fs3 up` keeps the secret in DATA/cluster.secret (0600): a copy of meta.db, or an etcd backup,
    cannot mint node tokens or capabilities."""
    secret = open_cluster.data_dir / "cluster.secret"
    assert mode(secret) == 0o600 and len(bytes.fromhex(secret.read_text().strip())) == 32
    assert _kv_secret(open_cluster.data_dir / "meta" / "meta.db") is None


def test_meta_moves_an_older_clusters_secret_out_of_the_namespace_and_guards_the_file(tmp_path, cli):
    from fs3.meta._cluster import ClusterManager

    db = tmp_path / "meta" / "meta.db"
    addr = tmp_path / "addr"
    kv = SQLiteKV(db)
    ClusterManager(kv).secret()  # as an older fs3 kept it: in the KV store
    kv.close()
    old = _kv_secret(db)
    assert old is not None and len(old) == 32

    secret = tmp_path / "cluster.secret"
    args = ["meta", "--kv", f"sqlite://{db}", "--listen", "127.0.0.1:0", "--calls", "off",
            "--secret-file", str(secret)]
    proc = subprocess.Popen([sys.executable, "-m", "fs3", *args, "--addr-file", str(addr)], env=cli.env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: addr.exists() or proc.poll() is not None, what="meta to start with a secret file")
        assert proc.poll() is None
    finally:
        proc.terminate()
        proc.wait(30)
    assert bytes.fromhex(secret.read_text()) == old  # tokens already issued stay good
    assert mode(secret) == 0o600 and _kv_secret(db) is None

    secret.chmod(0o644)
    cli.one_error_line(cli(*args, timeout=60), f"{secret} is mode 0644", f"chmod 600 {secret}")
    secret.chmod(0o600)
    secret.write_text("not hex\n")
    cli.one_error_line(cli(*args, timeout=60), "openssl rand -hex 32")
