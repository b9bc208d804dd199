"""A proposal's time as one validator's engine sees it: how far ahead of this node's clock
each round's proposal came (what the state machine judges timely) and whether it came
too late to be prevoted (its timeouts short for the network), and what this node dates
its own proposals by (consensus.chain_clock: the others' time when its clock is
ahead of theirs).

The two meet in the blocks of others this node commits: when each one's proposal arrived
is kept through its height, and a committed one of another proposer's tells the chain
clock the others' time. A wrong clock's and a late proposal's warnings are logged at most once a
`CLOCK_WARNING_INTERVAL_MS` each; the counts are the engine's `EngineStats`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from consensus.chain_clock import CLOCK_WARNING_INTERVAL_MS, ChainClock, WarningInterval
from consensus.engine_config import EngineStats
from consensus.state_machine import (
    PROPOSAL_TIME_PRECISION_MS,
    ConsensusState,
    is_propose_over,
    is_timely,
)
from consensus.types import Proposal, Step
from lightclient.header import BlockHeader

log = logging.getLogger(__name__)

OnProposalTime = Callable[[bytes, int, bool], None]
"""`(proposer, ahead_ms, timely)` for each round's proposal as it arrives."""


class ProposalTimes:
    def __init__(self, stats: EngineStats, on_proposal_time: OnProposalTime | None) -> None:
        self.stats = stats
        self.on_proposal_time = on_proposal_time
        self._chain_clock = ChainClock()
        self._arrivals: dict[BlockHeader, int] = {}
        """When each block proposed this height first arrived, on this node's clock."""
        self._own_clock_proposal: tuple[int, int] | None = None
        """(height, time) of this node's last proposal dated by its own clock, until a
        block of that height commits."""
        self._untimely_warning = WarningInterval(CLOCK_WARNING_INTERVAL_MS)
        self._late_warning = WarningInterval(CLOCK_WARNING_INTERVAL_MS)
        self._ahead_warning = WarningInterval(CLOCK_WARNING_INTERVAL_MS)

    def note_arrival(
        self,
        proposal: Proposal,
        received_ms: int,
        state: ConsensusState,
        now_ms: int | None = None,
    ) -> None:
        """How far ahead of this node's clock the round's proposal came (a compact one: when
        it arrived, not its transactions, which its proposer could delay to make a time
        ahead look timely); the state machine judges it by the same `is_timely`. Whole at
        `now_ms` (a compact one's transactions came later; else at `received_ms`) once
        `state` is past its round's propose step, it came late."""
        ahead_ms = proposal.block.header.time_ms - received_ms
        self._arrivals.setdefault(proposal.block.header, received_ms)
        timely = is_timely(proposal, received_ms)
        if not timely:
            self.stats.untimely_proposals += 1
            if self._untimely_warning.is_due(received_ms):
                log.warning(
                    "proposal of height %d round %d is %d ms ahead of this node's clock (at "
                    "most %d): prevoting nil (%d such proposals since start); is this "
                    "node's clock or its proposer's wrong?",
                    proposal.height, proposal.round, ahead_ms, PROPOSAL_TIME_PRECISION_MS,
                    self.stats.untimely_proposals,
                )  # fmt: skip
        if self.on_proposal_time is not None:
            self.on_proposal_time(proposal.proposer, ahead_ms, timely)
        if is_propose_over(state, proposal.round):
            timeout_ms = state.timeouts.get_duration_ms(Step.PROPOSE, proposal.round)
            self._note_late(proposal, received_ms if now_ms is None else now_ms, timeout_ms)

    def _note_late(self, proposal: Proposal, now_ms: int, timeout_ms: int) -> None:
        """A proposal came whole (a compact one: with its transactions) once this node was
        past its propose step of the round (prevoted nil at its timeout of `timeout_ms`,
        or moved on): logged at most once a `CLOCK_WARNING_INTERVAL_MS`."""
        self.stats.late_proposals += 1
        if self._late_warning.is_due(now_ms):
            log.warning(
                "proposal of height %d round %d came %d ms after its time, once this node "
                "was past its propose step (timeout %d ms; %d such proposals since start): "
                "are the timeouts short for this network's round trips?",
                proposal.height, proposal.round, now_ms - proposal.block.header.time_ms,
                timeout_ms, self.stats.late_proposals,
            )  # fmt: skip

    def date_proposal(self, height: int, now_ms: int, parent_ms: int) -> int:
        """This node's clock, or the others' when it is ahead of theirs (its proposal is
        then timely to them), and after its parent's time `parent_ms`."""
        dated_ms = self._chain_clock.get_proposal_time(now_ms)
        self._chain_clock.note_proposed(now_ms, dated_ms)
        time_ms = max(dated_ms, parent_ms + 1)
        if dated_ms == now_ms:
            self._own_clock_proposal = (height, time_ms)
        else:
            self.stats.proposals_dated_by_others += 1
            if self._ahead_warning.is_due(now_ms):
                log.warning(
                    "this node's clock is %d ms ahead of the other validators' (their recent "
                    "blocks' times): dating its proposal by theirs (%d such proposals since "
                    "start); is its clock set?",
                    now_ms - dated_ms, self.stats.proposals_dated_by_others,
                )  # fmt: skip
        return time_ms

    def note_committed(self, header: BlockHeader, own_key: bytes | None) -> None:
        """A block committed: one of another proposer's whose proposal this node saw
        arrive tells the chain clock the others' time; at the height of this node's last
        proposal dated by its own clock, whether it was that one."""
        if self._own_clock_proposal is not None:
            own_height, own_time_ms = self._own_clock_proposal
            if header.height == own_height:
                ours = header.proposer == own_key and header.time_ms == own_time_ms
                self._chain_clock.note_own_outcome(committed=ours)
            if header.height >= own_height:
                self._own_clock_proposal = None
        arrived_ms = self._arrivals.get(header)
        if arrived_ms is not None and header.proposer != own_key:
            self._chain_clock.note_committed(header.time_ms, arrived_ms)

    def start_height(self) -> None:
        self._arrivals.clear()
