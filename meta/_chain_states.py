"""Target state transitions (3FS's table): from each target's public state and the local state its node
reports, the chain's next order and public states. A pure function; the manager applies it.

Serving targets stay in front in their order; a serving target that went offline becomes lastsrv when it
was the first to go and no serving target is left, otherwise offline; a lastsrv target serves again as
soon as it is back; one target at a time syncs from the serving ones; waiting and offline targets wait
for their turn. New order: serving, lastsrv, syncing, waiting, offline. Any change bumps the chain's
version.
"""

from __future__ import annotations

from dataclasses import dataclass

from fs3.proto import cluster_pb2

SERVING, SYNCING, WAITING = cluster_pb2.SERVING, cluster_pb2.SYNCING, cluster_pb2.WAITING
LASTSRV, OFFLINE = cluster_pb2.LASTSRV, cluster_pb2.OFFLINE
UPTODATE, ONLINE, LOCAL_OFFLINE = cluster_pb2.UPTODATE, cluster_pb2.ONLINE, cluster_pb2.LOCAL_OFFLINE

ORDER = (SERVING, LASTSRV, SYNCING, WAITING, OFFLINE)


@dataclass(frozen=True)
class Member:
    target: int
    public: int
    local: int


def next_chain(members: list[Member]) -> list[Member]:
    """The chain after one round of transitions (members in their new order)."""
    groups: dict[int, list[Member]] = {s: [] for s in ORDER}
    by_state: dict[int, list[Member]] = {s: [] for s in ORDER}
    for m in members:
        by_state.setdefault(m.public if m.public in ORDER else OFFLINE, []).append(m)

    def put(m: Member, state: int) -> None:
        groups[state].append(Member(m.target, state, m.local))

    alive = (ONLINE, UPTODATE)
    for m in by_state[SERVING]:
        if m.local in alive:
            put(m, SERVING)
        elif not groups[LASTSRV]:
            put(m, LASTSRV)  # the first serving target to go keeps the chain's latest data
        else:
            put(m, OFFLINE)
    for m in by_state[LASTSRV]:
        if groups[SERVING]:
            put(m, OFFLINE)
        elif m.local in alive:
            put(m, SERVING)
        else:
            put(m, LASTSRV)
    for m in by_state[SYNCING]:
        if m.local == UPTODATE:
            put(m, SERVING)
        elif m.local == ONLINE:
            put(m, SYNCING if groups[SERVING] else WAITING)
        else:
            put(m, OFFLINE)
    for state in (WAITING, OFFLINE):
        for m in by_state[state]:
            if groups[SERVING] and not groups[SYNCING] and m.local == ONLINE:
                put(m, SYNCING)
            elif m.local in alive:
                put(m, WAITING)
            else:
                put(m, OFFLINE)
    if groups[SERVING] and groups[LASTSRV]:
        for m in groups[LASTSRV]:
            groups[OFFLINE].append(Member(m.target, OFFLINE, m.local))
        groups[LASTSRV] = []
    return [m for state in ORDER for m in groups[state]]
