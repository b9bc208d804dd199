"""Listing templates: the series, ids and strikes they derive, and their genesis entry
(clearing/listing_template.py, clearing/genesis.py)."""

from __future__ import annotations

from typing import Any

import pytest

from clearing.errors import GenesisError
from clearing.genesis import parse_genesis
from clearing.instrument_docs import get_listing_template_doc, parse_listing_template
from clearing.instruments import InstrumentKind, OptionType
from clearing.listing_template import Cycle, get_series_id
from tests.clearing.support import genesis_doc

GENESIS_MS = 1795219200000  # configs/genesis.example.json: 2026-11-21 00:00 UTC
DEC_25_2026 = 1798185600000  # 08:00 UTC on Friday 25 December 2026
MAR_26_2027 = 1806048000000  # 08:00 UTC on Friday 26 March 2027
JUN_25_2027 = 1813910400000


def quarterly_doc(**changes: Any) -> dict[str, Any]:
    return {
        "id": "BTC-QUARTERLY", "prefix": "BTC", "cycle": "quarterly", "series": 2,
        "future": {
            "underlying": "BTC", "index_feed": "BTC/0.001", "contract_size": "0.001",
            "tick_size": 100, "price_band_bps": 500, "fee_bps": 5, "settlement": "cash",
        },
        "ladder": {
            "strikes_each_side": 2, "spacing": 5_000_000, "strike_unit": 1000,
            "tick_size": 10, "price_band_bps": 5000, "fee_bps": 3, "settlement": "cash",
        },
        **changes,
    }  # fmt: skip


def periodic_doc(first_expiry_ms: int, period_ms: int, **changes: Any) -> dict[str, Any]:
    doc = quarterly_doc(cycle="periodic", first_expiry_ms=first_expiry_ms, period_ms=period_ms)
    doc["prefix"], doc["id"], doc["series"] = "BTC-R", "BTC-ROLLING", 1
    del doc["ladder"]
    return {**doc, **changes}


def test_quarterly_series_expire_on_the_last_friday_of_each_quarter_at_8_utc() -> None:
    template = parse_listing_template(quarterly_doc(), "t")
    assert template.get_next_expiries(GENESIS_MS) == [DEC_25_2026, MAR_26_2027]
    assert template.get_next_expiries(DEC_25_2026 - 1)[0] == DEC_25_2026
    # a series expiring at the block time expires in that block: the next is next
    assert template.get_next_expiries(DEC_25_2026) == [MAR_26_2027, JUN_25_2027]
    assert [template.make_series(e).id for e in (DEC_25_2026, MAR_26_2027)] == [
        "BTC-25DEC26",
        "BTC-26MAR27",
    ]
    series = template.make_series(MAR_26_2027)
    assert (series.kind, series.expiry_ms, series.underlying) == (
        InstrumentKind.FUTURE,
        MAR_26_2027,
        "BTC",
    )


def test_periodic_series_count_from_the_first_expiry_and_name_their_time() -> None:
    template = parse_listing_template(periodic_doc(GENESIS_MS + 30_000, 60_000, series=2), "t")
    assert template.get_next_expiries(GENESIS_MS) == [GENESIS_MS + 30_000, GENESIS_MS + 90_000]
    assert template.get_next_expiries(GENESIS_MS + 30_000) == [
        GENESIS_MS + 90_000,
        GENESIS_MS + 150_000,
    ]
    assert template.get_next_expiries(GENESIS_MS + 10**9)[0] > GENESIS_MS + 10**9
    assert get_series_id("BTC-R", GENESIS_MS + 90_000) == "BTC-R-21NOV26-000130"
    assert get_series_id("BTC", DEC_25_2026) == "BTC-25DEC26"


def test_a_ladder_lists_a_call_and_a_put_at_each_strike_around_the_mark() -> None:
    template = parse_listing_template(quarterly_doc(), "t")
    future = template.make_series(MAR_26_2027)
    options = template.make_options(future, 61_400_000)  # nearest multiple of 5,000,000: 60M
    assert [o.id for o in options[:4]] == [
        "BTC-26MAR27-50000-C",
        "BTC-26MAR27-50000-P",
        "BTC-26MAR27-55000-C",
        "BTC-26MAR27-55000-P",
    ]
    assert sorted({o.strike for o in options}) == [50_000_000 + 5_000_000 * k for k in range(5)]
    assert {(o.underlying, o.expiry_ms, o.kind) for o in options} == {
        ("BTC-26MAR27", MAR_26_2027, InstrumentKind.OPTION)
    }
    assert {o.option_type for o in options} == {OptionType.CALL, OptionType.PUT}
    # centred on 5,000,000: the strikes at 0 and below are left out
    assert {o.strike for o in template.make_options(future, 4_000_000)} == {
        5_000_000,
        10_000_000,
        15_000_000,
    }


@pytest.mark.parametrize(
    "doc",
    [quarterly_doc(), periodic_doc(GENESIS_MS + 30_000, 60_000)],
    ids=["quarterly", "periodic"],
)
def test_a_template_reads_back_from_its_genesis_entry(doc: dict[str, Any]) -> None:
    template = parse_listing_template(doc, "t")
    assert parse_listing_template(get_listing_template_doc(template), "t") == template
    assert get_listing_template_doc(template) == doc


@pytest.mark.parametrize(
    ("doc", "key"),
    [
        (quarterly_doc(period_ms=60_000), "t.period_ms"),
        ({**periodic_doc(GENESIS_MS, 60_000), "period_ms": None}, "t.period_ms"),
        (periodic_doc(GENESIS_MS, 60_500), "t.period_ms"),
        (periodic_doc(GENESIS_MS + 1, 60_000), "t.first_expiry_ms"),
        (periodic_doc(GENESIS_MS, 999), "t.period_ms"),
        (quarterly_doc(series=0), "t.series"),
        (quarterly_doc(series=9), "t.series"),
        (quarterly_doc(cycle="monthly"), "t.cycle"),
        (quarterly_doc(future={**quarterly_doc()["future"], "tick_size": 0}), "t.future.tick_size"),
        (quarterly_doc(future={**quarterly_doc()["future"], "expiry_ms": 1}), "t.future.expiry_ms"),
        (quarterly_doc(ladder={**quarterly_doc()["ladder"], "spacing": 1500}), "t.ladder.spacing"),
        (quarterly_doc(ladder={**quarterly_doc()["ladder"], "fee_bps": -1}), "t.ladder.fee_bps"),
        (
            quarterly_doc(ladder={**quarterly_doc()["ladder"], "strikes_each_side": 17}),
            "t.ladder.strikes_each_side",
        ),
    ],
)
def test_a_bad_template_entry_is_refused_with_its_key(doc: dict[str, Any], key: str) -> None:
    with pytest.raises(GenesisError) as error:
        parse_listing_template(doc, "t")
    assert error.value.key == key


def test_genesis_templates_have_unique_ids_on_priced_feeds() -> None:
    doc = genesis_doc()
    doc["listing_templates"] = [quarterly_doc()]
    assert parse_genesis(doc).listing_templates[0].cycle is Cycle.QUARTERLY
    doc["listing_templates"] = [quarterly_doc(), quarterly_doc()]
    with pytest.raises(GenesisError, match=r"listing_templates\[1\]"):
        parse_genesis(doc)
    future = {**quarterly_doc()["future"], "index_feed": "SOL/1"}
    doc["listing_templates"] = [quarterly_doc(future=future)]
    with pytest.raises(GenesisError, match="index_feed"):
        parse_genesis(doc)
