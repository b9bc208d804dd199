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
estimate, which is behind the others' clocks by their proposals' way here (a little
behind is timely; it only puts the chain's time back by that much for the block), once
the others have refused a proposal it dated by its own clock while it looked ahead (it
did not commit; one refused while its clock agreed with their blocks, as a validator cut
off from the others proposes in vain, says nothing of its clock); else, and within the
margin or behind, by its own clock (the state machine then puts it after its parent's,
as before). Its own blocks never enter the estimate: a clock ahead would otherwise be
taken as the chain's. The receivers' check is unchanged; this changes only what an
honest proposer whose clock is wrong proposes.

Only a refusal tells a clock ahead from a slow network: a proposal's way here longer than
the margin (a loaded machine's: over a second) makes every honest clock look ahead of
the others' blocks. Had each then dated by the estimate, each block would be behind its
proposer's clock by the estimate's lag plus the way here, and the next estimate taken
from it later still: four validators whose proposals took 1.5 s to arrive put the
chain's time a minute behind in 200 heights, and kept it there once the load was gone.
A proposer dating by the estimate tries its own clock again after `FIRST_PROBE_TURNS`
such proposals, then twice as many after each refused try (up to `MAX_PROBE_TURNS`): a
clock put right, or a network no longer slow, is back on its own clock, and one still
ahead loses a round once in ever more turns.

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


FIRST_PROBE_TURNS = 4
"""Proposals dated by the others' time before this node tries its own clock again."""
MAX_PROBE_TURNS = 64
"""The most proposals dated by the others' time between two tries of its own clock."""


@dataclass
class ChainClock:
    """The blocks of others this node committed, each with when its proposal arrived, and
    how its own proposals fared."""

    seen: deque[tuple[int, int]] = field(default_factory=lambda: deque(maxlen=RECENT))
    """(block time, this node's clock when its proposal arrived), the newest last."""
    own_clock_refused: bool = False
    """The last proposal this node dated by its own clock did not commit."""
    turns_by_others: int = 0
    """Proposals dated by the others' time since this node's clock was last tried."""
    probe_turns: int = FIRST_PROBE_TURNS
    """How many of those before it is tried again."""
    own_clock_looked_ahead: bool = False
    """Whether this node's clock looked ahead of the others' (or nothing told yet) when it
    dated its last proposal by it."""

    def note_committed(self, time_ms: int, arrived_ms: int) -> None:
        """A block another validator proposed, of time `time_ms`, committed; its proposal
        arrived at `arrived_ms` on this node's clock."""
        self.seen.append((time_ms, arrived_ms))

    def get_time(self, now_ms: int) -> int | None:
        """The others' time at `now_ms` on this node's clock; None before any block."""
        if not self.seen:
            return None
        return max(time_ms + (now_ms - arrived_ms) for time_ms, arrived_ms in self.seen)

    def looks_ahead(self, now_ms: int) -> bool:
        """Whether this clock is more than AHEAD_MS ahead of the others' time, or nothing
        tells yet (a first turn may come before any block of the others')."""
        others_ms = self.get_time(now_ms)
        return others_ms is None or now_ms - others_ms > AHEAD_MS

    def get_proposal_time(self, now_ms: int) -> int:
        """The time to date a proposal made at `now_ms` by: the others' if this clock is
        more than AHEAD_MS ahead of them and its last proposal so dated was refused (but
        for a try of it every `probe_turns`), else its own."""
        others_ms = self.get_time(now_ms)
        if others_ms is None or now_ms - others_ms <= AHEAD_MS or not self.own_clock_refused:
            return now_ms
        if self.turns_by_others >= self.probe_turns:
            return now_ms
        return others_ms

    def note_proposed(self, now_ms: int, dated_ms: int) -> None:
        """This node proposed at `now_ms` on its clock, dated `dated_ms`: by its own clock
        or by the others' time."""
        if dated_ms == now_ms:
            self.own_clock_looked_ahead = self.looks_ahead(now_ms)
        else:
            self.turns_by_others += 1

    def note_own_outcome(self, committed: bool) -> None:
        """Whether the last proposal this node dated by its own clock committed. One
        refused while its clock agreed with the others' blocks says nothing of the clock
        (a node cut off proposes to nobody)."""
        if committed:
            self.own_clock_refused, self.probe_turns = False, FIRST_PROBE_TURNS
        elif not self.own_clock_looked_ahead:
            return
        elif self.turns_by_others >= self.probe_turns:  # a try of it, refused
            self.probe_turns = min(2 * self.probe_turns, MAX_PROBE_TURNS)
        else:
            self.own_clock_refused = True
        self.turns_by_others = 0


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
