from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from clearing.default.adl import AdlCandidate, compute_adl, compute_adl_ranking

KEYS = [(bytes([n]) * 20, 0) for n in range(1, 9)]


@st.composite
def candidates(draw: st.DrawFn) -> list[AdlCandidate]:
    out = []
    for key in draw(st.lists(st.sampled_from(KEYS), unique=True, max_size=8)):
        q = draw(st.integers(-1000, 1000))
        out.append(AdlCandidate(key, q, draw(st.integers(-10**6, 10**6)),
                                draw(st.integers(-10**6, 10**7)), abs(q) * 100))  # fmt: skip
    return out


@given(candidates(), st.integers(-500, 500).filter(bool), st.integers(0, 10**6))
def test_adl_touches_only_profitable_opposite_positions(
    pool: list[AdlCandidate], quantity: int, loss: int
) -> None:
    result = compute_adl(quantity, loss, pool)
    by_key = {c.account: c for c in pool}
    for fill in result.fills:
        c = by_key[fill.account]
        assert c.unrealised_pnl > 0 and c.quantity * quantity < 0
        assert abs(fill.quantity) <= abs(c.quantity) and fill.quantity * c.quantity < 0
    closed = sum(abs(f.quantity) for f in result.fills)
    assert closed + result.unfilled == abs(quantity)
    assert sum(f.charge for f in result.fills) + result.uncharged == loss


def test_ranking_is_profit_times_leverage() -> None:
    a, b, c = KEYS[:3]
    pool = [
        AdlCandidate(a, -10, 100, 1000, 1000),  # 0.1 * 1 = 0.1
        AdlCandidate(b, -10, 100, 500, 1000),  # 0.2 * 2 = 0.4
        AdlCandidate(c, 10, 900, 100, 1000),  # same side as the defaulter: never
    ]
    assert [x.account for x in compute_adl_ranking(pool, 5)] == [b, a]
