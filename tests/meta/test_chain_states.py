"""The target state table, transition by transition."""

from __future__ import annotations

from fs3.meta._chain_states import (
    LASTSRV,
    LOCAL_OFFLINE,
    OFFLINE,
    ONLINE,
    SERVING,
    SYNCING,
    UPTODATE,
    WAITING,
    Member,
    next_chain,
)


def run(*members):
    return [(m.target, m.public) for m in next_chain([Member(*m) for m in members])]


def test_steady_chain_is_unchanged():
    chain = [(1, SERVING, UPTODATE), (2, SERVING, UPTODATE), (3, SERVING, ONLINE)]
    assert run(*chain) == [(1, SERVING), (2, SERVING), (3, SERVING)]


def test_an_offline_member_goes_to_the_end():
    assert run((1, SERVING, LOCAL_OFFLINE), (2, SERVING, UPTODATE), (3, SERVING, UPTODATE)) == [
        (2, SERVING), (3, SERVING), (1, OFFLINE),
    ]
    assert run((1, SERVING, UPTODATE), (2, SERVING, LOCAL_OFFLINE), (3, SERVING, UPTODATE)) == [
        (1, SERVING), (3, SERVING), (2, OFFLINE),
    ]


def test_the_last_serving_member_becomes_lastsrv_and_serves_again_when_back():
    assert run((1, SERVING, LOCAL_OFFLINE), (2, OFFLINE, LOCAL_OFFLINE)) == [(1, LASTSRV), (2, OFFLINE)]
    assert run((1, SERVING, LOCAL_OFFLINE), (2, SERVING, LOCAL_OFFLINE)) == [(1, LASTSRV), (2, OFFLINE)]
    assert run((1, LASTSRV, LOCAL_OFFLINE), (2, OFFLINE, ONLINE)) == [(1, LASTSRV), (2, WAITING)]
    assert run((1, LASTSRV, ONLINE), (2, WAITING, ONLINE)) == [(1, SERVING), (2, SYNCING)]


def test_a_returning_target_waits_then_syncs_then_serves():
    step = run((1, SERVING, UPTODATE), (2, OFFLINE, ONLINE))
    assert step == [(1, SERVING), (2, SYNCING)]
    assert run((1, SERVING, UPTODATE), (2, SYNCING, ONLINE)) == [(1, SERVING), (2, SYNCING)]
    assert run((1, SERVING, UPTODATE), (2, SYNCING, UPTODATE)) == [(1, SERVING), (2, SERVING)]


def test_one_target_syncs_at_a_time():
    out = run((1, SERVING, UPTODATE), (2, OFFLINE, ONLINE), (3, OFFLINE, ONLINE))
    assert out == [(1, SERVING), (2, SYNCING), (3, WAITING)]
    assert run((1, SERVING, UPTODATE), (2, SYNCING, ONLINE), (3, WAITING, ONLINE)) == [
        (1, SERVING), (2, SYNCING), (3, WAITING),
    ]


def test_syncing_target_lost_goes_offline_and_without_serving_waits():
    assert run((1, SERVING, UPTODATE), (2, SYNCING, LOCAL_OFFLINE)) == [(1, SERVING), (2, OFFLINE)]
    assert run((1, LASTSRV, LOCAL_OFFLINE), (2, SYNCING, ONLINE)) == [(1, LASTSRV), (2, WAITING)]
