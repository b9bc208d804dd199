"""Typed integer units of the ledger and the only sanctioned divisions.

Every quantity that enters state is a Python ``int`` with a declared unit:

- ``Amount``: settlement-asset base units (e.g. 10**-6 USD for a 6-decimal
  settlement asset). Cash, fees, insurance fund, PnL, funding payments.
- ``Quanta``: collateral units of one token; on-chain amount = quanta * quantum
  (StarkEx style), chosen so a quantum's haircut value is a whole ``Amount``.
- ``Price``: settlement-asset base units per ONE LOT (one contract) of an
  instrument. ``PRICE_SCALE == 1``: a price is itself an ``Amount``, so the value
  of ``q`` lots at ``p`` is exactly ``q * p`` and variation margin
  ``q * (p1 - p0)`` never rounds. For collateral feeds the price is settlement
  base units per quantum. Contract size (underlying per lot) is descriptive and
  already folded into the per-lot price by the oracle.
- ``Quantity``: signed number of lots (long > 0, short < 0).
- ``Bps``: basis points, ``BPS_DENOMINATOR == 10_000``.
- ``TimeMs`` / ``Height``: block time in ms and block height, from the block.

Division only through the helpers below, whose names carry the rounding
direction; pick the direction that is against the member (requirements up,
credits down) and never against the clearing house.
"""

from __future__ import annotations

from typing import NewType

from records.codec import MAX_UINT64 as MAX_UINT64  # amounts are the codec's uint64

Amount = NewType("Amount", int)
Quanta = NewType("Quanta", int)
Price = NewType("Price", int)
Quantity = NewType("Quantity", int)
Bps = NewType("Bps", int)
TimeMs = NewType("TimeMs", int)
Height = NewType("Height", int)

PRICE_SCALE = 1
BPS_DENOMINATOR = 10_000


def div_floor(numerator: int, denominator: int) -> int:
    """Round toward minus infinity; ``denominator`` must be positive."""
    assert denominator > 0
    return numerator // denominator


def div_ceil(numerator: int, denominator: int) -> int:
    """Round toward plus infinity; ``denominator`` must be positive."""
    assert denominator > 0
    return -((-numerator) // denominator)


def mul_div_floor(a: int, b: int, denominator: int) -> int:
    """``floor(a * b / denominator)`` without an intermediate rounding."""
    return div_floor(a * b, denominator)


def mul_div_ceil(a: int, b: int, denominator: int) -> int:
    """``ceil(a * b / denominator)`` without an intermediate rounding."""
    return div_ceil(a * b, denominator)


def apply_bps_floor(amount: int, bps: int) -> int:
    """``floor(amount * bps / 10_000)``: a fraction rounded down."""
    return div_floor(amount * bps, BPS_DENOMINATOR)


def apply_bps_ceil(amount: int, bps: int) -> int:
    """``ceil(amount * bps / 10_000)``: a fraction rounded up (fees, requirements)."""
    return div_ceil(amount * bps, BPS_DENOMINATOR)
