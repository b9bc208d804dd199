"""The end-of-block prune: a settled dated instrument leaves the configuration in force.

The configuration (``state.genesis``: a leaf of the state root, carried whole by every
report and snapshot) would otherwise keep every series a listing template ever listed,
some 300 bytes each. A dated future or option leaves it, with every record kept for it
(its mark, open interest, final settlement price, status), once it can matter no more:

- it expired and was finally settled, and the genesis ``settled_instrument_retention_ms``
  has passed since its expiry (reports and members' histories name it meanwhile);
- nothing holds or names it: no position in any sub-account (the house's included) nor
  open interest, no open auction's lots, no open proposal's change (a pending change
  keeps the outcome it had when it was submitted);
- nothing in force needs it: no option left in force is written on it, and its price
  feed stays in force (another instrument left in force or a collateral token uses it;
  otherwise the last listed of the feed's instruments stays, so the validators keep
  pricing the feed and a listing on it stays possible).

Perpetuals (settled only by a vote, never listed by a template) stay. A pruned id may be
listed again by a vote, as a new contract; a template never lists it again, since it
lists only expiries after the block time and its ids carry their expiry. The step runs
before the block's expiries, so an instrument is never settled and pruned in one block.
No money moves: what is removed holds no lots.
"""

from __future__ import annotations

from clearing.context import BlockContext
from clearing.events import Event, make_event
from clearing.governance.draft import start_draft, write_draft
from clearing.governance_changes import get_named_instruments
from clearing.instruments import Instrument, InstrumentKind
from clearing.state import ClearingState


def process_instrument_pruning(state: ClearingState, ctx: BlockContext) -> list[Event]:
    pruned = get_prunable_instruments(state, ctx.time_ms)
    if not pruned:
        return []
    events = [
        make_event("instrument_pruned", instrument=i.id, expiry_ms=i.expiry_ms or 0,
                   final_price=state.final_settlement_prices[i.id])
        for i in pruned
    ]  # fmt: skip
    draft = start_draft(state)
    for instrument in pruned:
        del draft.instruments[instrument.id]
        draft.statuses.pop(instrument.id, None)
        for records in (state.mark_prices, state.open_interest, state.final_settlement_prices):
            del records[instrument.id]
    write_draft(state, draft)
    return events


def get_prunable_instruments(state: ClearingState, time_ms: int) -> list[Instrument]:
    """The instruments the step removes at ``time_ms``, in listing order; writes nothing.
    What holds or names them is read only when some are due (about once per expiry):
    the positions of every account, the open proposals' changes."""
    due = [i for i in state.instruments.values() if is_retained_past(state, i, time_ms)]
    due = get_not_needed(state, due)
    if not due:
        return []
    used = get_named_instruments_in_state(state) | get_held_instruments(state)
    return get_not_needed(state, [i for i in due if i.id not in used])


def is_retained_past(state: ClearingState, instrument: Instrument, time_ms: int) -> bool:
    """Settled, and its retention since its expiry over."""
    return (
        instrument.expiry_ms is not None
        and instrument.id in state.final_settlement_prices
        and time_ms >= instrument.expiry_ms + state.genesis.settled_instrument_retention_ms
    )


def get_named_instruments_in_state(state: ClearingState) -> set[str]:
    """Instruments an open proposal's change or an auction's lots name."""
    named = {iid for auction in state.auctions.values() for iid, _ in auction.lots}
    for proposal in state.proposals.values():
        if proposal.is_open():
            for change in proposal.changes:
                named |= get_named_instruments(change)
    return named


def get_held_instruments(state: ClearingState) -> set[str]:
    """Instruments with open interest or a position in some sub-account."""
    held = {iid for iid, lots in state.open_interest.items() if lots}
    for member in state.members.values():
        for account in member.sub_accounts.values():
            held.update(account.positions)
    return held


def get_not_needed(state: ClearingState, due: list[Instrument]) -> list[Instrument]:
    """``due`` less what the instruments left in force need: each price feed a removed
    instrument used stays in use (the last listed of those due on an orphaned feed stays,
    a future before an option), and so does each underlying future of an option left."""
    due_ids = {i.id for i in due}
    staying = [i for i in state.instruments.values() if i.id not in due_ids]
    feeds = {t.price_feed for t in state.genesis.collateral} | {i.index_feed for i in staying}
    for feed in sorted({i.index_feed for i in due} - feeds):
        on_feed = [i for i in due if i.index_feed == feed]
        futures = [i for i in on_feed if i.kind is not InstrumentKind.OPTION]
        staying.append((futures or on_feed)[-1])
    needed = {i.id for i in staying}
    needed |= {i.underlying for i in staying if i.kind is InstrumentKind.OPTION}
    return [i for i in due if i.id not in needed]
