"""The end-of-block roll: every listing template keeps its next series listed.

After the block's expiries settle, each template's ``series`` next expiries after the
block time are compared with the instruments in the configuration; a series not among
them is listed now, with its strike ladder. So a series is listed exactly once (its id
carries its expiry, which is ahead, and a settled series leaves the configuration only
a retention after its expiry: governance/pruning.py), in the first block whose time
makes it one of the next ones (at the template's installation, then at each expiry),
and a halted chain that resumes past several expiries lists only the series still ahead.

A new future starts at its index price (no basis); an option at its Black-76 value on
that price at the risk section's volatility for the underlying and its rate (the
intrinsic value with margining off), at least 1. Everything goes through the same
draft as a governance listing (clearing/governance/draft.py): no money moves, and the
risk section is checked to cover the new instruments before anything is written.
"""

from __future__ import annotations

from clearing.context import BlockContext
from clearing.errors import InvalidTransaction
from clearing.events import Event, make_event
from clearing.governance.draft import Draft, check_draft, start_draft, write_draft
from clearing.instruments import Instrument, OptionType
from clearing.listing_template import ListingTemplate
from clearing.risk.black76 import compute_option_value
from clearing.risk.engine import get_risk_setup
from clearing.state import ClearingState


def get_due_series(state: ClearingState, time_ms: int) -> list[tuple[ListingTemplate, Instrument]]:
    """Each template's next series not in the configuration, in template order."""
    return [
        (template, series)
        for template in state.genesis.listing_templates
        for series in map(template.make_series, template.get_next_expiries(time_ms))
        if series.id not in state.instruments
    ]


def process_listing_roll(state: ClearingState, ctx: BlockContext) -> list[Event]:
    due = get_due_series(state, ctx.time_ms)
    if not due:
        return []
    draft = start_draft(state)
    events: list[Event] = []
    for template, series in due:
        if series.id in draft.instruments:  # two templates naming one series: the first's
            continue
        mark = state.index_prices[series.index_feed]
        listed = [(series, mark)] + [
            (option, compute_option_mark(state, option, series, mark, ctx.time_ms))
            for option in template.make_options(series, mark)
            if option.id not in draft.instruments
        ]
        for instrument, instrument_mark in listed:
            add_listing(draft, instrument, instrument_mark)
            events.append(
                make_event(
                    "instrument_listed",
                    template=template.id,
                    instrument=instrument.id,
                    expiry_ms=instrument.expiry_ms or 0,
                    mark=instrument_mark,
                )
            )
    try:
        check_draft(draft)
    except InvalidTransaction as error:
        return [make_event("listing_roll_failed", code=error.code, detail=str(error))]
    write_draft(state, draft)
    return events


def add_listing(draft: Draft, instrument: Instrument, mark: int) -> None:
    draft.instruments[instrument.id] = instrument
    draft.listed[instrument.id] = mark


def compute_option_mark(
    state: ClearingState, option: Instrument, future: Instrument, forward: int, time_ms: int
) -> int:
    """The option's Black-76 value on ``forward`` (``future``'s starting mark)."""
    assert option.strike is not None and option.expiry_ms is not None
    setup = get_risk_setup(state)
    underlying = None if setup is None else setup.params.underlying(future.underlying)
    vol_bps = 0 if underlying is None else underlying.vol_bps
    rate_bps = 0 if setup is None else setup.params.rate_bps
    value = compute_option_value(
        forward, option.strike, vol_bps, option.expiry_ms - time_ms, rate_bps,
        option.option_type is OptionType.CALL,
    )  # fmt: skip
    return max(1, int(value))
