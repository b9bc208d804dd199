"""The record of each default since the last report epoch, for the solvency report.

A liquidation run emits one event per waterfall layer that a bankrupt sub-account
reaches (``liquidation.py``: ``collateral_seized`` first, even at 0, then its own
contribution, the insurance fund, each member's mutualised contribution and
assessment, each deleveraging charge, and what was left uncovered). The record
adds those events up per defaulter: the same amounts the ledger moved, so its
layers sum to the deficit by the waterfall's own invariant.

Records of an epoch's blocks are kept through the epoch's last block, whose state
the report of that epoch is built from (node/reports/inputs.py); at the next
epoch boundary they are dropped and that epoch's records kept instead.
"""

from __future__ import annotations

from collections.abc import Iterable

from clearing.context import BlockContext
from clearing.default.events import DefaultEvent, EventKind
from clearing.events import Event
from clearing.state import DEFAULT_LAYERS, ClearingState, DefaultRecord

AccountKey = tuple[bytes, int]

LAYER_OF_KIND: dict[EventKind, int] = {
    EventKind.COLLATERAL_SEIZED: 0,
    EventKind.GUARANTEE_PAID: 0,  # the defaulting side's own resources: its member's house
    EventKind.OWN_CONTRIBUTION_USED: 1,
    EventKind.INSURANCE_USED: 2,
    EventKind.CONTRIBUTION_MUTUALISED: 3,
    EventKind.ASSESSED: 4,
    EventKind.DELEVERAGED: 5,
    EventKind.UNCOVERED: 6,
}
"""Which layer of ``DEFAULT_LAYERS`` each waterfall event pays."""

PAID_TO_COUNTERPARTY = frozenset(
    {
        EventKind.GUARANTEE_PAID,
        EventKind.CONTRIBUTION_MUTUALISED,
        EventKind.ASSESSED,
        EventKind.DELEVERAGED,
    }
)
"""Events naming the payer, with the defaulter as counterparty."""


def get_default_records(events: Iterable[DefaultEvent], height: int) -> list[DefaultRecord]:
    """One record per sub-account whose loss ran down the waterfall in this run, sorted by
    (member, sub-account)."""
    paid: dict[AccountKey, list[int]] = {}
    for event in events:
        layer = LAYER_OF_KIND.get(event.kind)
        if layer is None:
            continue
        if event.kind in PAID_TO_COUNTERPARTY:
            key = (event.counterparty, event.counterparty_sub_account)
        else:
            key = (event.member, event.sub_account)
        if event.kind is EventKind.COLLATERAL_SEIZED:  # a default's first step
            paid.setdefault(key, [0] * len(DEFAULT_LAYERS))  # a house may default twice
        paid[key][layer] += event.amount
    return [
        DefaultRecord(height, member, sub, sum(layers), *layers)
        for (member, sub), layers in sorted(paid.items())
    ]


def record_defaults(state: ClearingState, events: Iterable[DefaultEvent]) -> None:
    """Add the defaults of this block's liquidation run to ``state.defaults``."""
    state.defaults.extend(get_default_records(events, state.height))


def process_defaults_roll(state: ClearingState, ctx: BlockContext) -> list[Event]:
    """At an epoch boundary: keep only this epoch's defaults (the last epoch's were in
    its report)."""
    first = ctx.height - state.genesis.epoch_length_blocks + 1
    state.defaults = [r for r in state.defaults if r.height >= first]
    return []
