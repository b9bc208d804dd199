"""The solvency rows as a function of (genesis, market): the state's rows are the
market's, and each part of the market moves exactly the columns it should."""

from __future__ import annotations

from dataclasses import replace

import pytest

from clearing.risk.arrays import get_pricing_time_ms
from clearing.risk.engine import (
    compute_market_solvency_form,
    compute_risk_setup,
    get_solvency_market,
    get_state_solvency_form,
)
from clearing.risk.errors import MarketMismatch
from clearing.risk.solvency import SolvencyForm, SolvencyMarket
from devnet.sandbox import Sandbox
from tests.clearing.support import genesis_doc

BOX = Sandbox.from_genesis_doc(genesis_doc())
GENESIS = BOX.state.genesis
MARKET = get_solvency_market(BOX.state)
WETH_LABEL = "collateral:31337:0x" + "00" * 19 + "e1"


def _form(market: SolvencyMarket) -> SolvencyForm:
    form = compute_market_solvency_form(GENESIS, market)
    assert form is not None
    return form


def _changed_columns(a: SolvencyForm, b: SolvencyForm) -> set[str]:
    return {
        label
        for j, label in enumerate(a.input_labels)
        if any(ra[j] != rb[j] for ra, rb in zip(a.rows, b.rows, strict=True))
    }


def _with(prices: tuple[tuple[str, int], ...], key: str, price: int) -> tuple[tuple[str, int], ...]:
    return tuple((k, price if k == key else v) for k, v in prices)


def test_the_state_form_is_the_form_of_its_market() -> None:
    setup = compute_risk_setup(GENESIS)
    assert setup is not None and setup.is_time_dependent
    assert MARKET.pricing_time_ms == get_pricing_time_ms(setup.params, BOX.state.time_ms)
    assert dict(MARKET.mark_prices) == BOX.state.mark_prices
    assert get_state_solvency_form(BOX.state) == _form(MARKET)
    assert _form(MARKET).scenario_labels[-1] == "day:2020-03-13"
    assert SolvencyMarket.from_fields(MARKET.to_fields()) == MARKET


def test_a_mark_moves_its_instrument_and_the_options_on_it() -> None:
    moved = replace(MARKET, mark_prices=_with(MARKET.mark_prices, "BTC-PERP", 70_000_000))
    assert _changed_columns(_form(MARKET), _form(moved)) == {"position:BTC-PERP"}
    future = replace(MARKET, mark_prices=_with(MARKET.mark_prices, "BTC-26DEC26", 70_000_000))
    assert _changed_columns(_form(MARKET), _form(future)) == {
        "position:BTC-26DEC26",
        "position:BTC-26DEC26-65000-C",
    }


def test_an_index_price_moves_its_haircut_weight() -> None:
    moved = replace(MARKET, index_prices=_with(MARKET.index_prices, "ETH/quantum", 4_000))
    form = _form(moved)
    assert _changed_columns(_form(MARKET), form) == {WETH_LABEL}
    k_den = form.rows[0][0]
    column = form.input_labels.index(WETH_LABEL)
    assert {row[column] for row in form.rows} == {k_den * (4_000 * 9_000 // 10_000)}


def test_the_pricing_time_moves_only_the_options() -> None:
    later = replace(MARKET, pricing_time_ms=MARKET.pricing_time_ms + 30 * 86_400_000)
    assert _changed_columns(_form(MARKET), _form(later)) == {"position:BTC-26DEC26-65000-C"}


def test_a_market_must_price_exactly_the_genesis_ids() -> None:
    short = replace(MARKET, mark_prices=MARKET.mark_prices[1:])
    with pytest.raises(MarketMismatch) as info:
        compute_market_solvency_form(GENESIS, short)
    assert (info.value.kind, info.value.missing, info.value.extra) == (
        "mark_prices",
        (MARKET.mark_prices[0][0],),
        (),
    )
    extra = replace(MARKET, index_prices=(*MARKET.index_prices, ("XRP/1", 5)))
    with pytest.raises(MarketMismatch, match="XRP/1"):
        compute_market_solvency_form(GENESIS, extra)
