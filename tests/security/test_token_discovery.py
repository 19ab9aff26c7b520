"""Token discovery (issue 15, item 7): a token file named in FS3_TOKEN_FILE that cannot be read, or is
empty, is an error naming it, never a quiet fall back to the local cluster's admin token (which would
run the user as root); `fs3 user whoami` says where the token came from."""

from __future__ import annotations

import json
import uuid

import pytest

import fs3
from fs3._auth import TOKEN_FILE, find_token, locate_token


@pytest.fixture
def no_token_env(monkeypatch):
    monkeypatch.delenv("FS3_TOKEN", raising=False)
    monkeypatch.delenv("FS3_TOKEN_FILE", raising=False)
    return monkeypatch


@pytest.fixture(scope="module")
def dave(client):
    info, token = client.add_user(f"dave-{uuid.uuid4().hex[:8]}")
    yield info, token
    client.remove_user(info.name)


def test_a_token_file_that_cannot_be_read_is_an_error_not_the_admin_token(cluster, tmp_path, no_token_env):
    data = cluster.data_dir
    assert (data / TOKEN_FILE).exists()  # the admin token a quiet fall back would use
    typo = tmp_path / "tokne"
    empty = tmp_path / "empty.token"
    empty.write_text("\n")
    for named, kind, why in ((typo, FileNotFoundError, "No such file or directory"),
                             (empty, OSError, "is empty"),
                             (tmp_path, IsADirectoryError, "Is a directory")):
        no_token_env.setenv("FS3_TOKEN_FILE", str(named))
        with pytest.raises(kind) as info:
            find_token(None, data)
        assert f"FS3_TOKEN_FILE={named}" in str(info.value) and why in str(info.value), info.value
        with pytest.raises(kind) as info:
            fs3.connect(str(data))  # the library: refused before connecting, not connected as root
        assert f"FS3_TOKEN_FILE={named}" in str(info.value), info.value
    # Unset, the local cluster's admin token is used, and says so.
    no_token_env.delenv("FS3_TOKEN_FILE")
    found = locate_token(None, data)
    assert (found.source, found.path) == ("local cluster", data / TOKEN_FILE) and found.token


def test_the_command_line_refuses_a_mistyped_token_file(cluster, tmp_path, cli):
    typo = tmp_path / "tokne"
    proc = cli("--cluster", str(cluster.data_dir), "ls", "/", env=cli.env(FS3_TOKEN_FILE=str(typo)))
    cli.one_error_line(proc, f"FS3_TOKEN_FILE={typo}", "No such file or directory", "unset FS3_TOKEN_FILE")
    assert proc.stdout == ""


def test_whoami_says_where_the_token_came_from(cluster, dave, tmp_path, cli):
    data = str(cluster.data_dir)
    name, token = dave[0].name, dave[1]
    proc = cli("--cluster", data, "user", "whoami")
    assert proc.returncode == 0, proc.stderr
    where = f"the local cluster's admin token at {cluster.data_dir / TOKEN_FILE}"
    assert proc.stdout.strip() == f"root (uid 0, gid 0, admin), token from {where}"

    token_file = tmp_path / "dave.token"
    token_file.write_text(token + "\n")
    env = cli.env(FS3_TOKEN_FILE=str(token_file))
    proc = cli("--cluster", data, "user", "whoami", env=env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(f"{name} (uid {dave[0].uid}")
    assert proc.stdout.strip().endswith(f"token from FS3_TOKEN_FILE={token_file}")
    shown = json.loads(cli("--cluster", data, "user", "whoami", "--json", env=env).stdout)
    assert shown["name"] == name
    assert (shown["token_source"], shown["token_file"]) == ("FS3_TOKEN_FILE", str(token_file))

    env = cli.env(FS3_TOKEN=token)
    proc = cli("--cluster", data, "user", "whoami", env=env)
    assert proc.stdout.startswith(f"{name} ") and proc.stdout.strip().endswith("token from FS3_TOKEN")
    shown = json.loads(cli("--cluster", data, "user", "whoami", "--json", env=env).stdout)
    assert (shown["token_source"], shown["token_file"]) == ("FS3_TOKEN", None)
    proc = cli("--cluster", data, "--token", token, "user", "whoami")
    assert proc.stdout.startswith(f"{name} ") and proc.stdout.strip().endswith("token from --token")

    # A refused token: the error says which one it was.
    proc = cli("--cluster", data, "user", "whoami", env=cli.env(FS3_TOKEN="fs3_not-a-token"))
    cli.one_error_line(proc, "not authenticated", "(the token came from FS3_TOKEN)")
