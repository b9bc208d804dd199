"""The browser verifier's recomputed statement (web/verifier/src/recompute) against
the Python it ports (proofs/recompute.py, clearing/risk): the same rows, digit for
digit, from every genesis the repo uses and random markets, the same Black-76 values
in `decimal`'s 50 digits, and the same failure lines for each tampered statement.

The TypeScript is bundled once with esbuild into a node script that answers a batch
of cases read from stdin (web/verifier/test/recompute_cli.ts): one node process per
batch."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal, InvalidOperation
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bridge.devchain import DevnetChain
from clearing.errors import GenesisError
from clearing.genesis import Genesis, parse_genesis
from clearing.risk.black76 import YEAR_MS, compute_option_value
from clearing.risk.engine import compute_market_solvency_form
from clearing.risk.solvency import SolvencyMarket
from devnet.genesis import build_genesis_template
from devnet.homes import make_homes
from node.commands.init import build_genesis
from proofs.recompute import compare_statement, get_scenario_names
from proofs.report import Report
from proofs.statement import SolvencyStatement, get_statement
from tests.clearing.support import genesis_doc
from tests.node.reports.support import epoch_report_inputs, small_epoch_genesis
from tests.web.verifier.node_cli import bundle_cli, run_cli

MAX_UINT64 = 2**64 - 1
DAY_MS = 86_400_000
Doc = dict[str, Any]


@pytest.fixture(scope="module")
def cli(tmp_path_factory: pytest.TempPathFactory) -> Callable[[list[Doc]], list[Doc]]:
    bundle = bundle_cli("recompute_cli", tmp_path_factory.mktemp("recompute"))

    def run(cases: list[Doc]) -> list[Doc]:
        results: list[Doc] = run_cli(bundle, {"cases": cases}, timeout=120)["results"]
        assert len(results) == len(cases)
        return results

    return run


# --- the geneses ---------------------------------------------------------------------


def devnet_genesis() -> Doc:
    """The devnet's genesis as `clearnode init` writes it (devnet/homes.py
    write_homes), over two chains with test token addresses."""
    chains = [
        DevnetChain(31337 + n, "", bytes([0x40 + n]) * 20,
                    {"USDC": bytes([0x10 + n]) * 20, "WETH": bytes([0x20 + n]) * 20})
        for n in range(2)
    ]  # fmt: skip
    template = build_genesis_template(chains, 30)
    homes = make_homes(Path("/nonexistent"), 4)
    return build_genesis(template, int(template["chain_id"]), [(h.name, h.keys) for h in homes])


EXPIRY = 1_798_185_600_000  # the example genesis's BTC-26DEC26


def option_doc(iid: str, strike: int, option_type: str, expiry_ms: int) -> Doc:
    return {
        "id": iid, "kind": "option", "underlying": "BTC-26DEC26", "index_feed": "BTC/0.001",
        "contract_size": "0.001", "tick_size": 10, "price_band_bps": 5000, "fee_bps": 3,
        "settlement": "cash", "expiry_ms": expiry_ms, "strike": strike, "option_type": option_type,
    }  # fmt: skip


def options_genesis() -> Doc:
    """The example genesis with calls and puts near and far from the money, expiring in
    a day, a month and years after the future, a discount rate, a vol that shifts to
    its floor, and stress days, priced at the market's own time (the example's pricing
    interval is a minute); settled instruments kept a day (a key the rows ignore)."""
    doc = genesis_doc()
    doc["settled_instrument_retention_ms"] = DAY_MS
    doc["instruments"] += [
        option_doc("BTC-C60-1D", 60_300_000, "call", EXPIRY - DAY_MS),
        option_doc("BTC-P60-1D", 60_300_000, "put", EXPIRY - DAY_MS),
        option_doc("BTC-C90-30D", 90_000_000, "call", EXPIRY - 30 * DAY_MS),
        option_doc("BTC-P30-30D", 30_000_000, "put", EXPIRY - 30 * DAY_MS),
        option_doc("BTC-C1-LONG", 1, "call", EXPIRY + 3 * 365 * DAY_MS),
        option_doc("BTC-PMAX-LONG", MAX_UINT64, "put", EXPIRY + 40 * 365 * DAY_MS),
    ]
    for inst in doc["instruments"][4:]:
        doc["mark_prices"][inst["id"]] = 1_000_000
    risk = doc["risk"]
    risk["rate_bps"] = 450
    risk["pricing_interval_ms"] = 1  # priced at each market's own millisecond near expiry
    risk["underlyings"]["BTC"]["vol_scan_bps"] = 7000  # vol- goes below 1 bps: floored to 1
    risk["stress_days"] += [
        {"label": "2022-11-09", "moves_bps": {"BTC": -1450}},
        {"label": "up", "moves_bps": {"BTC": 2500, "ETH": 3100}},
    ]
    return doc


def groups_genesis() -> Doc:
    """Two correlation groups (the joint set is their product), a third collateral
    token with a haircut, a price step count of 2 and an extreme cover of 0; no option
    (options_genesis has them)."""
    doc = genesis_doc()
    option = doc["instruments"].pop()
    del doc["mark_prices"][option["id"]]
    doc["collateral"].append({
        "chain_id": 31338, "token": "0x00000000000000000000000000000000000000E2",
        "symbol": "WETH", "decimals": 18, "quantum": 10**12, "haircut_bps": 2500,
        "price_feed": "ETH/quantum",
    })  # fmt: skip
    sol = dict(doc["instruments"][0], id="SOL-PERP", underlying="SOL", index_feed="SOL/0.1")
    doc["instruments"].append(sol)
    doc["index_prices"]["SOL/0.1"] = 15_000_000
    doc["mark_prices"]["SOL-PERP"] = 15_000_000
    risk = doc["risk"]
    risk["underlyings"]["SOL"] = {"group": "alts", "scan_bps": 3000, "vol_bps": 9000,
                                  "vol_scan_bps": 2500, "floor_bps": 9000}  # fmt: skip
    risk["price_steps"], risk["extreme_cover_bps"] = 2, 0
    risk["stress_days"].append({"label": "sol", "moves_bps": {"SOL": -6000}})
    return doc


GENESES: dict[str, Callable[[], Doc]] = {
    "example": genesis_doc,
    "reports": lambda: small_epoch_genesis(5),
    "devnet": devnet_genesis,
    "options": options_genesis,
    "groups": groups_genesis,
}


EXAMPLE_EPOCH_LENGTH = genesis_doc()["epoch_length_blocks"]  # the malformed geneses' base


# --- the Python oracle ---------------------------------------------------------------


def encode_market(market: SolvencyMarket) -> Doc:
    return {"pricing_time_ms": market.pricing_time_ms,
            "mark_prices": [list(p) for p in market.mark_prices],
            "index_prices": [list(p) for p in market.index_prices]}  # fmt: skip


def encode_statement(statement: SolvencyStatement) -> Doc:
    return {"labels": list(statement.input_labels), "offsets": list(statement.offsets),
            "rows": [list(r) for r in statement.rows]}  # fmt: skip


def python_recompute(genesis: Genesis, market: SolvencyMarket) -> Doc:
    """What the TypeScript's recompute case must answer."""
    form = compute_market_solvency_form(genesis, market)
    assert form is not None
    return {"statement": encode_statement(get_statement(form)),
            "scenarios": list(form.scenario_labels)}  # fmt: skip


def ts_recompute(result: Doc) -> Doc:
    if "error" in result:
        return {"error": result["error"].split(":")[0]}
    s = result["statement"]
    statement = {"labels": s["labels"], "offsets": [int(o) for o in s["offsets"]],
                 "rows": [[int(c) for c in r] for r in s["rows"]]}  # fmt: skip
    return {"statement": statement, "scenarios": result["scenarios"]}


def market_at(genesis: Genesis, time_ms: int, marks: Sequence[int],
              index: Sequence[int]) -> SolvencyMarket:  # fmt: skip
    ids = sorted(i.id for i in genesis.instruments)
    feeds = sorted(genesis.feeds())
    return SolvencyMarket(time_ms, tuple(zip(ids, marks, strict=True)),
                          tuple(zip(feeds, index, strict=True)))  # fmt: skip


def genesis_market(genesis: Genesis) -> SolvencyMarket:
    """The genesis's own prices a week before the future's expiry."""
    return SolvencyMarket(EXPIRY - 7 * DAY_MS, genesis.mark_prices, genesis.index_prices)


# --- rows from random markets ---------------------------------------------------------

PRICES = st.one_of(st.integers(1, 10**6), st.integers(10**6, 10**12), st.integers(1, MAX_UINT64))
TIMES = st.one_of(
    st.integers(0, MAX_UINT64),
    st.integers(EXPIRY - 400 * DAY_MS, EXPIRY + 2 * DAY_MS),
    st.integers(EXPIRY - DAY_MS - 1000, EXPIRY - DAY_MS + 1000),
)


@pytest.mark.parametrize("name", sorted(GENESES))
@settings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.too_slow,
          HealthCheck.function_scoped_fixture])  # fmt: skip
@given(data=st.data())
def test_rows_equal_the_python_s_for_random_markets(
    cli: Callable[[list[Doc]], list[Doc]], name: str, data: st.DataObject
) -> None:
    doc = GENESES[name]()
    genesis = parse_genesis(doc)
    n_marks, n_feeds = len(genesis.instruments), len(genesis.feeds())
    markets = [genesis_market(genesis)] + [
        market_at(
            genesis,
            data.draw(TIMES),
            data.draw(st.lists(PRICES, min_size=n_marks, max_size=n_marks)),
            data.draw(st.lists(PRICES, min_size=n_feeds, max_size=n_feeds)),
        )
        for _ in range(6)
    ]
    assert_recomputed_as_python(cli, doc, genesis, markets)


def assert_recomputed_as_python(
    cli: Callable[[list[Doc]], list[Doc]], doc: Doc, genesis: Genesis, markets: list[SolvencyMarket]
) -> None:
    """One node process recomputes every market; each statement is the Python's."""
    results = cli([{"kind": "recompute", "genesis": doc, "market": encode_market(m)}
                   for m in markets])  # fmt: skip
    for market, result in zip(markets, results, strict=True):
        assert ts_recompute(result) == python_recompute(genesis, market), market


def test_option_rows_near_expiry_and_at_extreme_prices(
    cli: Callable[[list[Doc]], list[Doc]],
) -> None:
    """Times at, just before and after each expiry; futures marked at 1 and at 2^64 - 1."""
    doc = options_genesis()
    genesis = parse_genesis(doc)
    base = genesis_market(genesis)
    times = sorted({e + d for i in genesis.instruments if i.expiry_ms
                    for e in [i.expiry_ms] for d in (-1, 0, 1, -DAY_MS)})  # fmt: skip
    marks = dict(base.mark_prices)
    markets = [replace(base, pricing_time_ms=t) for t in times] + [
        replace(base, mark_prices=tuple(sorted({**marks, "BTC-26DEC26": p}.items())))
        for p in (1, 2, 3, 60_300_001, MAX_UINT64)
    ]
    assert_recomputed_as_python(cli, doc, genesis, markets)


def test_an_extreme_move_to_zero_is_refused_as_the_python_refuses_it(
    cli: Callable[[list[Doc]], list[Doc]],
) -> None:
    """An extreme move of -100% would take an option's future to zero: the risk section
    is refused (clearing/risk/params.py), in the same words by both."""
    doc = options_genesis()
    market = genesis_market(parse_genesis(doc))
    doc["risk"]["underlyings"]["BTC"]["scan_bps"] = 5000  # extreme -2 ranges: -100%
    genesis = parse_genesis(doc)
    statement = get_statement(
        compute_market_solvency_form(parse_genesis(options_genesis()), market)
    )
    report = cast(Report, SimpleNamespace(chain_id=genesis.chain_id, epoch=1, market=market,
                                          height=genesis.epoch_length_blocks,
                                          statement=statement))  # fmt: skip
    expected = compare_statement(report, genesis)
    assert expected[0].startswith("the genesis defines no statement: GenesisError(key='risk.")
    case = {"kind": "compare", "genesis": doc, "market": encode_market(market), "epoch": 1,
            "height": genesis.epoch_length_blocks, "chain_id": genesis.chain_id,
            "statement": encode_statement(statement)}  # fmt: skip
    (result,) = cli([case])
    assert result["lines"] == expected


# --- Black-76 digit for digit ---------------------------------------------------------

BLACK76_CASES = st.tuples(
    st.one_of(st.integers(1, 10**9), st.integers(1, MAX_UINT64)),  # forward
    st.one_of(st.integers(1, 10**9), st.integers(1, MAX_UINT64)),  # strike
    st.integers(1, 10**6),  # vol bps
    st.one_of(  # remaining ms
        st.integers(-DAY_MS, 2 * DAY_MS), st.integers(0, 50 * YEAR_MS), st.integers(0, MAX_UINT64)
    ),
    st.integers(0, 10_000),  # rate bps
    st.booleans(),
)
FIXED_BLACK76 = [
    (60_000_000, 60_000_000, 6000, 30 * DAY_MS, 0, True),  # at the money
    (60_000_000, 60_000_001, 6000, 30 * DAY_MS, 450, False),
    (60_000_000, 6_000, 6000, DAY_MS, 0, True),  # deep in the money: |d| > 12, saturated
    (60_000_000, 6_000, 6000, DAY_MS, 0, False),
    (6_000, 60_000_000, 1, DAY_MS, 0, True),  # deep out of the money
    (60_000_000, 59_000_000, 1, 1, 0, True),  # one millisecond left
    (60_000_000, 59_000_000, 6000, 0, 10_000, True),  # expired: discounted intrinsic
    (60_000_000, 61_000_000, 6000, -5, 10_000, False),
    (MAX_UINT64, 1, 10**6, MAX_UINT64, 10_000, True),  # discount underflows
    (1, MAX_UINT64, 10**6, MAX_UINT64, 0, False),
]


def _python_black76(case: tuple[int, int, int, int, int, bool]) -> Decimal | None:
    try:
        return compute_option_value(*case)
    except InvalidOperation:
        return None


@settings(max_examples=2, deadline=None, suppress_health_check=[HealthCheck.too_slow,
          HealthCheck.function_scoped_fixture])  # fmt: skip
@given(cases=st.lists(BLACK76_CASES, min_size=150, max_size=150))
def test_black76_values_equal_the_python_s_to_50_digits(
    cli: Callable[[list[Doc]], list[Doc]], cases: list[tuple[int, int, int, int, int, bool]]
) -> None:
    cases = FIXED_BLACK76 + cases
    keys = ("forward", "strike", "vol_bps", "remaining_ms", "rate_bps", "is_call")
    results = cli([{"kind": "black76", **dict(zip(keys, c, strict=True))} for c in cases])
    for case, result in zip(cases, results, strict=True):
        want = _python_black76(case)
        got = None if result["value"] is None else Decimal(result["value"])
        assert got == want, (case, got, want)


# --- failure lines for tampered statements --------------------------------------------


@dataclass(frozen=True)
class Tamper:
    statement: SolvencyStatement
    market: SolvencyMarket
    chain_id: int
    epoch: int
    height: int
    genesis: Doc  # the verifier's genesis


def _honest() -> tuple[Doc, Genesis, SolvencyMarket, SolvencyStatement, tuple[str, ...]]:
    doc = small_epoch_genesis(5)
    genesis = parse_genesis(doc)
    market = genesis_market(genesis)
    form = compute_market_solvency_form(genesis, market)
    assert form is not None
    return doc, genesis, market, get_statement(form), form.scenario_labels


def _with_rows(s: SolvencyStatement, rows: Sequence[Sequence[int]]) -> SolvencyStatement:
    return SolvencyStatement(s.input_labels, s.offsets, tuple(tuple(r) for r in rows))


def _tampers() -> dict[str, Tamper]:
    doc, genesis, market, honest, _ = _honest()
    labels = honest.input_labels
    btc, weth = (
        labels.index("position:BTC-PERP"),
        labels.index("collateral:31337:0x" + "00" * 19 + "e1"),
    )
    rows = [list(r) for r in honest.rows]
    width = len(labels)

    def tamper(statement: SolvencyStatement = honest, **changes: Any) -> Tamper:
        return replace(Tamper(statement, market, genesis.chain_id, 1, 5, doc), **changes)

    def rows_where(change: Callable[[int, int, int], int]) -> SolvencyStatement:
        return _with_rows(honest, [[change(s, j, c) for j, c in enumerate(r)]
                                   for s, r in enumerate(rows)])  # fmt: skip

    quarter = copy.deepcopy(doc)
    quarter["risk"]["k_den"] = 4
    quarter_form = compute_market_solvency_form(parse_genesis(quarter), market)
    moved = dict(market.mark_prices, **{"BTC-PERP": 66_000_000})
    later = replace(market, mark_prices=tuple(sorted(moved.items())))
    later_form = compute_market_solvency_form(genesis, later)
    assert quarter_form is not None and later_form is not None
    no_risk = dict(copy.deepcopy(doc), risk={})
    bad_risk = copy.deepcopy(doc)
    bad_risk["risk"]["k_num"] = 2
    few = copy.deepcopy(doc)
    few["risk"]["max_scenarios"] = 17
    orphan = copy.deepcopy(doc)
    del orphan["risk"]["underlyings"]["ETH"]
    orphan["risk"]["stress_days"][0]["moves_bps"].pop("ETH")
    huge = copy.deepcopy(doc)
    huge["risk"]["k_num"], huge["risk"]["k_den"] = 2**64 - 2, 2**64 - 1
    box, inputs = epoch_report_inputs(5)  # a chain's market: members traded, blocks ran
    chain_form = compute_market_solvency_form(box.genesis, inputs.market)
    assert chain_form is not None and inputs.market.pricing_time_ms != market.pricing_time_ms
    chain_rows = [list(r) for r in get_statement(chain_form).rows]
    chain_rows[4][btc] -= 1
    return {
        "honest": tamper(),
        "honest at a chain's market": tamper(get_statement(chain_form), market=inputs.market),
        "off by one at a chain's market": tamper(
            _with_rows(honest, chain_rows), market=inputs.market
        ),
        "zeroed risk array": tamper(rows_where(lambda s, j, c: 0 if j == btc else c)),
        "one changed entry": tamper(rows_where(lambda s, j, c: c + 7 if (s, j) == (3, btc) else c)),
        "changed haircut weight": tamper(rows_where(lambda s, j, c: 2 * c if j == weth else c)),
        "changed maintenance fraction": tamper(get_statement(quarter_form)),
        "missing stress day": tamper(_with_rows(honest, rows[:-1])),
        "duplicated and extra rows": tamper(_with_rows(honest, [rows[0], *rows, [1] * width])),
        "rows of other marks": tamper(get_statement(later_form)),
        "market of other marks": tamper(market=later),
        "report of another height": tamper(height=6),
        "market missing a mark": tamper(market=replace(market, mark_prices=market.mark_prices[1:])),
        "market with an unknown feed": tamper(
            market=replace(market, index_prices=(*market.index_prices, ("ZZZ/1", 5)))
        ),
        "genesis of another chain": tamper(chain_id=genesis.chain_id + 1),
        "changed offset": tamper(SolvencyStatement(labels, (5, *honest.offsets[1:]), honest.rows)),
        "changed labels": tamper(
            SolvencyStatement((*labels[:-1], "position:DOGE-PERP"), honest.offsets, honest.rows)
        ),
        "no risk section": tamper(genesis=no_risk),
        "bad risk section": tamper(genesis=bad_risk),
        "too few max_scenarios": tamper(genesis=few),
        "an instrument's underlying without parameters": tamper(genesis=orphan),
        "unprovable coefficients": tamper(genesis=huge),
    }


TAMPERS = _tampers()


def test_failure_lines_equal_the_python_s(cli: Callable[[list[Doc]], list[Doc]]) -> None:
    cases = [
        {"kind": "compare", "genesis": t.genesis, "market": encode_market(t.market),
         "chain_id": t.chain_id, "epoch": t.epoch, "height": t.height,
         "statement": encode_statement(t.statement)}
        for t in TAMPERS.values()
    ]  # fmt: skip
    for (name, t), result in zip(TAMPERS.items(), cli(cases), strict=True):
        report = cast(Report, SimpleNamespace(chain_id=t.chain_id, epoch=t.epoch, height=t.height,
                                              market=t.market, statement=t.statement))  # fmt: skip
        genesis = parse_genesis(t.genesis)
        assert result["lines"] == compare_statement(report, genesis), name
        names = get_scenario_names(report, genesis)
        assert result["names"] == (None if names is None else list(names)), name
        assert (result["lines"] == []) == name.startswith("honest")


def test_each_tamper_is_named_and_the_honest_statement_passes() -> None:
    """The tamper suite above is not vacuous: every case but the honest one fails."""
    _, _, _, _, scenarios = _honest()
    assert scenarios[-1] == "day:2020-03-13"
    for name, t in TAMPERS.items():
        report = cast(Report, SimpleNamespace(chain_id=t.chain_id, epoch=t.epoch, height=t.height,
                                              market=t.market, statement=t.statement))  # fmt: skip
        failures = compare_statement(report, parse_genesis(t.genesis))
        assert bool(failures) != name.startswith("honest"), name


# --- malformed geneses ----------------------------------------------------------------


def _compare_cases(
    docs: list[Doc], market: SolvencyMarket, statement: SolvencyStatement
) -> list[Doc]:
    """Compare `statement` of epoch 1 on chain 4242 with each genesis of `docs`."""
    return [
        {"kind": "compare", "genesis": d, "market": encode_market(market), "chain_id": 4242,
         "epoch": 1, "height": EXAMPLE_EPOCH_LENGTH, "statement": encode_statement(statement)}
        for d in docs
    ]  # fmt: skip


def _malformed() -> list[Doc]:
    """One bad key each, in a part of the genesis the rows read."""
    changes: list[Callable[[Doc], None]] = [
        lambda d: d.update(version=2),
        lambda d: d.update(chain_id=0),
        lambda d: d.update(epoch_length_blocks=1.0),
        lambda d: d.update(surprise=1),
        lambda d: d.update(risk=[1]),
        lambda d: d["collateral"][1].update(token="0x00"),
        lambda d: d["collateral"][1].update(haircut_bps=10_000),
        lambda d: d["collateral"].append(dict(d["collateral"][0])),
        lambda d: d["instruments"][3].update(strike=None),
        lambda d: d["instruments"][3].update(option_type="straddle"),
        lambda d: d["instruments"][3].update(underlying="BTC-PERP"),
        lambda d: d["instruments"][0].update(expiry_ms=5),
        lambda d: d["instruments"].append(dict(d["instruments"][1])),
        lambda d: d["settlement_asset"]["tokens"][0].update(token="0xzz"),
        lambda d: d["risk"].update(k_den="2"),
        lambda d: d["risk"].update(underlyings={}),
        lambda d: d["risk"]["underlyings"]["BTC"].update(scan_bps=True),
        lambda d: d["risk"]["underlyings"]["BTC"].update(colour="red"),
        lambda d: d["risk"]["stress_days"][0]["moves_bps"].update(DOGE=1),
        lambda d: d["risk"]["stress_days"][0]["moves_bps"].update(BTC=-10_000),
        lambda d: d["risk"]["liquidation"].update(fee_bps=101),
        lambda d: d["risk"]["default_fund"].update(assessment_cap_bps=-1),
        lambda d: d["risk"].update(backstops=[{"member": "0x" + "00" * 20, "sub_account": 0}]),
        lambda d: d["risk"].update(backstops=[{"member": "0x" + "ab" * 20, "sub_account": 0}] * 2),
        lambda d: d["risk"].update(margin_call={"deadline_blocks": 0}),
        lambda d: d["risk"].update(auction={"rounds": 11}),
        lambda d: d["risk"].update(pricing_interval_ms=0),
        lambda d: d["risk"].update(pricing_interval_ms=86_400_001),
        lambda d: d["risk"].update(rate_bps=1e100),
        lambda d: d["risk"].update(rate_bps=[-0.0, 1e-05, 2.5e16, 123456.75]),
        lambda d: d["risk"].update(k_num={"b": 1, "10": 2, "a": [1.5, None, True]}),
        lambda d: d["risk"].update(k_den='it\'s "x"\n\u00a0\u00e9\t\\ \U0001f600'),
        lambda d: d["risk"].update(k_den="it's"),
        lambda d: d["risk"]["underlyings"]["BTC"].update(group=""),
    ]
    docs = []
    for change in changes:
        doc = genesis_doc()
        change(doc)
        docs.append(doc)
    return docs


def test_a_malformed_genesis_is_a_failure_line_naming_the_python_s_error(
    cli: Callable[[list[Doc]], list[Doc]],
) -> None:
    _, _, _, honest, _ = _honest()
    market = genesis_market(parse_genesis(genesis_doc()))
    docs = _malformed()
    for doc, result in zip(docs, cli(_compare_cases(docs, market, honest)), strict=True):
        try:
            genesis = parse_genesis(doc)
        except GenesisError as exc:  # the document: the verifier cannot use it
            assert result["lines"] == [f"the genesis is not valid: {exc}"]
        else:  # its risk section: it defines no statement
            with pytest.raises(GenesisError) as caught:
                compute_market_solvency_form(genesis, market)
            assert result["lines"] == [f"the genesis defines no statement: {caught.value}"]
        assert result["names"] is None


def _leaves(obj: object, path: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    """Every path into `obj` (comments left out)."""
    if isinstance(obj, dict):
        return [path] + [p for k, v in obj.items() if not k.startswith("_")
                         for p in _leaves(v, (*path, k))]  # fmt: skip
    if isinstance(obj, list):
        return [path] + [p for n, v in enumerate(obj) for p in _leaves(v, (*path, n))]
    return [path]


def _set(doc: Doc, path: tuple[object, ...], value: object) -> None:
    node: Any = doc
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value


# Code points this Python's Unicode database assigns: an unassigned one's repr depends on
# the database's version, which node's ICU (newer) and Python 3.11 do not share.
TEXT = st.characters(exclude_categories=("Cn", "Cs"))
JSON_VALUES = st.recursive(
    st.one_of(
        st.none(), st.booleans(), st.text(TEXT, max_size=4),
        st.floats(allow_nan=False, allow_infinity=False), st.integers(-(2**70), 2**70),
        st.sampled_from([0, 1, -1, 9999, 10_000, 2**64 - 1, 2**64]),
    ),
    lambda inner: st.one_of(st.lists(inner, max_size=2),
                            st.dictionaries(st.text(TEXT, max_size=3), inner, max_size=2)),
    max_leaves=4,
)  # fmt: skip
PATHS = [p for p in _leaves(genesis_doc()) if p and p[0] not in ("validators", "venues")]


@settings(max_examples=2, deadline=None, suppress_health_check=[HealthCheck.too_slow,
          HealthCheck.function_scoped_fixture])  # fmt: skip
@given(changes=st.lists(st.tuples(st.sampled_from(PATHS), JSON_VALUES), min_size=40, max_size=40))
def test_a_genesis_with_any_value_anywhere_gives_the_python_s_verdict(
    cli: Callable[[list[Doc]], list[Doc]], changes: list[tuple[tuple[object, ...], object]]
) -> None:
    """One value of the example genesis replaced by any JSON value: the TypeScript never
    throws; where the Python reads the genesis, the lines are the Python's; where it
    refuses it, so does the TypeScript or it reads on (the bad key is one the rows do
    not read), and it never refuses a genesis the Python reads."""
    _, _, _, honest, _ = _honest()
    market = genesis_market(parse_genesis(genesis_doc()))
    docs = []
    for path, value in changes:
        doc = genesis_doc()
        _set(doc, path, value)
        docs.append(doc)
    for doc, result in zip(docs, cli(_compare_cases(docs, market, honest)), strict=True):
        lines = result["lines"]
        try:
            genesis = parse_genesis(doc)
        except GenesisError:
            continue  # the TypeScript answered without throwing
        report = cast(Report, SimpleNamespace(chain_id=4242, epoch=1, height=EXAMPLE_EPOCH_LENGTH,
                                              market=market, statement=honest))  # fmt: skip
        assert lines == compare_statement(report, genesis), doc


def test_a_genesis_read_by_json_parse_gives_the_same_rows_up_to_2_53(
    cli: Callable[[list[Doc]], list[Doc]],
) -> None:
    """A caller may pass `JSON.parse` output: integers up to 2^53 are read as ints; a
    larger one lost digits there, and is refused as a typed error, not misread."""
    doc = devnet_genesis()
    big = options_genesis()
    genesis = parse_genesis(doc)
    market = genesis_market(genesis)
    cases = [
        {"kind": "recompute", "genesis_json": json.dumps(doc), "market": encode_market(market)},
        {"kind": "recompute", "genesis_json": json.dumps(big),
         "market": encode_market(genesis_market(parse_genesis(big)))},
    ]  # fmt: skip
    plain, lossy = cli(cases)
    assert ts_recompute(plain) == python_recompute(genesis, market)
    assert lossy["error"] == (
        "GenesisError: GenesisError(key='instruments[9].strike', expected='an integer in "
        "[1, 18446744073709551615]', got=18446744073709552000)"
    )
