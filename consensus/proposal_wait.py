"""When the round's proposer proposes: at once when its mempool holds transactions,
otherwise once one arrives or the empty-block wait (`empty_block_wait_ms`) ends, so an
idle network commits an empty block only that often. Only in round 0, as CometBFT waits
for transactions: in a later round the others' propose timeout, which the wait would
eat into, has already run out once.

Waiting is timer requests (`ProposalDue`), never a sleep. Without `txs_noticed` the
proposer looks at its mempool every `proposal_poll_ms` until the deadline; with it, the
host calls `notice_txs` at each admission and the proposer looks `proposal_poll_ms` after
the first, and an idle one looks only at its deadline.
A look or deadline that comes once the round has moved on, or after the proposal, does
nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from consensus.engine_config import EngineConfig
from consensus.engine_timeouts import ProposalDue, Timers
from consensus.mempool import EngineMempool

Prepare = Callable[[int, int, Sequence[bytes]], None]
"""Builds and proposes the block of (height, round) from these candidate transactions."""
IsCurrent = Callable[[int, int], bool]
"""Whether (height, round) is still the engine's, undecided."""


class ProposalWait:
    def __init__(
        self,
        config: EngineConfig,
        mempool: EngineMempool,
        timers: Timers,
        now_ms: Callable[[], int],
        prepare: Prepare,
        is_current: IsCurrent,
    ) -> None:
        self.config = config
        self.mempool = mempool
        self.timers = timers
        self.now_ms = now_ms
        self.prepare = prepare
        self.is_current = is_current
        self._waiting: ProposalDue | None = None
        """With `txs_noticed`: the proposal this node waits to make."""
        self._look_due = False
        """Whether a look at the mempool is already due for it."""

    def request(self, height: int, round_: int) -> None:
        """Propose now when transactions wait or a round failed; otherwise wait up to the
        empty-block wait."""
        candidates = self.mempool.reap(self.config.max_block_bytes)
        wait_ms = self.config.timeouts.empty_block_wait_ms
        if candidates or wait_ms <= 0 or round_ > 0:
            self.prepare(height, round_, candidates)
            return
        due = ProposalDue(height, round_, self.now_ms() + wait_ms)
        if self.config.txs_noticed:
            self._waiting, self._look_due = due, False
            self.timers.schedule(wait_ms, due)
        else:
            self.timers.schedule(min(self.config.proposal_poll_ms, wait_ms), due)

    def notice_txs(self) -> None:
        """The host's mempool admitted a transaction (`txs_noticed`): a proposer waiting
        for one looks at the mempool `proposal_poll_ms` later, as a poll would have.
        Only requests a timer, so it may be called at any time."""
        due = self._waiting
        if due is None or self._look_due or not self._is_due(due):
            return
        self._look_due = True
        left_ms = max(0, due.deadline_ms - self.now_ms())
        self.timers.schedule(min(self.config.proposal_poll_ms, left_ms), due)

    def on_due(self, due: ProposalDue) -> None:
        """A look or the deadline: propose if transactions wait or the wait is over."""
        if not self._is_due(due):
            return
        candidates = self.mempool.reap(self.config.max_block_bytes)
        left_ms = due.deadline_ms - self.now_ms()
        if candidates or left_ms <= 0:
            self._waiting = None
            self.prepare(due.height, due.round, candidates)
        elif self.config.txs_noticed:
            # A look that found what arrived gone, or a deadline a little ahead of the
            # clock: wait for the next arrival or (again) the deadline.
            self._look_due = False
            self.timers.schedule(left_ms, due)
        else:
            self.timers.schedule(min(self.config.proposal_poll_ms, left_ms), due)

    def _is_due(self, due: ProposalDue) -> bool:
        """Whether this node still waits to propose at `due`'s height and round (with
        `txs_noticed`, a deadline or look that comes after the proposal is not)."""
        if self.config.txs_noticed and due != self._waiting:
            return False
        return self.is_current(due.height, due.round)
