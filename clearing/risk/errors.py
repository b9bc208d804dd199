"""Typed rejections raised by the margin rules (nothing changes when raised)."""

from __future__ import annotations

from dataclasses import dataclass

from clearing.errors import ClearingError, InvalidTransaction


@dataclass(eq=False)
class InsufficientMargin(InvalidTransaction):
    """The change leaves ``equity < initial_margin`` and raises the margin from
    ``initial_margin_before`` (a risk-increasing trade, or any withdrawal/transfer
    that leaves initial margin uncovered)."""

    member: bytes
    sub_account: int
    equity: int
    initial_margin_before: int
    initial_margin: int


@dataclass(eq=False)
class ReduceOnly(InvalidTransaction):
    """The member has not topped up its default-fund contribution: only trades
    that shrink every position are accepted."""

    member: bytes
    instrument_id: str
    quantity_before: int
    quantity_after: int


@dataclass(eq=False)
class MarginCallReduceOnly(InvalidTransaction):
    """The sub-account has an open margin call: until it is met (equity back to IM)
    only trades that shrink a position are accepted. ``amount_due`` was IM - equity
    when the call opened; unmet by the end of block ``deadline_height``, the
    sub-account is liquidated."""

    member: bytes
    sub_account: int
    instrument_id: str
    quantity_before: int
    quantity_after: int
    amount_due: int
    deadline_height: int


@dataclass(eq=False)
class MarketMismatch(ClearingError):
    """A ``SolvencyMarket``'s ``kind`` (mark or index prices) does not price exactly the
    genesis's ids: ``missing`` are the genesis's ids it lacks, ``extra`` ids it has that
    the genesis does not."""

    kind: str
    missing: tuple[str, ...]
    extra: tuple[str, ...]
