"""``File.close_as(path)``: a file written under a temporary name is closed and renamed in one meta
transaction (one round trip less per copied file). Its bytes appear under the final name whole or not at
all; a rename that is refused leaves the file closed under its own name; another user's token cannot
rename into a directory it may not write; a retried request is applied once."""

from __future__ import annotations

import collections
import os

import pytest
from _users import fresh_user

import fs3
from fs3._errors import PermissionDenied
from fs3.client import _meta
from fs3.proto import meta_pb2


@pytest.fixture
def calls(monkeypatch):
    seen: collections.Counter = collections.Counter()
    real = _meta.MetaConnection.__call__

    async def counted(self, method, request, **kw):
        seen[method] += 1
        return await real(self, method, request, **kw)

    monkeypatch.setattr(_meta.MetaConnection, "__call__", counted)
    return seen


def test_written_under_a_temporary_name_and_published_in_the_close(client, workdir, calls):
    client.write(f"{workdir}/final", b"old content")
    data = os.urandom(300_000)
    calls.clear()
    f = client.open(f"{workdir}/.final.part", "wb", buffering=0)
    f.write(data)
    f.close_as(f"{workdir}/final")
    assert f.closed
    assert calls["Open"] == 1 and calls["Close"] == 1 and calls["Rename"] == 0  # two round trips in all
    assert client.read(f"{workdir}/final") == data
    assert not client.exists(f"{workdir}/.final.part")
    st = client.stat(f"{workdir}/final")
    assert st.size == len(data) and st.mtime_ns > 0


def test_a_refused_rename_leaves_the_file_closed_under_its_own_name(client, workdir):
    client.mkdir(f"{workdir}/dir")
    client.write(f"{workdir}/dir/inside", b"x")  # a non-empty directory cannot be replaced by a file
    data = os.urandom(70_000)
    f = client.open(f"{workdir}/tmp", "wb", buffering=0)
    f.write(data)
    with pytest.raises(IsADirectoryError):
        f.close_as(f"{workdir}/dir")
    assert f.closed
    assert client.read(f"{workdir}/tmp") == data  # committed, whole, under its name
    assert client.read(f"{workdir}/dir/inside") == b"x"
    client.remove(f"{workdir}/tmp")  # and no session holds it: removed for good
    assert not client.exists(f"{workdir}/tmp")


def test_another_users_token_cannot_publish_into_a_directory_it_may_not_write(cluster, client, workdir):
    client.mkdir(f"{workdir}/mine", mode=0o755)
    client.mkdir(f"{workdir}/open", mode=0o777)
    _info, token = fresh_user(client, "close-as-other", uid=45678, gid=45678)
    with fs3.connect(cluster.meta[0], token=token) as other:
        f = other.open(f"{workdir}/open/tmp", "wb", buffering=0)
        f.write(b"intruder")
        with pytest.raises(PermissionDenied):
            f.close_as(f"{workdir}/mine/planted")
    assert not client.exists(f"{workdir}/mine/planted")
    assert client.read(f"{workdir}/open/tmp") == b"intruder"


def test_a_retried_close_that_renames_is_applied_once(client, workdir):
    # A client that lost the reply sends the same request again (its meta server died): it must get the
    # first answer, not "no such file" for a name the first attempt already moved.
    f = client.open(f"{workdir}/retry.part", "wb", buffering=0)
    f.write(b"payload")
    f.flush()
    afile = f._afile
    request = meta_pb2.CloseRequest(inode=afile.inode.id, session=afile._session, wrote=True, written_end=7,
                                    rename_from=f"{workdir}/retry.part", rename_to=f"{workdir}/retry",
                                    request_id="close-as-retry-" + workdir.strip("/").replace("/", "-"))
    first = client._run(client._async._meta("Close", request))
    again = client._run(client._async._meta("Close", request))
    assert first.inode.id == again.inode.id == afile.inode.id
    assert client.read(f"{workdir}/retry") == b"payload"
    assert not client.exists(f"{workdir}/retry.part")
    afile.closed = True  # (its session was ended by hand above)


def test_close_as_needs_a_file_open_for_writing(client, workdir):
    client.write(f"{workdir}/r", b"r")
    f = client.open(f"{workdir}/r", "rb", buffering=0)
    with pytest.raises(OSError, match="close_as needs a file open for writing"):
        f.close_as(f"{workdir}/elsewhere")
    assert not client.exists(f"{workdir}/elsewhere")
    assert f.read() == b"r"  # still open
    f.close()


def test_a_meta_server_that_knows_no_rename_in_close_still_gets_the_file_renamed(client, workdir, monkeypatch):
    # A server from before rename_to (a rolling upgrade) reads the Close and ignores the rename: the
    # client sees no `renamed` in the reply and renames with a call of its own, rather than leave the
    # data under the temporary name and report success.
    real = _meta.MetaConnection.__call__

    async def old_server(self, method, request, **kw):
        if method == "Close":
            request = meta_pb2.CloseRequest.FromString(request.SerializeToString())
            request.ClearField("rename_from")
            request.ClearField("rename_to")
            request.ClearField("request_id")
        return await real(self, method, request, **kw)

    monkeypatch.setattr(_meta.MetaConnection, "__call__", old_server)
    f = client.open(f"{workdir}/.upgrade.part", "wb", buffering=0)
    f.write(b"new bytes")
    f.close_as(f"{workdir}/upgrade")
    assert client.read(f"{workdir}/upgrade") == b"new bytes"
    assert not client.exists(f"{workdir}/.upgrade.part")
