from __future__ import annotations

import pytest

from clearing.default.default_fund import (
    check_reduce_only,
    compute_fund_size,
    compute_required_contributions,
    process_default_fund_epoch,
)
from clearing.default.events import EventKind
from clearing.risk.arrays import RiskArrays
from clearing.risk.errors import ReduceOnly

A, B, C, D = (bytes([n]) * 20 for n in range(1, 5))


def test_cover_two_is_the_two_largest_exposures() -> None:
    exposures = {A: 500, B: 300, C: 100, D: 0}
    assert compute_fund_size(exposures, 2) == 800
    required = compute_required_contributions(exposures, 2)
    assert sum(required.values()) == 800 and required[D] == 0
    assert required == {A: 444, B: 267, C: 89, D: 0}  # 444.4, 266.7, 88.9: remainders


def test_epoch_sizing_from_arrays_and_reduce_only() -> None:
    margin = RiskArrays(1, ("X",), ("base", "up", "down"), ((0, 10, -10),))
    stress = RiskArrays(1, ("X",), ("base", "up", "down"), ((0, 50, -50),))
    holdings = {(A, 0): {"X": 3}, (B, 0): {"X": -1}, (B, 1): {"X": -1}, (C, 0): {}}
    required, reduce_only, events = process_default_fund_epoch(
        holdings, margin, stress, {A: 120, B: 0, C: 0, D: 5}, cover=2
    )
    # exposure: A 3*(50-10)=120; B 40+40=80 over two sub-accounts; C, D none
    assert required == {A: 120, B: 80, C: 0, D: 0}
    assert reduce_only == (B,)
    assert (EventKind.REDUCE_ONLY, B, 80) in [(e.kind, e.member, e.amount) for e in events]


def test_reduce_only_rejects_growth_and_flips() -> None:
    check_reduce_only(A, {"X": 5}, {"X": 2})
    with pytest.raises(ReduceOnly):
        check_reduce_only(A, {"X": 5}, {"X": 6})
    with pytest.raises(ReduceOnly):
        check_reduce_only(A, {"X": 5}, {"X": -1})
    with pytest.raises(ReduceOnly):
        check_reduce_only(A, {}, {"Y": 1})
