"""The etcd KV URL (meta/kv/_etcd_url.py): its options, and the credentials file it names, which must be
readable by its owner alone and hold one USER:PASSWORD line. No etcd needed."""

from __future__ import annotations

import pytest

from fs3.meta.kv import open_kv, parse_endpoints, parse_url, read_credentials


def test_members_and_options():
    url = parse_url("etcd://a:1,b:2/?credentials=/etc/fs3/etcd%26x.cred&prefix=fs3/")
    assert url.endpoints == ["a:1", "b:2"]
    assert url.credentials == "/etc/fs3/etcd&x.cred" and url.prefix == b"fs3/"
    assert parse_url("etcd://a:1").credentials == "" and parse_url("etcd://a:1").prefix == b""
    assert parse_endpoints("etcd://a:1,b:2?credentials=/x") == ["a:1", "b:2"]


@pytest.mark.parametrize("url, needle", [
    ("etcd://a:1?credential=/x", "unknown option"),
    ("etcd://a:1?credentials", "unknown option"),
    ("etcd://a:1?credentials=/x&credentials=/y", "given twice"),
    ("etcd://a:1?credentials=", "names no file"),
    ("etcd://a?credentials=/x", "expected host:port"),
    ("etcd://?prefix=x", "names no etcd endpoint"),
])
def test_bad_urls_say_what_is_wrong(url, needle):
    with pytest.raises(ValueError, match=needle):
        parse_url(url)


def test_credentials_file(tmp_path):
    f = tmp_path / "etcd.credentials"
    f.write_text("fs3:pa:ss word\n")
    f.chmod(0o600)
    creds = read_credentials(str(f))
    assert (creds.user, creds.password, creds.source) == ("fs3", "pa:ss word", str(f))
    assert "pa:ss" not in repr(creds)  # a logged value shows no password
    f.chmod(0o400)
    assert read_credentials(str(f)).user == "fs3"


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660])
def test_a_credentials_file_others_may_read_is_refused(tmp_path, mode):
    f = tmp_path / "etcd.credentials"
    f.write_text("fs3:secret\n")
    f.chmod(mode)
    with pytest.raises(ValueError, match=f"may be read by others .*mode {mode:04o}.*chmod 600"):
        read_credentials(str(f))
    # and so is a store opened over it, before any connection
    with pytest.raises(ValueError, match="may be read by others"):
        open_kv(f"etcd://127.0.0.1:9?credentials={f}")


@pytest.mark.parametrize("text", ["fs3\n", ":pw\n", "fs3:\n", "", "a:b\nc:d\n"])
def test_a_malformed_credentials_file_is_refused(tmp_path, text):
    f = tmp_path / "etcd.credentials"
    f.write_text(text)
    f.chmod(0o600)
    with pytest.raises(ValueError, match="one line USER:PASSWORD"):
        read_credentials(str(f))


def test_a_missing_or_odd_credentials_file_is_refused(tmp_path):
    with pytest.raises(ValueError, match="No such file"):
        read_credentials(str(tmp_path / "missing"))
    d = tmp_path / "dir"
    d.mkdir(mode=0o700)
    with pytest.raises(ValueError, match="not a regular file"):
        read_credentials(str(d))
