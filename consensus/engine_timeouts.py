"""The waits the engine asks its host to time (`Timers`): timer requests, never sleeps.

Beside the state machine's own step timeouts (`TimeoutFired`): the pause after a commit
(`HeightDue`), a proposer's wait for its first transaction (`ProposalDue`), the
re-gossip of a height that does not move (`GossipDue`, consensus/regossip.py) and a
repair's grace (`RepairDue`, consensus/repair.py).
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


class Timers(Protocol):
    def schedule(self, delay_ms: int, timeout: EngineTimeout) -> None:
        """Call `Engine.on_timeout(timeout)` after `delay_ms` (must not block)."""
        ...
