"""Perpetual funding: a cumulative funding index per instrument, settled into cash.

The conventions of the major perpetual venues (Hyperliquid, Binance; dYdX v4
for the cap): a rate quoted per 8 hours, with a premium and an interest
component, paid pro rata each funding interval on the index (oracle) price.

Funding intervals are counted from genesis: boundaries fall at
``genesis_time_ms + k * funding_interval_ms``. At the end of a block whose time
has passed one or more boundaries since the last accrual, for each perpetual:

    premium  = (mark - index) / index                     (the committed mark vs
    rate_8h  = premium + clamp(interest - premium,         its index feed)
                               -5 bp, +5 bp)
    rate_8h  = clamp(rate_8h, -cap, +cap)
    rate     = rate_8h * funding_interval_ms / 8 hours    (per interval)
    funding_index += intervals * rate * index              (per lot, RATE_SCALE)

``interest`` is the instrument's ``funding_interest_ppm`` (default 1 bp per 8
hours). The cap comes from the margin fractions, as dYdX v4 derives it:
``cap = 600% * (IMF - MMF)`` per 8 hours, where IMF is the initial margin of
one lot over its price under the genesis risk scenarios (the worst scenario
loss, at least the floor; the smaller of the long and the short side, so
neither side's margin buffer drains faster than in 8 h / 6 = 80 minutes) and
``MMF = k_num/k_den * IMF``. With margining off (an empty genesis ``risk``)
there are no margin fractions: the cap is then Hyperliquid's
asset-independent 4% per hour (32% per 8 hours).

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

import math
from fractions import Fraction

from clearing.context import BlockContext
from clearing.events import Event, make_event
from clearing.instruments import FUNDING_PERIOD_MS, PPM, Instrument
from clearing.risk.engine import get_risk_setup
from clearing.risk.params import UnderlyingParams
from clearing.risk.scenarios import ScenarioSet
from clearing.state import ClearingState
from clearing.units import BPS_DENOMINATOR

RATE_SCALE = 10**9
"""A funding rate of 1 (100%); 1 unit = 1e-9 = 0.0000001%."""
INTEREST_CLAMP = 5 * RATE_SCALE // BPS_DENOMINATOR
"""How far the interest component may pull the rate from the premium: 0.05% per 8 hours."""
CAP_FACTOR = 6
"""dYdX v4's funding_rate_clamp_factor: |rate_8h| <= 600% * (IMF - MMF)."""
UNMARGINED_CAP = 8 * 4 * RATE_SCALE // 100
"""Hyperliquid's cap of 4% per hour, as a rate per 8 hours: the cap when margining is off."""


def compute_truncated_div(numerator: int, denominator: int) -> int:
    """Division rounding toward zero (``denominator > 0``): symmetric for both signs."""
    assert denominator > 0
    quotient = abs(numerator) // denominator
    return quotient if numerator >= 0 else -quotient


def compute_premium(mark_price: int, index_price: int) -> int:
    """``(mark - index) / index`` in RATE_SCALE units, truncated toward zero."""
    return compute_truncated_div((mark_price - index_price) * RATE_SCALE, index_price)


def compute_funding_rate(premium: int, interest: int, cap: int) -> int:
    """The 8-hour rate: ``premium + clamp(interest - premium, +-0.05%)``, within ``+-cap``."""
    rate = premium + max(-INTEREST_CLAMP, min(INTEREST_CLAMP, interest - premium))
    return max(-cap, min(cap, rate))


def compute_interval_rate(rate_8h: int, interval_ms: int) -> int:
    """The part of an 8-hour rate one interval of ``interval_ms`` pays, truncated toward zero."""
    return compute_truncated_div(rate_8h * interval_ms, FUNDING_PERIOD_MS)


def compute_initial_margin_fraction(
    scenarios: ScenarioSet, underlying: UnderlyingParams
) -> Fraction:
    """IM of one lot over its price under ``scenarios``: the smaller of the long's and
    the short's (each the worst scenario loss, at least the floor)."""
    u = scenarios.underlyings.index(underlying.name)
    gains = [
        s.moves[u].price * Fraction(s.moves[u].cover_bps, BPS_DENOMINATOR)
        for s in scenarios.scenarios
    ]
    floor = Fraction(underlying.floor_bps, BPS_DENOMINATOR)
    return min(max(-min(gains), floor), max(max(gains), floor))


def compute_funding_cap(initial_margin_fraction: Fraction, k_num: int, k_den: int) -> int:
    """``600% * (IMF - MMF)`` per 8 hours with ``MMF = k * IMF``, floored (a tighter cap)."""
    return math.floor(
        CAP_FACTOR * initial_margin_fraction * Fraction(k_den - k_num, k_den) * RATE_SCALE
    )


def get_funding_cap(state: ClearingState, instrument: Instrument) -> int:
    """The 8-hour cap of a perpetual from its genesis margin fractions (32% when off)."""
    setup = get_risk_setup(state)
    underlying = None if setup is None else setup.params.underlying(instrument.underlying)
    if setup is None or underlying is None:
        return UNMARGINED_CAP
    imf = compute_initial_margin_fraction(setup.scenarios, underlying)
    return compute_funding_cap(imf, setup.params.k_num, setup.params.k_den)


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
    interval, interest_ppm = instrument.funding_interval_ms, instrument.funding_interest_ppm
    assert interval is not None and interest_ppm is not None
    last = state.last_funding_ms[instrument.id]
    intervals = compute_due_intervals(state.genesis.genesis_time_ms, last, ctx.time_ms, interval)
    if intervals == 0:
        return None
    mark = state.mark_prices[instrument.id]
    index = state.index_prices[instrument.index_feed]
    premium = compute_premium(mark, index)
    interest = interest_ppm * (RATE_SCALE // PPM)
    rate_8h = compute_funding_rate(premium, interest, get_funding_cap(state, instrument))
    rate = compute_interval_rate(rate_8h, interval)
    state.funding_indices[instrument.id] += intervals * rate * index
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
