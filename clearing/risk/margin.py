"""Portfolio margin of one sub-account: scenario losses, IM, MM, equity, the rules.

    L_s = -sum_i q_i * v[i][s]        (v: risk arrays, gain per long lot)
    IM  = max_s L_s                   (>= 0: scenario 0 is the base, floors live in v)
    MM  = ceil(k_num * IM / k_den)    (rounded against the member)
    equity = cash + sum_k w_k * a_k   (w_k: haircut value per quantum, an int)

Because equity is an integer, ``equity >= MM`` is exactly
``k_den * equity >= k_num * IM``, i.e. for every s: ``k_den*equity - k_num*L_s >= 0``
(``clearing/risk/solvency.py`` publishes those rows).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TypeVar

from clearing.risk.arrays import RiskArrays
from clearing.risk.errors import InsufficientMargin
from clearing.units import div_ceil

K = TypeVar("K")
Losses = tuple[int, ...]


def compute_scenario_losses(positions: Mapping[str, int], arrays: RiskArrays) -> Losses:
    """``L_s`` for every scenario; instruments iterate in sorted order (deterministic)."""
    losses = [0] * arrays.scenario_count
    for iid in sorted(positions):
        q = positions[iid]
        if q:
            for s, v in enumerate(arrays.row(iid)):
                losses[s] -= q * v
    return tuple(losses)


def compute_trade_losses(losses: Sequence[int], row: Sequence[int], delta_q: int) -> Losses:
    """Losses after adding ``delta_q`` lots of the instrument whose array is ``row``."""
    if len(row) != len(losses):
        raise ValueError(f"risk array of {len(row)} scenarios for {len(losses)} losses")
    # A list comprehension is the fastest exact form here (the pre-trade hot path).
    return tuple([loss - delta_q * v for loss, v in zip(losses, row, strict=False)])


def compute_initial_margin(losses: Sequence[int]) -> int:
    return max(losses)


def compute_maintenance_margin(initial_margin: int, k_num: int, k_den: int) -> int:
    return div_ceil(k_num * initial_margin, k_den)


def compute_equity(cash: int, collateral: Mapping[K, int], weights: Mapping[K, int]) -> int:
    """Cash plus haircut value of the collateral quanta held (weights: value per quantum)."""
    return cash + sum(weights[key] * quanta for key, quanta in collateral.items())


def compute_worst_losses(arrays: RiskArrays) -> dict[str, int]:
    """Per instrument, the largest loss of one lot, long or short, over every scenario."""
    rows = zip(arrays.instrument_ids, arrays.values, strict=True)
    return {iid: max(abs(v) for v in row) for iid, row in rows}


def compute_initial_margin_bound(positions: Mapping[str, int], worst: Mapping[str, int]) -> int:
    """An upper bound of IM in ``O(positions)``: each position at its own worst scenario,
    no offsets (``max_s sum_i -q_i*v[i][s] <= sum_i |q_i| * max_s |v[i][s]|``). Where
    equity covers it, the end-of-block scans need not build the scenario vector."""
    return sum(abs(q) * worst[iid] for iid, q in positions.items() if q)


def is_maintenance_met(equity: int, initial_margin: int, k_num: int, k_den: int) -> bool:
    """``equity >= MM`` by cross-multiplication, identical to the solvency rows."""
    return k_den * equity >= k_num * initial_margin


def check_trade_margin(
    member: bytes, sub_account: int, equity_after: int, im_before: int, im_after: int
) -> None:
    """Pre-trade rule: reject a trade that raises IM and leaves equity below it.

    A risk-reducing trade (IM does not rise) is always accepted, so a member under
    water can still close out.
    """
    if im_after > im_before and equity_after < im_after:
        raise InsufficientMargin(member, sub_account, equity_after, im_before, im_after)
