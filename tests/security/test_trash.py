"""The trash (issue 15, item 6): /.trash is root's (0711) and each /.trash/<user> that user's (0700).
Another user who plants or opens someone's trash directory gets nothing: `rm --trash` is refused with
what is wrong and what to do, and nothing moves. Attacks with real users and tokens on a real cluster."""

from __future__ import annotations

import errno
import uuid
from dataclasses import dataclass

import pytest

import fs3

SECRET = b"what alice deletes is still hers " * 100


@dataclass
class User:
    name: str
    uid: int
    token: str
    client: fs3.Client


@pytest.fixture(scope="module")
def make_user(client):
    """Users with a token and a client each, removed at the end."""
    made: list[User] = []

    def make(tag: str) -> User:
        info, token = client.add_user(f"{tag}-{uuid.uuid4().hex[:8]}")
        user = User(info.name, info.uid, token, fs3.connect(client.address, token=token))
        made.append(user)
        return user

    yield make
    for user in made:
        user.client.close()
        client.remove_user(user.name)


@pytest.fixture
def shared(client, workdir) -> str:
    """A directory every user may create files in (like /tmp)."""
    client.chmod(workdir, 0o1777)
    return workdir


def errno_of(fn) -> int:
    with pytest.raises(OSError) as info:
        fn()
    return info.value.errno


def refused(fn) -> str:
    """``rm --trash`` refused as unsafe: EPERM, and the message names the trash."""
    with pytest.raises(PermissionError) as info:
        fn()
    assert info.value.errno == errno.EPERM, info.value
    message = str(info.value)
    assert "the trash is not private" in message and "nothing was moved" in message, message
    return message


def ensure_trash(client, where: str) -> None:
    """Make /.trash exist: root trashes something."""
    path = f"{where}/root-{uuid.uuid4().hex[:6]}"
    client.write(path, b"x")
    client.remove(path, trash=True)


def test_another_user_cannot_plant_or_list_the_trash(client, shared, make_user):
    alice, bob = make_user("alice"), make_user("bob")
    ensure_trash(client, shared)
    st = client.stat("/.trash")
    assert (st.uid, st.mode & 0o7777) == (0, 0o711)
    # Bob tries to make alice's trash directory before she does (so that he could read it), and to
    # see whose trash directories exist: both refused.
    assert errno_of(lambda: bob.client.mkdir(f"/.trash/{alice.name}", 0o777)) == errno.EACCES
    assert errno_of(lambda: bob.client.ls("/.trash")) == errno.EACCES
    # Alice's own trash is hers alone.
    alice.client.write(f"{shared}/f", SECRET)
    alice.client.remove(f"{shared}/f", trash=True)
    mine = client.stat(f"/.trash/{alice.name}")
    assert (mine.uid, mine.mode & 0o7777) == (alice.uid, 0o700)
    [trashed] = alice.client.ls(f"/.trash/{alice.name}")
    assert errno_of(lambda: bob.client.ls(f"/.trash/{alice.name}")) == errno.EACCES
    assert errno_of(lambda: bob.client.read(f"/.trash/{alice.name}/{trashed}")) == errno.EACCES
    assert alice.client.read(f"/.trash/{alice.name}/{trashed}") == SECRET


def test_a_trash_planted_by_another_user_is_refused_and_nothing_moves(client, shared, make_user):
    alice, bob = make_user("alice"), make_user("bob")
    ensure_trash(client, shared)
    alice.client.write(f"{shared}/f", SECRET)
    # A trash anyone may write to (an older fs3 made it 1777, or an admin's chmod): Bob plants
    # alice's trash directory, open to all, to read what she deletes.
    client.chmod("/.trash", 0o1777)
    try:
        bob.client.mkdir(f"/.trash/{alice.name}", 0o777)
        bob.client.chmod(f"/.trash/{alice.name}", 0o777)
        message = refused(lambda: alice.client.remove(f"{shared}/f", trash=True))
        assert "/.trash is mode 1777" in message and "fs3 chmod 711 /.trash" in message, message
    finally:
        client.chmod("/.trash", 0o711)
    # /.trash is root's again, but alice's directory in it is still Bob's.
    message = refused(lambda: alice.client.remove(f"{shared}/f", trash=True))
    assert f"/.trash/{alice.name} belongs to uid {bob.uid}, not to {alice.name}" in message, message
    assert f"fs3 mv /.trash/{alice.name}" in message, message
    assert alice.client.read(f"{shared}/f") == SECRET  # nothing moved
    assert bob.client.ls(f"/.trash/{alice.name}") == []  # Bob got nothing

    # What the error says to do: an admin moves the planted directory away; then the trash works,
    # and is alice's alone.
    client.rename(f"/.trash/{alice.name}", f"{shared}/{alice.name}.suspect")
    alice.client.remove(f"{shared}/f", trash=True)
    mine = client.stat(f"/.trash/{alice.name}")
    assert (mine.uid, mine.mode & 0o7777) == (alice.uid, 0o700)
    assert errno_of(lambda: bob.client.ls(f"/.trash/{alice.name}")) == errno.EACCES


def test_a_trash_owned_by_another_user_at_the_top_is_refused(client, shared, make_user):
    alice, bob = make_user("alice"), make_user("bob")
    ensure_trash(client, shared)
    alice.client.write(f"{shared}/f", SECRET)
    client.chown("/.trash", bob.uid)
    try:
        message = refused(lambda: alice.client.remove(f"{shared}/f", trash=True))
        assert f"/.trash belongs to uid {bob.uid}, not to root" in message, message
    finally:
        client.chown("/.trash", 0)
    assert alice.client.read(f"{shared}/f") == SECRET


def test_a_user_who_opens_their_own_trash_is_told_how_to_close_it(client, cluster, shared, make_user, cli):
    alice = make_user("alice")
    alice.client.write(f"{shared}/f", SECRET)
    alice.client.remove(f"{shared}/f", trash=True)
    alice.client.chmod(f"/.trash/{alice.name}", 0o755)
    alice.client.write(f"{shared}/g", SECRET)
    message = refused(lambda: alice.client.remove(f"{shared}/g", trash=True))
    assert f"/.trash/{alice.name} is mode 0755: group/other may list and enter it" in message, message
    assert f"fs3 chmod 700 /.trash/{alice.name}" in message, message
    # The command line says it in one line.
    as_alice = cli.env(FS3_TOKEN=alice.token)
    proc = cli("--cluster", cluster.meta[0], "rm", "--trash", f"{shared}/g", env=as_alice)
    cli.one_error_line(proc, "the trash is not private", f"fs3 chmod 700 /.trash/{alice.name}")
    assert alice.client.read(f"{shared}/g") == SECRET
    alice.client.chmod(f"/.trash/{alice.name}", 0o700)  # the fix it names
    alice.client.remove(f"{shared}/g", trash=True)
    assert len(alice.client.ls(f"/.trash/{alice.name}")) == 2


def test_a_plain_file_in_place_of_a_trash_directory_gives_a_clear_error(client, shared, make_user):
    carol = make_user("carol")
    ensure_trash(client, shared)
    client.write(f"/.trash/{carol.name}", b"not a directory")
    carol.client.write(f"{shared}/f", SECRET)
    message = refused(lambda: carol.client.remove(f"{shared}/f", trash=True))
    assert f"/.trash/{carol.name} is not a directory" in message, message
    assert carol.client.read(f"{shared}/f") == SECRET
    client.remove(f"/.trash/{carol.name}")

    # /.trash itself a plain file.
    client.rename("/.trash", f"{shared}/trash.saved")
    try:
        client.write("/.trash", b"not a directory")
        message = refused(lambda: carol.client.remove(f"{shared}/f", trash=True))
        assert "/.trash is not a directory" in message, message
        assert carol.client.read(f"{shared}/f") == SECRET
    finally:
        client.remove("/.trash")
        client.rename(f"{shared}/trash.saved", "/.trash")
