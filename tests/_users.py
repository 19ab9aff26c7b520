"""fs3 users for tests on the session cluster: ``from _users import fresh_user``."""

from __future__ import annotations


def fresh_user(client, name: str, **kwargs):
    """(UserInfo, token) of a user made anew (one left by an earlier test or run is removed first)."""
    try:
        client.remove_user(name)
    except FileNotFoundError:
        pass
    return client.add_user(name, **kwargs)
