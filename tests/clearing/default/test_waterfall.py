from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from clearing.default.waterfall import compute_pro_rata, compute_waterfall

MEMBERS = [bytes([n]) * 20 for n in range(1, 6)]
amounts = st.integers(0, 10**12)


@given(amounts, amounts, amounts, amounts,
       st.dictionaries(st.sampled_from(MEMBERS), amounts, max_size=5),
       st.dictionaries(st.sampled_from(MEMBERS), amounts, max_size=5))  # fmt: skip
def test_waterfall_never_creates_or_destroys_value(
    loss: int,
    collateral: int,
    own: int,
    fund: int,
    contributions: dict[bytes, int],
    assessable: dict[bytes, int],
) -> None:
    defaulter = MEMBERS[0]
    r = compute_waterfall(defaulter, loss, collateral, own, fund, contributions, assessable)
    assert r.covered + r.to_adl == loss
    for member, paid in r.from_assessments:
        assert member != defaulter and 0 < paid <= assessable[member]
    if r.from_assessments:  # only once every contribution is used
        others = sum(c for m, c in contributions.items() if m != defaulter)
        assert sum(p for _, p in r.from_members) == others
    assert r.from_collateral <= collateral and r.from_own_contribution <= own
    assert r.from_insurance <= fund
    for member, paid in r.from_members:
        assert member != defaulter and 0 < paid <= contributions[member]
    # layers are used strictly in order
    if r.from_own_contribution:
        assert r.from_collateral == collateral
    if r.from_insurance:
        assert r.from_own_contribution == own
    if r.from_members:
        assert r.from_insurance == fund
    if r.to_adl:
        others = sum(c for m, c in contributions.items() if m != defaulter)
        assert sum(p for _, p in r.from_members) == others
        can = sum(c for m, c in assessable.items() if m != defaulter)
        assert sum(p for _, p in r.from_assessments) == can


@given(st.dictionaries(st.sampled_from(MEMBERS), st.integers(0, 10**9), min_size=1), st.data())
def test_pro_rata_is_exact_and_bounded(weights: dict[bytes, int], data: st.DataObject) -> None:
    total = sum(weights.values())
    amount = data.draw(st.integers(0, total))
    shares = compute_pro_rata(amount, weights)
    assert sum(shares.values()) == amount
    assert all(0 <= shares[m] <= weights[m] for m in weights)
    assert all(shares[m] == 0 for m in weights if weights[m] == 0)


def test_pro_rata_remainder_goes_to_largest_fraction_then_lowest_address() -> None:
    a, b, c = MEMBERS[:3]
    assert compute_pro_rata(10, {a: 1, b: 1, c: 1}) == {a: 4, b: 3, c: 3}
    assert compute_pro_rata(5, {a: 1, b: 2, c: 3}) == {a: 1, b: 2, c: 2}  # 5/6,10/6,15/6


def test_member_without_contribution_never_pays() -> None:
    a, b, c = MEMBERS[:3]
    r = compute_waterfall(a, 1000, 0, 0, 0, {b: 500, c: 0})
    assert r.from_members == ((b, 500),) and r.to_adl == 500
