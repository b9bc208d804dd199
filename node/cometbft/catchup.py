"""A validator far behind its peers while running, restarted into block sync.

CometBFT v0.38 block-syncs only at start: once in consensus, a node that falls behind
(cut off for a while, its machine frozen) takes the missed heights one at a time from
its peers' consensus gossip, each costing about a round trip to them. Across four
regions that was 0.35 s a height (`python -m bench isolation`: 46 s for 130 heights,
where our engine's block sync took 13). Block sync asks many heights of several peers
at once, and CometBFT has no way back to it but a restart (cometbft/cometbft#3372:
operators restart a lagging node by hand), so the node does what they do: when the
height most of CometBFT's peers are at stays `behind_heights` or more ahead of its own
for `RESTART_AFTER_S`, it stops its CometBFT and starts it again (`run_engine`).

A restart is never a fault: CometBFT stops as at any node stop (its WAL and stores
flushed, its signing state kept), and the app and its ABCI server stay up meanwhile.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import trio

from node.cometbft.rpc import CometRpc, CometRpcError

log = logging.getLogger(__name__)

POLL_S = 1.0
"""How often CometBFT's height and its peers' are read."""
RESTART_AFTER_S = 5.0
"""How long the peers must stay far ahead: a gap that consensus gossip closes within
this (a few heights missed, any gap on a fast link) costs no restart."""
RESTART_PAUSE_S = 60.0
"""No second restart before this after one: block sync gets its time, and a gap that
block sync cannot close either does not restart CometBFT in a loop."""


@dataclass(frozen=True)
class Lag:
    """CometBFT's last committed height and the heights its peers are deciding."""

    height: int
    peer_heights: tuple[int, ...]
    catching_up: bool

    def get_network_height(self) -> int | None:
        """The last height at least half the peers committed: one peer that claims a
        height the others do not reach moves nothing."""
        if not self.peer_heights:
            return None
        deciding = sorted(self.peer_heights, reverse=True)[len(self.peer_heights) // 2]
        return deciding - 1

    def get_behind(self) -> int:
        """Heights this node is behind; 0 while it block-syncs or holds no peer."""
        network = self.get_network_height()
        if self.catching_up or network is None:
            return 0
        return max(0, network - self.height)


@dataclass
class LagWatch:
    """Whether CometBFT has stayed `behind_heights` or more behind for `after_s`."""

    behind_heights: int
    after_s: float = RESTART_AFTER_S
    since: float | None = None
    """When the current run of far-behind readings began."""

    def is_stuck_behind(self, now: float, lag: Lag) -> bool:
        if lag.get_behind() < self.behind_heights:
            self.since = None
            return False
        if self.since is None:
            self.since = now
        return now - self.since >= self.after_s


@dataclass
class EngineRestart:
    """The running CometBFT's scope, held by `run_engine`: cancelling it stops that
    CometBFT, and `run_engine` calls `prepare` and starts another on the same home."""

    prepare: Callable[[], None] = lambda: None
    """What the app does between the two CometBFTs; raising stops the node instead."""
    scope: trio.CancelScope | None = None
    count: int = 0

    def request(self) -> None:
        if self.scope is not None:
            self.scope.cancel()


def parse_peer_heights(dump: dict[str, Any]) -> tuple[int, ...]:
    """The height each peer is deciding, from CometBFT's `dump_consensus_state`."""
    return tuple(
        int(peer["peer_state"]["round_state"]["height"]) for peer in dump.get("peers") or ()
    )


async def read_lag(rpc: CometRpc) -> Lag:
    status = await rpc.call("status")
    dump = await rpc.call("dump_consensus_state")
    sync = status["sync_info"]
    return Lag(int(sync["latest_block_height"]), parse_peer_heights(dump), sync["catching_up"])


async def restart_when_behind(rpc: CometRpc, restart: EngineRestart, behind_heights: int) -> None:
    """Restarts CometBFT (`restart`) each time it stays `behind_heights` or more behind
    its peers for RESTART_AFTER_S, at most once per RESTART_PAUSE_S."""
    watch = LagWatch(behind_heights)
    while True:
        await trio.sleep(POLL_S)
        try:
            lag = await read_lag(rpc)
        except (CometRpcError, KeyError, TypeError, ValueError) as exc:  # starting or stopping
            log.debug("catch-up watch: %s", exc)
            watch.since = None
            continue
        if not watch.is_stuck_behind(trio.current_time(), lag):
            continue
        log.warning(
            "cometbft is %d heights behind its peers (at %d, they at %s) for %.0f s: "
            "restarting it to block-sync", lag.get_behind(), lag.height,
            lag.get_network_height(), watch.after_s,
        )  # fmt: skip
        restart.request()
        watch.since = None
        await trio.sleep(RESTART_PAUSE_S)
