"""The snapshots peers are fetching (node/served_snapshots.py): a chunk served renews its
snapshot's lease, a lease runs out LEASE_S after the last chunk, and no more than
MAX_HELD snapshots are held at once, the most recently served."""

from __future__ import annotations

from node.served_snapshots import LEASE_S, MAX_HELD, ServedSnapshots
from tests.node.test_worktime import Ticks


def test_a_lease_runs_from_the_last_chunk_served() -> None:
    clock = Ticks()
    served = ServedSnapshots(clock)
    served.record(100)
    clock.now += LEASE_S - 1
    served.record(100)  # the sync goes on: its lease is renewed
    clock.now += LEASE_S - 1
    assert served.get_held() == {100}
    clock.now += 1
    assert served.get_held() == frozenset()


def test_no_more_than_max_held_snapshots_are_held_the_most_recently_served() -> None:
    clock = Ticks()
    served = ServedSnapshots(clock)
    heights = list(range(100, 100 + 4 * (MAX_HELD + 2), 4))
    for height in heights:
        served.record(height)
        clock.now += 1
    served.record(heights[0])  # served again last: among the held
    assert served.get_held() == {heights[0], *heights[-(MAX_HELD - 1) :]}
