"""Mempool admission: whether a transaction can apply, judged as the next block will judge
what can never change before then, and what the mempool orders it by.

Each kind's `admit` (clearing/tx_kind.py) runs clearing's own checks of what no later
block can change: decoding, signatures bound to this chain, a signed request's times as
the next block will judge them (`get_next_context`: a lifetime over the limit, an expiry
already past; and one issued ahead of that time, the one refusal a later time may lift,
which its `IssuedInFuture` says), replays of nonces, trade ids, chain logs and price
observations already in the state, so that a transaction which cannot apply takes no
gossip bandwidth or block space. Checks that the next blocks may change (margin,
balances) run only in `clearing.transition.block.process_block`; admission never changes the state.
"""

from __future__ import annotations

from clearing.context import BlockContext
from clearing.state import ClearingState
from clearing.transition.tx import KIND_OF, Transaction
from clearing.tx_kind import Admission


def get_next_context(state: ClearingState, now_ms: int | None = None) -> BlockContext:
    """The next block as admission judges by it: at the latest committed block's time, or
    at this node's clock `now_ms` if later, as a proposer times its block (consensus:
    the later of its clock and the previous block's time + 1). A request expired by then
    can never apply; without the clock, the committed time can be far behind it (the
    genesis's before the first block, a halt) and a request signed now would look as
    if it were issued in the future."""
    time_ms = state.time_ms if now_ms is None else max(state.time_ms, now_ms)
    return BlockContext(state.height + 1, time_ms, state.chain_id)


def admit_transaction(
    state: ClearingState, tx: Transaction, raw: bytes, now_ms: int | None = None
) -> Admission:
    """`tx` (encoded as `raw`) checked by its kind against the committed `state`; raises
    the kind's typed error if it cannot apply. `now_ms`: the node's clock, when it has
    one (see `get_next_context`)."""
    kind = KIND_OF[type(tx)]
    sender = kind.admit(state, get_next_context(state, now_ms), tx, raw)
    return Admission(sender.key, sender.order, kind.priority)
