"""Published worked examples of variation margin and perpetual funding, replayed.

Variation margin runs through the whole ledger (process_block: a venue-signed
trade, then validator-signed price updates whose end-of-block settlement moves
cash). Funding examples (Hyperliquid's and dYdX v4's documentation among them)
replay the published rates, caps and payments through the ledger's funding
(clearing/transition/funding.py). Units: the sandbox's
settlement asset has 6 decimals (1 USD = 1_000_000); a price is per lot.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from clearing.context import BlockContext
from clearing.instruments import DEFAULT_INTEREST_PPM, PPM
from clearing.transition.funding import (
    RATE_SCALE,
    UNMARGINED_CAP,
    compute_funding_credit,
    compute_funding_rate,
    compute_interval_rate,
    compute_premium,
    get_funding_cap,
    process_funding,
)
from clearnode.client.sandbox_keys import MemberKey
from devnet.sandbox import Sandbox
from tests.clearing.risk.sample import genesis_risk_section
from tests.clearing.support import USDC, genesis_doc
from tests.clearing.test_trade import cash, clear, make_batch, make_trade, trading_box

USD = 1_000_000
HOUR = 3_600_000


def futures_ledger(price: int, tick: int) -> tuple[Sandbox, list[MemberKey]]:
    """A ledger listing one fee-free dated future ``EX`` marked at ``price``."""
    doc: dict[str, Any] = genesis_doc()
    doc["instruments"].append(
        {**doc["instruments"][2], "id": "EX", "tick_size": tick, "fee_bps": 0,
         "price_band_bps": 1_000}
    )  # fmt: skip
    doc["mark_prices"]["EX"] = price
    return trading_box(count=2, box=Sandbox.from_genesis_doc(doc))


def settle_days(box: Sandbox, prices: list[int], member: MemberKey) -> list[int]:
    """One block per daily settlement price; the member's equity change each day (a loss
    is paid from its settlement-token collateral at once, so cash alone would not show it)."""
    changes = []
    for price in prices:
        before = equity(box, member)
        block = box.apply([box.prices({}, {"EX": price})])
        assert block.tx_results[0].is_ok(), block.tx_results[0].detail
        changes.append(equity(box, member) - before)
    return changes


def at_hour(box: Sandbox, hours: int) -> BlockContext:
    """The next block's context, ``hours`` after genesis."""
    return replace(box.next_context(), time_ms=box.state.genesis.genesis_time_ms + hours * HOUR)


def equity(box: Sandbox, member: MemberKey) -> int:
    account = box.state.members[member.address].sub_accounts[0]
    return account.cash + account.collateral.get(USDC, 0)


def test_daily_settlement_of_a_long_future() -> None:
    # "Futures Contract Daily Settlement concept", Scribd presentation 461961970,
    # https://www.scribd.com/presentation/461961970/Futures-Contract-Daily-Settlement-concept
    # Long at $1200 with $150 initial margin; settles $1180 (-$20, balance $130),
    # then $1120 (-$60, balance $70, below the $75 maintenance margin).
    box, (trader, counterparty) = futures_ledger(1_200 * USD, USD // 100)
    box.apply([box.credit(trader.address, USDC, 150 * USD)])
    block = box.apply([make_batch(box, [make_trade(1, trader, counterparty, 1_200 * USD,
                                                   instrument="EX")])])  # fmt: skip
    assert block.tx_results[0].is_ok()
    base = equity(box, trader) - 150 * USD
    assert settle_days(box, [1_180 * USD, 1_120 * USD], trader) == [-20 * USD, -60 * USD]
    assert equity(box, trader) - base == 70 * USD
    assert equity(box, trader) - base < 75 * USD  # margin call territory


def test_variation_margin_from_trade_price_to_settlement_price() -> None:
    # CME Clearing, "Money Calculations for CME-cleared Futures and Options" (2015):
    # a trade's mark-to-market runs from the trade price to that day's settlement price.
    # https://studylib.net/doc/8663886/money-calculations-for-cme-cleared-futures-and
    # Numbers: 3 CME Live Cattle futures (40,000 lb) bought at 120 cents/lb, settled at
    # 122 cents/lb: variation margin 2 c/lb * 40,000 lb * 3 = $2,400, as worked in
    # https://api17195.sec3.dev/suppose-that-yesterday-you-purchased-3-of-the-cme-april-2020-live-33965736
    per_lot = 40_000 * USD // 100  # 1 cent/lb on 40,000 lb = $400 per lot
    box, (buyer, seller) = futures_ledger(120 * per_lot, per_lot // 40)  # tick 0.025 c/lb
    box.apply([make_batch(box, [make_trade(1, buyer, seller, 120 * per_lot, quantity=3,
                                           instrument="EX")])])  # fmt: skip
    seller_start = equity(box, seller)
    assert settle_days(box, [122 * per_lot], buyer) == [2_400 * USD]
    assert settle_days(box, [122 * per_lot], seller) == [0]  # settled once only
    assert equity(box, seller) == seller_start - 2_400 * USD


def test_daily_settlement_of_a_short_future_over_three_days() -> None:
    # Short 10 futures at a day-0 settlement price of $96; settlement prices $99, $95,
    # $97: daily gains -$30, +$40, -$20, a net loss of $10 when closed at day 3.
    # https://justaaa.com/finance/474602-at-the-end-of-day-0-you-go-short-in-10-futures
    box, (long, short) = futures_ledger(96 * USD, USD // 100)
    box.apply([make_batch(box, [make_trade(1, long, short, 96 * USD, quantity=10,
                                           instrument="EX")])])  # fmt: skip
    long_start = equity(box, long)
    days = settle_days(box, [99 * USD, 95 * USD, 97 * USD], short)
    assert days == [-30 * USD, 40 * USD, -20 * USD]
    assert sum(days) == -10 * USD
    assert equity(box, long) - long_start == 10 * USD


def test_funding_amount_is_position_value_times_rate() -> None:
    # BitMEX, "Perpetual Contracts Guide Examples", Long XBTUSD example:
    # https://www.bitmex.com/app/perpetualContractsGuideExamples
    # Funding Rate 0.25%; Funding Amount = Mark Value * Funding Rate = 20 XBT * 0.25%
    # = 0.05 XBT; the long pays, the short receives 0.05 XBT.
    xbt = 10**8  # satoshis
    rate = 25 * RATE_SCALE // 10_000  # 0.25%
    index_move = rate * 20 * xbt  # per lot worth 20 XBT
    assert compute_funding_credit(1, 0, index_move) == -5 * xbt // 100
    assert compute_funding_credit(-1, 0, index_move) == 5 * xbt // 100


def test_premium_and_hourly_payment_of_a_short() -> None:
    # Kraken, "Inverse Crypto-Collateral Perpetual Contract Specifications",
    # Example Funding Rate 1: https://support.kraken.com/hc/en-us/articles/360022835911
    # Index $7,000, perpetual at $7,010: premium $10/$7,000 = 0.1428%, an 8-hour rate
    # paid an eighth each hour: 0.01785%; a short of 100,000 one-dollar contracts earns
    # $17.85 in the hour ($100,000 * 0.0001785). (The page's "0.1428 / 24" is a typo for
    # / 8: it is 0.1428% / 8 that gives 0.01785%; we replay the stated rate and payment.)
    assert compute_premium(7_010 * USD, 7_000 * USD) == 1_428_571  # 0.1428571%
    hourly = compute_interval_rate(compute_premium(7_010 * USD, 7_000 * USD), HOUR)
    assert hourly == 178_571  # 0.0178571% vs the page's 0.01785%
    stated = 178_500  # 0.01785% in RATE_SCALE
    assert compute_funding_credit(-100_000, 0, stated * USD) == 17_850_000  # $17.85


def perpetual_ledger(mark: int, index: int, risk: dict[str, Any] | None = None) -> Sandbox:
    """A ledger whose BTC perpetual (1 BTC a lot, hourly funding) is marked at ``mark``
    against an index of ``index`` (USD a lot); ``risk`` replaces the margin section."""
    doc: dict[str, Any] = genesis_doc()
    doc["instruments"][0]["contract_size"] = "1"
    doc["index_prices"]["BTC/0.001"] = index
    doc["mark_prices"]["BTC-PERP"] = mark
    if risk is not None:
        doc["risk"] = risk
    return Sandbox.from_genesis_doc(doc)


def test_hyperliquid_funding_example() -> None:
    # Hyperliquid Docs, Trading > Funding, "Numerical Example":
    # https://hyperliquid.gitbook.io/hyperliquid-docs/trading/funding
    # Interest 0.01% (per 8 hours), impact bid $10,100, spot (oracle) $10,000: premium 1%;
    # clamp(0.01% - 1%, -0.05%, 0.05%) = -0.05%; funding rate 1% - 0.05% = 0.95% (8 hours),
    # paid every hour at one eighth, as position_size * oracle_price * funding_rate on a
    # long of 10 BTC. (The mark plays the impact bid: our premium is mark against index.)
    premium = compute_premium(10_100 * USD, 10_000 * USD)
    assert premium == RATE_SCALE // 100  # 1%
    rate_8h = compute_funding_rate(premium, RATE_SCALE // 10_000, UNMARGINED_CAP)
    assert rate_8h == 95 * RATE_SCALE // 10_000  # 0.95%
    assert compute_interval_rate(rate_8h, HOUR) == 1_187_500  # 0.11875% an hour
    box = perpetual_ledger(10_100 * USD, 10_000 * USD)
    box, (long, short) = trading_box(count=2, box=box)
    clear(box, [make_trade(1, long, short, 10_100 * USD, quantity=10)])
    before = {m: cash(box, m) for m in (long, short)}
    process_funding(box.state, at_hour(box, 1))
    # 10 * $10,000 * 0.11875% = $118.75, on the oracle price, not the mark
    assert cash(box, long) - before[long] == -118_750_000
    assert cash(box, short) - before[short] == 118_750_000


def test_hyperliquid_interest_and_hourly_cap() -> None:
    # Same page: "interest rate component is predetermined at 0.01% every 8 hours, which
    # is 0.00125% every hour"; "Funding on Hyperliquid is capped at 4%/hour".
    # https://hyperliquid.gitbook.io/hyperliquid-docs/trading/funding
    assert DEFAULT_INTEREST_PPM * (RATE_SCALE // PPM) == RATE_SCALE // 10_000  # 0.01%
    at_index = compute_funding_rate(0, RATE_SCALE // 10_000, UNMARGINED_CAP)
    assert compute_interval_rate(at_index, HOUR) == 12_500  # 0.00125%
    box = perpetual_ledger(15_000 * USD, 10_000 * USD, risk={})  # premium 50%, no margins
    event = process_funding(box.state, at_hour(box, 1))[0]
    assert (event.get("instrument"), event.get("rate")) == ("BTC-PERP", 4 * RATE_SCALE // 100)


def test_dydx_funding_rate_cap_from_margin_fractions() -> None:
    # dYdX Chain docs, Concepts > Trading > Funding, "How is the funding rate cap
    # calculated?": the 8-hour rate is capped by 600% * (Initial Margin - Maintenance
    # Margin); BTC-USD (Large-Cap, IMF 5%, MMF 3%): 600% * (5% - 3%) = 12%; Mid-Cap 10%/5%,
    # Long-Tail 20%/10%. https://docs.dydx.exchange/concepts/trading/funding (source:
    # github.com/dydxprotocol/v4-documentation docs/pages/concepts/trading/funding.mdx)
    # Our IMF is one lot's worst scenario loss over its price: a 5% (resp. 10%, 20%) scan
    # with no stress day; MMF = k * IMF with k = 3/5 (resp. 1/2).
    for scan_bps, k_num, k_den, cap_bps in ((500, 3, 5, 1_200), (1_000, 1, 2, 3_000),
                                            (2_000, 1, 2, 6_000)):  # fmt: skip
        risk = genesis_risk_section(k_num=k_num, k_den=k_den, stress_days=[])
        for u in risk["underlyings"].values():
            u["scan_bps"] = scan_bps
        box = perpetual_ledger(10_000 * USD, 10_000 * USD, risk)
        cap = get_funding_cap(box.state, box.state.instruments["BTC-PERP"])
        assert cap == cap_bps * RATE_SCALE // 10_000


def test_dydx_isolated_market_interest_and_hourly_payment() -> None:
    # dYdX Chain docs, same page: "the default interest rate component for isolated
    # markets is 0.125 bps per hour or 1 bps per 8 hours"; the 8-hour rate is paid pro
    # rata each hour on the oracle price (x/perpetuals getFundingIndexDelta: rate *
    # time / 8 hours * price). https://docs.dydx.exchange/concepts/trading/funding
    box = perpetual_ledger(10_000 * USD, 10_000 * USD)  # mark at the index: no premium
    box, (long, short) = trading_box(count=2, box=box)
    clear(box, [make_trade(1, long, short, 10_000 * USD, quantity=8)])
    event = process_funding(box.state, at_hour(box, 1))[0]
    assert event.get("rate") == RATE_SCALE // 10_000 // 8  # 0.125 bp
    # 8 BTC * $10,000 * 0.00125% = $1, from the long to the short
    assert cash(box, short) - cash(box, long) == 2 * USD
