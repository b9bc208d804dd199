"""Whether this node can get a transaction committed now, for the API's 503.

A node refuses submissions while it catches up by block sync, and when it has not
seen a commit for longer than a height can take on a live network: one whose
first two rounds both run every step to its timeout (a proposer down, then one
more failed round), plus the empty-block wait and the pause after a commit, on
either engine. With our engine's default timeouts that is 5.0 + 6.5 + 1.0 + 0.02 =
12.52 s (CometBFT's: 3.0 + 4.5 + 1.0 + 0.02 = 8.52 s); an idle network commits an
empty block about every second, and one validator down costs a height one failed
round, so a network with a quorum stays well inside it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from consensus.state_machine import TimeoutConfig
from consensus.types import Step
from node.mempool import MempoolError

BEHIND_WARNING_BLOCKS = 5
"""A node this far behind its best peer is catching up, not just between two commits."""


class NotCommitting(MempoolError):
    """This node cannot get a transaction committed now; `reason` says why."""

    def __init__(self, reason: str, last_height: int, idle_ms: int, limit_ms: int) -> None:
        self.reason = reason
        self.last_height, self.idle_ms, self.limit_ms = last_height, idle_ms, limit_ms
        super().__init__(reason)


def get_stall_limit_ms(timeouts: TimeoutConfig) -> int:
    """The longest a height takes on a network with a quorum (see the module's rule)."""
    rounds = sum(timeouts.get_duration_ms(step, r) for r in (0, 1) for step in Step)
    return rounds + timeouts.empty_block_wait_ms + timeouts.commit_ms


@dataclass
class CommitWatch:
    """When this node last committed a block, and whether it is syncing."""

    limit_ms: int
    last_height: int
    is_syncing: Callable[[], bool]
    clock_s: Callable[[], float] = time.monotonic
    _last_commit_s: float = field(init=False)
    _best_peer_height: int = field(init=False, default=0)

    def __post_init__(self) -> None:
        self._last_commit_s = self.clock_s()  # a starting node has the limit to commit

    def observe_peer_height(self, height: int) -> None:
        """A peer is working on `height` (a consensus message of it): it committed the one
        before."""
        self._best_peer_height = max(self._best_peer_height, height - 1)

    def get_health(self) -> dict[str, object]:
        """What an operator reads first: is this node committing, and is it behind?"""
        idle_ms = round((self.clock_s() - self._last_commit_s) * 1000)
        behind = max(0, self._best_peer_height - self.last_height)
        warnings = []
        if idle_ms > self.limit_ms:
            warnings.append(
                f"no commit for {idle_ms / 1000:.0f} s (a live network commits within "
                f"{self.limit_ms / 1000:.1f} s): check peers and the log"
            )
        if behind > BEHIND_WARNING_BLOCKS:
            warnings.append(f"{behind} blocks behind the best peer ({self._best_peer_height})")
        return {
            "last_commit_height": self.last_height,
            "last_commit_age_s": round(idle_ms / 1000, 1),
            "best_peer_height": self._best_peer_height,
            "blocks_behind": behind,
            "syncing": self.is_syncing(),
            "warnings": warnings,
        }

    def record_commit(self, height: int) -> None:
        self.last_height = height
        self._last_commit_s = self.clock_s()

    def refuse(self, reason: str) -> NotCommitting:
        """NotCommitting for `reason`, with this node's last height and how long ago it
        committed; retry shortly."""
        idle_ms = round((self.clock_s() - self._last_commit_s) * 1000)
        return NotCommitting(f"{reason}; retry shortly", self.last_height, idle_ms, self.limit_ms)

    def check(self) -> None:
        """Raise NotCommitting if a transaction submitted now would not be committed."""
        idle_ms = round((self.clock_s() - self._last_commit_s) * 1000)
        if self.is_syncing():
            raise NotCommitting(
                f"catching up by block sync (at height {self.last_height}); retry shortly",
                self.last_height,
                idle_ms,
                self.limit_ms,
            )
        if idle_ms > self.limit_ms:
            raise NotCommitting(
                f"no commit for {idle_ms / 1000:.1f} s (limit {self.limit_ms / 1000:.1f} s); "
                f"last height {self.last_height}: this node reaches no quorum",
                self.last_height,
                idle_ms,
                self.limit_ms,
            )
