"""A CometBFT node's own watch over CometBFT's state sync (node/cometbft/runtime.py):
CometBFT waits without end for snapshots, or for a chunk no peer holds any longer, so
the node gives it `state_sync.timeout_s` to restore the store and then stops, saying so
(`clearnode start` exits 2: restarted, it asks again from the newest snapshots)."""

from __future__ import annotations

import pytest
import trio
import trio.testing

from node.cometbft.runtime import watch_state_sync
from node.statesync.fetch import StateSyncTimedOut


async def test_a_state_sync_that_restores_nothing_in_its_time_stops_the_node(
    autojump_clock: trio.testing.MockClock,
) -> None:
    with pytest.raises(StateSyncTimedOut, match="within 30 s"):
        await watch_state_sync(trio.Event(), trio.Event(), 30)
    assert trio.current_time() >= 30


@pytest.mark.parametrize("happens", ["restored", "committed"])
async def test_a_restored_store_or_a_commit_ends_the_watch(
    autojump_clock: trio.testing.MockClock, happens: str
) -> None:
    """A restore (AppSnapshots.install's, with the snapshot stored), or a commit: after a
    restart, CometBFT follows on from a restore it had taken up, without state sync."""
    events = {"restored": trio.Event(), "committed": trio.Event()}

    async def set_after(delay_s: float) -> None:
        await trio.sleep(delay_s)
        events[happens].set()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(set_after, 5)
        await watch_state_sync(events["restored"], events["committed"], 30)
    assert 5 <= trio.current_time() < 30
