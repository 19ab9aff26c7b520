"""Who may follow meta's change feed (meta/_change_feed.py), and what it tells them: a caller without a
token nothing; a plain user the numbers of changed inodes but not what a stat would show of a file it
may not stat; an administrator (a mount's usual token) the attributes too."""

from __future__ import annotations

import threading
import uuid

import grpc
import pytest
from _timing import wait_for
from _users import fresh_user

import fs3
from fs3._rpc import CHANNEL_OPTIONS, call
from fs3.proto import meta_pb2, meta_pb2_grpc


class Seen:
    """What a watcher's notify was handed, by inode (the last change of each)."""

    def __init__(self):
        self.changes: dict[int, meta_pb2.InodeChange] = {}
        self.lock = threading.Lock()

    def __call__(self, batch) -> None:
        with self.lock:
            for c in batch or ():
                self.changes[c.inode] = c


def test_the_feed_refuses_callers_without_a_valid_token(cluster):
    channel = grpc.insecure_channel(cluster.meta[0], options=CHANNEL_OPTIONS)
    stub = meta_pb2_grpc.MetaStub(channel)
    try:
        for metadata in (None, (("authorization", "Bearer fs3_wrong"),)):
            with pytest.raises(PermissionError) as info:
                call(stub.WatchChanges, meta_pb2.WatchChangesRequest(wait_ms=0), metadata=metadata)
            assert "not authenticated" in str(info.value)
    finally:
        channel.close()


def test_a_plain_user_learns_inode_numbers_but_not_attributes_of_a_private_file(client):
    _info, token = fresh_user(client, f"feedwatch-{uuid.uuid4().hex[:6]}", uid=5353)
    private = f"/feed-private-{uuid.uuid4().hex[:8]}"
    client.mkdir(private, mode=0o700)
    with fs3.connect(client.address, token=token) as as_user:
        theirs, mine = Seen(), Seen()
        stop_theirs = as_user.watch_changes(theirs)
        stop_mine = client.watch_changes(mine)
        try:
            client.write(private + "/secret", b"s" * 12345)
            ino = client.stat(private + "/secret").inode
            with pytest.raises(PermissionError):
                as_user.stat(private + "/secret")  # what the feed must not tell them either
            wait_for(lambda: ino in theirs.changes and ino in mine.changes, timeout=60,
                     what="both watchers to hear of the new file")
            wait_for(lambda: mine.changes[ino].length == 12345, timeout=60, what="the admin's watcher to see the length")
            seen = theirs.changes[ino]
            assert (seen.length, seen.mode, seen.uid, seen.mtime_ns, seen.ctime_ns) == (0, 0, 0, 0, 0)
        finally:
            stop_theirs()
            stop_mine()
            client.remove(private, recursive=True)
