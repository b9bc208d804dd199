"""Netting algebra: folding one fill into a sub-account's position.

A position is a signed quantity of lots (long > 0, short < 0), an average entry
price and the realised PnL booked so far. PnL is counted in price-lots (price
x lots), which is ``Amount`` because a price is settlement units per lot
(``units.PRICE_SCALE == 1``), so the algebra is exact integer arithmetic.

Invariant (the reason for the rounding rule below): for any sequence of fills
(dq_k, p_k) ending in quantity q, and any mark m,

    realised + q * (m - average_entry) == sum_k dq_k * (m - p_k)

exactly, so realised + unrealised PnL does not depend on the order of the
fills. Reducing a position keeps its average entry and realises the closed lots
at (price - average entry). Increasing it moves the average entry to
floor(cost / quantity); the sub-unit remainder of that cost (0 <= r < |q| for
longs, -|q| < r <= 0 for shorts) is booked into realised PnL so the identity
stays exact (realised PnL is a record for the member: cash moves only by
variation margin, see settlement.py). A fill that crosses zero is a full
close followed by an opening at the fill price, which needs no rounding.
"""

from __future__ import annotations

from clearing.settlement import compute_variation_margin
from clearing.state import Position, Positions

Fill = tuple[int, int, int]
"""The position after a fill, and the realised PnL (price-lots) the fill booked:
``(quantity, average_entry_price, realised)`` (a plain tuple: the trade path makes two
per trade, and a NamedTuple costs several times as much to build)."""


def compute_fill(quantity: int, average_entry_price: int, fill_quantity: int, price: int) -> Fill:
    """Fold a fill of `fill_quantity` lots (signed: buy > 0) at `price` into a position.

    Returns the new quantity and average entry, and the realised PnL of this fill.
    A flat result has average entry 0.
    """
    new_quantity = quantity + fill_quantity
    if quantity == 0 or (quantity > 0) == (fill_quantity > 0):
        if new_quantity == 0:  # only when fill_quantity == 0 on a flat position
            return (0, 0, 0)
        cost = quantity * average_entry_price + fill_quantity * price
        average = cost // new_quantity
        return (new_quantity, average, new_quantity * average - cost)
    if new_quantity == 0 or (new_quantity > 0) == (quantity > 0):
        realised = -fill_quantity * (price - average_entry_price)
        return (new_quantity, average_entry_price if new_quantity else 0, realised)
    # Crossed zero: close all of `quantity`, open the rest at the fill price.
    return (new_quantity, price, quantity * (price - average_entry_price))


def compute_unrealised(quantity: int, average_entry_price: int, mark_price: int) -> int:
    """Unrealised PnL in price-lots of `quantity` lots entered at `average_entry_price`."""
    return quantity * (mark_price - average_entry_price)


def compute_entry_cash(
    position: Position | None, fill_quantity: int, price: int, mark_price: int
) -> int:
    """The cash a fill settles at once: new lots enter at the position's settlement
    price (the current mark when the position is flat), so it is the variation margin
    from the trade price to that settlement price."""
    if position is None or position.quantity == 0:
        return compute_variation_margin(fill_quantity, price, mark_price)
    return compute_variation_margin(fill_quantity, price, position.settlement_price)


def apply_fill(
    positions: Positions, instrument_id: str, fill_quantity: int, price: int, mark_price: int,
    funding_index: int,
) -> None:  # fmt: skip
    """Fold a checked fill into the record of ``instrument_id`` (created if there is
    none) and store it back (``Positions`` counts the write; the record is updated in
    place, so a position keeps one record for life rather than turning one over per fill
    for the garbage collector to trace).

    A flat position keeps its realised PnL and reopens at the current mark and funding
    index (an open position's index is kept: funding settles every open position whenever
    the index moves); its settlement price is where ``compute_entry_cash`` enters the
    new lots.
    """
    record = positions.get(instrument_id)
    if record is None:
        record = Position()
    if record.quantity == 0:
        record.settlement_price, record.funding_index = mark_price, funding_index
    quantity, average, realised = compute_fill(
        record.quantity, record.average_entry_price, fill_quantity, price
    )
    record.quantity, record.average_entry_price = quantity, average
    record.realised_pnl += realised
    positions[instrument_id] = record


def compute_long_change(quantity_before: int, quantity_after: int) -> int:
    """Change in the long lots a position contributes to open interest."""
    return max(quantity_after, 0) - max(quantity_before, 0)
