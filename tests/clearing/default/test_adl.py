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
        assert 0 <= fill.charge <= max(c.equity, 0)  # nobody is deleveraged into default
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


def test_a_counterparty_is_charged_no_more_than_its_equity() -> None:
    """A profitable short whose account lost elsewhere (equity 106 against its 115 share
    of the loss) pays its equity; the other counterparty pays the rest, up to its own."""
    poor, rich, other = KEYS[:3]
    pool = [AdlCandidate(poor, -30, 166, 106, 1000), AdlCandidate(rich, -30, 10, 100, 1000)]
    result = compute_adl(60, 230, pool)
    assert [(f.account, f.quantity, f.charge) for f in result.fills] == [
        (poor, 30, 106), (rich, 30, 100)
    ]  # fmt: skip
    assert (result.unfilled, result.uncharged) == (0, 24)  # neither can pay more
    richer = [pool[0], AdlCandidate(other, -30, 10, 10**6, 1000)]
    charges = [f.charge for f in compute_adl(60, 230, richer).fills]
    assert charges == [106, 124] and compute_adl(60, 230, richer).uncharged == 0
