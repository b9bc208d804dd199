from __future__ import annotations

import copy
from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from clearing.default.liquidation import MarginContext, is_liquidatable
from clearing.default.steps import get_default_book
from clearing.risk.arrays import RiskArrays
from clearing.risk.engine import get_member_risk, get_risk_arrays, get_risk_setup
from clearing.risk.margin import is_maintenance_met
from clearing.risk.queries import (
    PRICE_CAP,
    MarginCallStatus,
    Revaluation,
    compute_liquidation_price,
    get_account_risk,
    get_margin_call_status,
)
from clearing.settlement import process_mark_to_market
from clearing.state import MarginCall
from clearnode.client.sandbox_keys import MemberKey
from devnet.sandbox import Sandbox
from tests.clearing.risk.test_integration import A, B, risk_box
from tests.clearing.support import USDC, WETH
from tests.clearing.test_trade import PERP, make_batch, make_trade

KEY = (1, b"\x01" * 20)
FUTURE, CALL, ETH_PERP = "BTC-26DEC26", "BTC-26DEC26-65000-C", "ETH-PERP"


def test_dydx_isolated_liquidation_price_example() -> None:
    # dYdX Chain docs, "Liquidations" -> "Isolated Liquidation Price":
    # p' = (e - s*p) / (|s|*MMF - s); deposit e = $1,000, short s = -3 ETH at p = $3,000,
    # MMF = 5% -> p' = 10,000 / 3.15 = $3,174.60.
    # https://docs.dydx.exchange/concepts/trading/liquidations (mirror:
    # https://dydx-documentation-six.vercel.app/concepts/trading/liquidations)
    # Prices in cents; dYdX's maintenance requirement |s| * p' * 5% moves with the price.
    e, s, p = 100_000, -3, 300_000

    def slack_at(price: int) -> int:  # equity - maintenance margin, in 1/100 cents
        return 100 * (e + s * (price - p)) - 5 * abs(s) * price

    assert compute_liquidation_price(s, p, slack_at) == 317_461  # first cent past 3,174.603


def test_hyperliquid_liquidation_price_formula() -> None:
    # Hyperliquid Docs, Trading > Liquidations, "Computing Liquidation Price":
    # liq_price = price - side * margin_available / position_size / (1 - l * side), with
    # l = 1 / MAINTENANCE_LEVERAGE and margin_available = account_value - maintenance margin.
    # https://hyperliquid.gitbook.io/hyperliquid-docs/trading/liquidations
    # Long 10 BTC at $10,000 with $20,000 of account value, maintenance leverage 40 (2.5%):
    # margin available 20,000 - 2,500 = 17,500; liq = 10,000 - 1,750 / 0.975 = $8,205.13.
    # Short: 10,000 + 1,750 / 1.025 = $11,707.32 (position_size is the size in BTC).
    # Prices in cents; the maintenance margin is 2.5% of the position's value at the price.
    value = 2_000_000
    for side, expected in (
        (1, Fraction(820_512_820_51, 100_000)),
        (-1, Fraction(1_170_731_707, 1_000)),
    ):
        size = 10 * side

        def slack_at(p: int, size: int = size) -> int:  # 40 x (equity - maintenance margin)
            return 40 * (value + size * (p - 1_000_000)) - abs(size) * p

        served = compute_liquidation_price(size, 1_000_000, slack_at)
        assert served is not None and abs(served - expected) < 1  # the cent the check flips at
        assert slack_at(served) < 0 <= slack_at(served + side)


@given(
    st.integers(-(10**9), 10**9),
    st.integers(-1000, 1000).filter(bool),
    st.integers(1, 10**9),
    st.integers(1, 9),
    st.integers(0, 10**4),
    st.integers(0, 10**6),
)
def test_search_finds_the_first_failing_price_of_a_single_position(
    equity: int, q: int, mark: int, k_num: int, loss_bps: int, probe: int
) -> None:
    # One future: equity moves by q a tick, the requirement |q| * round(p * loss) with it.
    def slack_at(p: int) -> int:
        return 10 * (equity + q * (p - mark)) - k_num * abs(q) * ((p * loss_bps + 5_000) // 10_000)

    price = compute_liquidation_price(q, mark, slack_at)
    if price is None:
        assert slack_at(1 if q > 0 else PRICE_CAP) >= 0
        return
    assert slack_at(price) < 0
    if price != mark:  # every price from the next one toward the mark up to it holds
        step = 1 if q > 0 else -1
        assert slack_at(price + step) >= 0
        assert slack_at(price + step + (mark - price - step) * probe // 10**6) >= 0


@given(st.integers(2, PRICE_CAP), st.integers(0, 10**6), st.integers(1, 10**12), st.booleans())
def test_search_on_a_step_shaped_slack_falls_back_to_bisection(
    threshold: int, gap: int, jump: int, long: bool
) -> None:
    # A slack with no slope to follow (it jumps at one price): still the exact boundary,
    # in at most three times the evaluations of plain bisection.
    calls = []
    mark = min(threshold + gap, PRICE_CAP) if long else max(threshold - 1 - gap, 1)

    def slack_at(p: int) -> int:
        calls.append(p)
        holds = p >= threshold if long else p < threshold
        return jump if holds else -1

    price = compute_liquidation_price(1 if long else -1, mark, slack_at)
    assert price == (threshold - 1 if long else threshold)
    assert len(calls) <= 3 * 64 + 70


def scaled_arrays(iid: str, price: int) -> RiskArrays:
    """A two-instrument engine stand-in: each row is a fraction of its price (X at 5,000
    loses or gains 2%, Y at 900 about 3.3%), so the requirement moves with the mark."""
    prices = {"X": 5_000, "Y": 900, iid: price}
    rows = tuple((0, prices[i] * n // d, -(prices[i] * n // d)) for i, (n, d) in
                 (("X", (1, 50)), ("Y", (1, 30))))  # fmt: skip
    return RiskArrays(1, ("X", "Y"), ("base", "up", "down"), rows)


def test_account_figures_and_liquidation_prices_move_the_requirement_with_the_mark() -> None:
    marks = {"X": 5_000, "Y": 900}
    fixed = Revaluation(scaled_arrays, lambda iid, price: {})  # KEY on neither underlying
    risk = get_account_risk(1_000, {KEY: 10}, {KEY: 50}, {"X": 10, "Y": -5}, marks,
                            scaled_arrays("X", 5_000), 1, 2, fixed)  # fmt: skip
    # equity 1,500; L_up = -1000 + 150 = -850, L_down = 1000 - 150 = 850 -> IM 850, MM 425
    assert (risk.equity, risk.initial_margin, risk.maintenance_margin) == (1500, 850, 425)
    assert risk.free_collateral == 650
    prices = dict(risk.liquidation_prices)
    # X at p: equity 1500 + 10(p - 5000), IM 10*floor(p/50) - 150; met while
    # 20p - 10*floor(p/50) >= 96,850, i.e. from 4,891 up
    assert prices["X"] == 4_890  # a requirement held at 850 would have said 4,892
    # Y at p: equity 1500 - 5(p - 900), IM 1000 - 5*floor(p/30); met while
    # 10p - 5*floor(p/30) <= 11,000, i.e. up to 1,118
    assert prices["Y"] == 1_119  # a requirement held at 850 would have said 1,116
    for iid, q, mark, price in (("X", 10, 5_000, 4_890), ("Y", -5, 900, 1_119)):
        for p, met in ((price, False), (price + (1 if q > 0 else -1), True)):
            arrays = scaled_arrays(iid, p)
            losses = [-(10 * arrays.row("X")[s] - 5 * arrays.row("Y")[s]) for s in range(3)]
            assert is_maintenance_met(1_500 + q * (p - mark), max(losses), 1, 2) is met


def is_liquidated_at(box: Sandbox, member: MemberKey, instrument: str, price: int) -> bool:
    """The engine's end-of-block decision for ``member`` with ``instrument`` marked at
    ``price`` and every feed of its asset (``ETH/0.01``, WETH's ``ETH/quantum``) moved by
    ``price / mark``, as an oracle round moving them together reports them: variation
    margin settled, then ``is_liquidatable`` over the rebuilt arrays and revalued collateral."""
    state = box.state
    asset = state.instruments[instrument].index_feed.partition("/")[0]
    for feed, index in state.index_prices.items():
        if feed.partition("/")[0] == asset:
            state.index_prices[feed] = index * price // state.mark_prices[instrument]
    state.mark_prices[instrument] = price
    process_mark_to_market(state, box.next_context())
    setup = get_risk_setup(state)
    assert setup is not None
    p = setup.params
    ctx = MarginContext(get_risk_arrays(state, setup), state.mark_prices, p.k_num, p.k_den,
                        p.liquidation)  # fmt: skip
    return is_liquidatable(get_default_book(state).accounts[(member.address, 0)], ctx)


def open_position(box: Sandbox, lots: int, instrument: str, trade_id: int) -> bool:
    """A buys ``lots`` (sells when negative) from B at the mark; False if refused."""
    buyer, seller = (A, B) if lots > 0 else (B, A)
    price = box.state.mark_prices[instrument]
    trade = make_trade(trade_id, buyer, seller, price, abs(lots), instrument)
    block = box.apply([make_batch(box, [trade], trade_id)])
    return not [e for e in block.tx_results[0].events if e.kind == "trade_rejected"]


def test_served_price_of_a_long_and_a_short_is_where_the_engine_liquidates() -> None:
    # 100 lots of BTC-PERP at 60,000,000 against 2.5G of collateral. With the requirement
    # held at its current value the query served 45,589,999 for the long (where the engine
    # does not liquidate: the requirement falls with the price) and 80,470,001 for the
    # short (the engine liquidates from 79,041,861 on).
    for lots, served in ((100, 42_512_135), (-100, 79_041_861)):
        box = risk_box()
        assert open_position(box, lots, PERP, 1)
        risk = get_member_risk(box.state, A.address, 0)
        assert risk is not None and risk.liquidation_prices == ((PERP, served),)
        better = served + (1 if lots > 0 else -1)
        assert not is_liquidated_at(box, A, PERP, better)
        assert is_liquidated_at(box, A, PERP, served)


def test_served_price_moves_collateral_on_the_same_underlying_as_the_engine_does() -> None:
    # ETH-PERP (30,000,000 a lot) against 2.5G of USDC and WETH (2,700 a quantum after
    # its 10% haircut), ETH/quantum moving with the mark. Holding the WETH at today's
    # value the query served `fixed`: for the long, no price at all (the engine
    # liquidates from 4,066,283 down); for the short 57,350,001, where the WETH has
    # risen with ETH and the engine does not liquidate. A short backed by 10 ETH of
    # WETH on -20G of cash is net long: it is liquidated below the mark, at 18,369,999.
    for lots, weth, cash, served, fixed in (
        (100, 500_000, None, 4_066_283, None),
        (-100, 300_000, None, 66_243_637, 57_350_001),
        (-100, 10_000_000, -20_000_000_000, 18_369_999, 113_622_728),
    ):
        box = risk_box()
        box.apply([box.credit(A.address, WETH, weth)])
        assert open_position(box, lots, ETH_PERP, 1)
        if cash is not None:  # as if paid out in variation margin: borrowing on the WETH
            box.state.members[A.address].sub_accounts[0].cash = cash
        risk = get_member_risk(box.state, A.address, 0)
        assert risk is not None and risk.liquidation_prices == ((ETH_PERP, served),)
        mark = box.state.mark_prices[ETH_PERP]
        better = served + (1 if served < mark else -1)
        assert not is_liquidated_at(copy.deepcopy(box), A, ETH_PERP, better)
        assert is_liquidated_at(copy.deepcopy(box), A, ETH_PERP, served)
        if fixed is not None:
            assert not is_liquidated_at(box, A, ETH_PERP, fixed)


@settings(max_examples=30, deadline=None)
@given(
    st.sampled_from([PERP, FUTURE, CALL, ETH_PERP]),
    st.integers(-60, 60).filter(bool),
    st.integers(0, 2 * 10**9),
    st.sampled_from([None, PERP, FUTURE, CALL, ETH_PERP]),
    st.integers(-60, 60).filter(bool),
    st.integers(0, 2_000_000),
)
def test_at_the_served_price_the_engine_liquidates_and_one_tick_better_it_does_not(
    instrument: str, lots: int, extra: int, other: str | None, other_lots: int, weth: int
) -> None:
    box = risk_box()  # WETH moves with ETH-PERP's mark; USDC at par
    box.apply([box.credit(A.address, USDC, extra), box.credit(A.address, WETH, weth)])
    if not open_position(box, lots, instrument, 1):
        return  # beyond the collateral: nothing held
    if other is not None and other != instrument:
        open_position(box, other_lots, other, 2)  # a second position, if the margin allows
    risk = get_member_risk(box.state, A.address, 0)
    assert risk is not None
    prices = dict(risk.liquidation_prices)
    price = prices[instrument]
    mark = box.state.mark_prices[instrument]
    if price is None:  # no price on the position's losing side liquidates
        assert not is_liquidated_at(box, A, instrument, 1 if lots > 0 else PRICE_CAP)
        return
    assert is_liquidated_at(copy.deepcopy(box), A, instrument, price)
    if price != mark:
        assert not is_liquidated_at(box, A, instrument, price + (1 if price < mark else -1))


def test_margin_call_status_counts_the_blocks_left_down_to_zero() -> None:
    call = MarginCall(amount_due=7, opened_height=10, deadline_height=13)
    assert get_margin_call_status(None, 11) is None
    assert get_margin_call_status(call, 10) == MarginCallStatus(7, 10, 13, 3)
    assert get_margin_call_status(call, 13) == MarginCallStatus(7, 10, 13, 0)
    assert get_margin_call_status(call, 15) == MarginCallStatus(7, 10, 13, 0)  # liquidation due
