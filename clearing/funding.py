"""Perpetual funding: a cumulative funding index per instrument, settled into cash.

Funding intervals are counted from genesis: boundaries fall at
``genesis_time_ms + k * funding_interval_ms``. At the end of a block whose time
has passed one or more boundaries since the last accrual, for each perpetual:

    premium = (mark - index) / index                      (the reported mark
    rate    = clamp(premium, -cap, +cap) per interval        vs its index feed)
    funding_index += intervals * rate * mark             (per lot, RATE_SCALE)

Rates are fixed point with ``RATE_SCALE = 10**9`` and truncated toward zero
(the rate is not money; truncation favours neither side). A positive rate
means longs pay shorts. Every open position is then settled from its own
funding index to the instrument's: it is credited

    floor(-quantity * (funding_index - position.funding_index) / RATE_SCALE)

i.e. payers round up and receivers round down, always against the member.
Since all open positions of an instrument carry the same index (a new position
starts at the current index, and every move of the index settles them all) and
the book is flat, the exact credits sum to zero, so the rounded ones sum to
``-residue`` with ``0 <= residue < number of positions``: the residue, which
is what the payers paid beyond what the receivers got, goes to the fee pool.
Funding never creates money.

Missed intervals (a block time jumping several boundaries) accrue at the
premium observed now; a block never charges a partial interval.
"""

from __future__ import annotations

from clearing.context import BlockContext
from clearing.events import Event, make_event
from clearing.instruments import Instrument
from clearing.state import ClearingState
from clearing.units import BPS_DENOMINATOR

RATE_SCALE = 10**9
"""A funding rate of 1 (100%) per interval; 1 unit = 1e-9 = 0.0000001%."""


def compute_truncated_div(numerator: int, denominator: int) -> int:
    """Division rounding toward zero (``denominator > 0``): symmetric for both signs."""
    assert denominator > 0
    quotient = abs(numerator) // denominator
    return quotient if numerator >= 0 else -quotient


def compute_premium(mark_price: int, index_price: int) -> int:
    """``(mark - index) / index`` in RATE_SCALE units, truncated toward zero."""
    return compute_truncated_div((mark_price - index_price) * RATE_SCALE, index_price)


def compute_funding_rate(
    mark_price: int, index_price: int, cap_bps: int, interval_ms: int, period_ms: int
) -> int:
    """Funding rate per interval (RATE_SCALE), clamped to ``cap_bps`` per interval.

    The premium is a rate per ``period_ms`` (the rate-realisation period),
    scaled to one interval of ``interval_ms``; clearnode's perpetuals use
    ``period_ms == interval_ms`` (the premium is the rate per interval).
    """
    rate = compute_truncated_div(compute_premium(mark_price, index_price) * interval_ms, period_ms)
    cap = cap_bps * (RATE_SCALE // BPS_DENOMINATOR)
    return max(-cap, min(cap, rate))


def compute_funding_credit(quantity: int, index_from: int, index_to: int) -> int:
    """Cash credited to `quantity` lots for the index move (negative = paid), floored."""
    return -(quantity * (index_to - index_from)) // RATE_SCALE


def compute_due_intervals(
    genesis_time_ms: int, last_funding_ms: int, time_ms: int, interval_ms: int
) -> int:
    """Whole intervals whose boundary is in ``(last_funding_ms, time_ms]``, from genesis."""
    last = (last_funding_ms - genesis_time_ms) // interval_ms
    now = (time_ms - genesis_time_ms) // interval_ms
    return max(0, now - last)


def process_funding(state: ClearingState, ctx: BlockContext) -> list[Event]:
    """Accrue due funding intervals into the indices, then settle every open position."""
    events: list[Event] = []
    moved: set[str] = set()
    for instrument in state.instruments.values():
        if not instrument.is_perpetual() or instrument.id in state.final_settlement_prices:
            continue
        event = accrue_funding(state, ctx, instrument)
        if event is not None:
            events.append(event)
            moved.add(instrument.id)
    if moved:
        residue = settle_funding(state, moved)
        events.append(make_event("funding_residue", amount=residue))
    return events


def accrue_funding(state: ClearingState, ctx: BlockContext, instrument: Instrument) -> Event | None:
    """Move one perpetual's funding index over the intervals now due (None if none)."""
    assert instrument.funding_interval_ms is not None and instrument.funding_cap_bps is not None
    interval = instrument.funding_interval_ms
    last = state.last_funding_ms[instrument.id]
    intervals = compute_due_intervals(state.genesis.genesis_time_ms, last, ctx.time_ms, interval)
    if intervals == 0:
        return None
    mark = state.mark_prices[instrument.id]
    index = state.index_prices[instrument.index_feed]
    rate = compute_funding_rate(mark, index, instrument.funding_cap_bps, interval, interval)
    state.funding_indices[instrument.id] += intervals * rate * mark
    state.last_funding_ms[instrument.id] = ctx.time_ms - (
        (ctx.time_ms - state.genesis.genesis_time_ms) % interval
    )
    return make_event(
        "funding",
        instrument=instrument.id,
        rate=rate,
        intervals=intervals,
        mark_price=mark,
        index_price=index,
        funding_index=state.funding_indices[instrument.id],
    )


def settle_funding(state: ClearingState, instruments: set[str]) -> int:
    """Settle open positions in ``instruments`` to their funding index; returns the residue."""
    indices = state.funding_indices
    credited = 0
    for address, member in state.members.items():
        for account in member.sub_accounts.values():
            for instrument_id, position in account.positions.items():
                if not position.quantity or instrument_id not in instruments:
                    continue
                target = indices[instrument_id]
                credit = compute_funding_credit(position.quantity, position.funding_index, target)
                account.cash += credit
                credited += credit
                position.funding_index = target
                state.dirty.add(address)
    state.fee_pool -= credited
    return -credited
