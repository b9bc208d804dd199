"""The time the other validators keep, as this node's own clock measures it: what a
proposer whose clock runs ahead dates its proposal by, so that its turn costs no round.

A new proposal is timely when its time is at most `PROPOSAL_TIME_PRECISION_MS` ahead of
its receiver's clock (consensus.state_machine): a validator whose clock is further ahead
than that has every proposal prevoted nil, a round lost at each of its turns (across
four regions, 30 s ahead: the network's 3.9 heights a second fell to 1.8, `python -m
bench isolation --clock-off 30`). The chain's recent blocks say what time the others
keep: a block another validator proposed, with the time this node's clock has counted
since its proposal arrived, gives the others' time now, late by the proposal's way here.
The latest over the last `RECENT` such blocks is the estimate. A committed block's time
is at most the precision ahead of the clocks of the honest validators that found it
timely, so no proposer can move the estimate ahead of theirs; one that dates its blocks
behind moves only its own entry, which the others' outweigh.

A proposer more than `AHEAD_MS` ahead of the estimate dates its proposal by the
estimate, which is behind the others' clocks by their proposals' way here (a
little behind is timely; it only puts the chain's time back by that much for the
block); within it, or behind, by its own clock (the state machine then puts it after
its parent's, as before). Its own blocks never enter the estimate: a clock ahead would
otherwise be taken as the chain's. The receivers' check is unchanged; this changes only
what an honest proposer whose clock is wrong proposes.

What a wrong clock makes the engine warn of (an untimely proposal; this node's clock
ahead of the others') it logs at most once a `CLOCK_WARNING_INTERVAL_MS`
(`WarningInterval`).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from consensus.state_machine import PROPOSAL_TIME_PRECISION_MS

RECENT = 4
"""Blocks of others the estimate is taken over: a height's worth of proposers on four."""
AHEAD_MS = 2 * PROPOSAL_TIME_PRECISION_MS
"""How far ahead of the estimate a proposer's clock may be and still date its proposal.
The estimate is late by the others' proposals' way here (their block built after its
time is taken, then sent: up to 0.9 s under load across four regions), which an honest
proposer's clock is ahead of it by: twice the precision keeps it on its own clock. A
proposer ahead by less than that, but more than the precision, loses its turns as
before."""


@dataclass
class ChainClock:
    """The blocks of others this node committed, each with when its proposal arrived."""

    seen: deque[tuple[int, int]] = field(default_factory=lambda: deque(maxlen=RECENT))
    """(block time, this node's clock when its proposal arrived), the newest last."""

    def note_committed(self, time_ms: int, arrived_ms: int) -> None:
        """A block another validator proposed, of time `time_ms`, committed; its proposal
        arrived at `arrived_ms` on this node's clock."""
        self.seen.append((time_ms, arrived_ms))

    def get_time(self, now_ms: int) -> int | None:
        """The others' time at `now_ms` on this node's clock; None before any block."""
        if not self.seen:
            return None
        return max(time_ms + (now_ms - arrived_ms) for time_ms, arrived_ms in self.seen)

    def get_proposal_time(self, now_ms: int) -> int:
        """The time to date a proposal made at `now_ms` by: the others' if this clock is
        more than AHEAD_MS ahead of them, else its own."""
        others_ms = self.get_time(now_ms)
        if others_ms is not None and now_ms - others_ms > AHEAD_MS:
            return others_ms
        return now_ms


CLOCK_WARNING_INTERVAL_MS = 60_000
"""A clock's warning (an untimely proposal, this node's clock ahead of the others') is
logged at most this often: a node whose clock is off would see one at most heights."""


@dataclass
class WarningInterval:
    """Whether a warning is due: at most one every `interval_ms` of this node's clock, a
    clock set back counting as time passed."""

    interval_ms: int
    last_ms: int | None = None

    def is_due(self, now_ms: int) -> bool:
        if self.last_ms is not None and abs(now_ms - self.last_ms) < self.interval_ms:
            return False
        self.last_ms = now_ms
        return True
