"""Audit events of default management: who, what, how much.

Every step of a liquidation or default emits one ``DefaultEvent`` so a member
can replay the default afterwards: each becomes a ledger event of the block
(`clearing.default.steps.to_ledger_event`), which is what is stored and served.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class EventKind(StrEnum):
    LIQUIDATED = "liquidated"  # lots moved to the counterparty at the price (the mark)
    LIQUIDATION_PENALTY = "liquidation_penalty"  # penalty paid to the taker (beyond the fee)
    LIQUIDATION_FEE = "liquidation_fee"  # fee paid into the insurance fund
    COLLATERAL_SEIZED = "collateral_seized"  # waterfall layer 1
    OWN_CONTRIBUTION_USED = "own_contribution_used"  # layer 2
    INSURANCE_USED = "insurance_used"  # layer 3
    CONTRIBUTION_MUTUALISED = "contribution_mutualised"  # layer 4, one per paying member
    ASSESSED = "assessed"  # layer 5: a surviving member's assessment, one per member
    DELEVERAGED = "deleveraged"  # layer 6: counterparty closed at the bankruptcy price
    UNCOVERED = "uncovered"  # loss left after every layer (booked by the insurance fund)
    CONTRIBUTION_REQUIRED = "contribution_required"  # epoch Cover-N sizing
    CONTRIBUTION_POSTED = "contribution_posted"  # top-up debited from sub-account 0
    CONTRIBUTION_RETURNED = "contribution_returned"  # excess credited to sub-account 0
    REDUCE_ONLY = "reduce_only"  # member below its required contribution
    GUARANTEE_PAID = "guarantee_paid"  # a clearing member's house pays its client's loss
    GUARANTEE_FAILED = "guarantee_failed"  # what its house could not pay: it has defaulted


WATERFALL_KINDS: tuple[str, ...] = tuple(
    k.value
    for k in (
        EventKind.LIQUIDATED,
        EventKind.COLLATERAL_SEIZED,
        EventKind.OWN_CONTRIBUTION_USED,
        EventKind.INSURANCE_USED,
        EventKind.CONTRIBUTION_MUTUALISED,
        EventKind.ASSESSED,
        EventKind.DELEVERAGED,
        EventKind.UNCOVERED,
    )
)
"""A default's steps in waterfall order: the liquidation, then each layer that pays."""


@dataclass(frozen=True, slots=True)
class DefaultEvent:
    kind: EventKind
    member: bytes
    sub_account: int
    amount: int = 0
    instrument_id: str = ""
    quantity: int = 0
    price: int = 0
    counterparty: bytes = b""
    counterparty_sub_account: int = -1
