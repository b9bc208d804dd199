"""The waits the engine asks its host to time (`Timers`): timer requests, never sleeps.

Beside the state machine's own step timeouts (`TimeoutFired`): the pause after a commit
(`HeightDue`), a proposer's wait for its first transaction (`ProposalDue`), the
re-gossip of a height that does not move (`GossipDue`, ever more sparsely while it stays
stuck: `is_regossip_due`) and a repair's grace (`RepairDue`, consensus/repair.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from consensus.inputs import TimeoutFired
from consensus.transport import PeerId


@dataclass(frozen=True)
class HeightDue:
    """Start `height`: the pause after committing the one before is over."""

    height: int


@dataclass(frozen=True)
class ProposalDue:
    """Look again for transactions to propose at (height, round); propose empty at `deadline_ms`."""

    height: int
    round: int
    deadline_ms: int


@dataclass(frozen=True)
class GossipDue:
    """Time to re-send this height's messages (see `Engine.gossip`)."""


@dataclass(frozen=True)
class RepairDue:
    """Ask `voter` for what of the block (round, block hash) its vote named this node may
    still lack (`consensus.repair`): the vote's grace is over."""

    height: int
    round: int
    block_hash: bytes
    voter: PeerId


EngineTimeout = TimeoutFired | HeightDue | ProposalDue | GossipDue | RepairDue

MAX_REGOSSIP_SPACING = 8
"""A round stuck for long re-sends its messages every this many re-gossip intervals."""


def is_regossip_due(stuck_ticks: int) -> bool:
    """Whether a round stuck for `stuck_ticks` re-gossip intervals re-sends its messages:
    after 1, 2, 4 and 8 intervals, then every 8. Every re-send costs the whole height's
    proposals and votes to every peer; a node too slow to send them within one interval
    (a starved CPU) would otherwise queue ever more of them ahead of its fresh votes,
    and the round it waits on would never end."""
    if stuck_ticks < 1:
        return False
    if stuck_ticks >= MAX_REGOSSIP_SPACING:
        return stuck_ticks % MAX_REGOSSIP_SPACING == 0
    return stuck_ticks & (stuck_ticks - 1) == 0


class Timers(Protocol):
    def schedule(self, delay_ms: int, timeout: EngineTimeout) -> None:
        """Call `Engine.on_timeout(timeout)` after `delay_ms` (must not block)."""
        ...
