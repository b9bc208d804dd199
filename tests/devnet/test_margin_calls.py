"""The devnet's called longs, through real blocks on the devnet's risk section: the
crash leaves each sized long between maintenance and initial margin even after the
price path moved the mark before it; the reduce the devnet posts meets the call; a
call left alone expires at its deadline and the account is liquidated."""

from __future__ import annotations

import pytest

from bridge.devchain import DevnetChain
from clearing.risk.params import parse_risk_params
from clearing.state import SubAccount
from clearing.transition.block import BlockResult
from clearing.transition.trade import Trade, sign_trade_batch
from clearnode.client.sandbox_keys import derive_ed25519_key
from devnet.genesis import (
    EPOCH_BLOCKS,
    RISK,
    TOKENS,
    VENUE_ID,
    build_genesis_template,
)
from devnet.margin_calls import (
    get_called_long_lots,
    get_crash_margin,
    get_crashed_price,
    get_meeting_lots,
)
from devnet.market import CALLED_EQUITY, CALLED_SUB_ACCOUNT, ETH_PERP, make_members
from devnet.sandbox import Sandbox
from devnet.sections import CRASH_BPS
from lightclient.anchor import COMETBFT

SUB = CALLED_SUB_ACCOUNT
DEADLINE = RISK["margin_call"]["deadline_blocks"]
LONG, MAKER = make_members(8)[6], make_members(8)[2]
VENUE_KEY = derive_ed25519_key(f"venue-{VENUE_ID}")
CHAIN = DevnetChain(
    31337, "", bytes(20), {s: bytes([n + 1]) * 20 for n, (s, _) in enumerate(TOKENS)}
)


class Market:
    def __init__(self) -> None:
        self.box = Sandbox.from_genesis_doc(build_genesis_template([CHAIN], 1000))
        usdc = self.box.genesis.collateral[0].key
        self.batches = 0
        self.apply(
            self.box.credit(LONG.address, usdc, CALLED_EQUITY, SUB),
            self.box.credit(MAKER.address, usdc, 10**12),
            self.box.authorise(LONG.key, VENUE_ID),
            self.box.authorise(MAKER.key, VENUE_ID),
        )

    def apply(self, *txs: object) -> BlockResult:
        block = self.box.apply(list(txs))  # type: ignore[arg-type]
        assert all(r.is_ok() for r in block.tx_results), block.tx_results
        rejected = [e for e in block.events if e.kind == "trade_rejected"]
        assert rejected == [], rejected
        return block

    def trade(self, lots: int, buyer: bytes, seller: bytes) -> BlockResult:
        self.batches += 1
        mark = self.box.state.mark_prices[ETH_PERP]
        price = mark // 100 * 100
        sub_of = {LONG.address: SUB, MAKER.address: 0}
        trade = Trade(self.batches, ETH_PERP, buyer, sub_of[buyer], seller, sub_of[seller],
                      price, lots)  # fmt: skip
        batch = sign_trade_batch(
            VENUE_KEY, self.box.chain_id, VENUE_ID, self.batches, (trade,), *self.box.get_times()
        )
        return self.apply(batch)

    def move(self, mark: int) -> BlockResult:
        index = {k: v for k, v in self.box.state.index_prices.items() if k.startswith("ETH")}
        index = {k: v * mark // self.box.state.mark_prices[ETH_PERP] for k, v in index.items()}
        return self.apply(self.box.prices(index, {ETH_PERP: mark}))

    @property
    def account(self) -> SubAccount:
        return self.box.state.members[LONG.address].sub_accounts[SUB]


def kinds(block: BlockResult) -> list[str]:
    return [e.kind for e in block.events]


def open_called_long(drift_bps: int) -> tuple[Market, int]:
    """Size at the mark, let the path move it by `drift_bps`, then crash."""
    market = Market()
    lots = get_called_long_lots(market.box.state, market.account, ETH_PERP)
    market.trade(lots, LONG.address, MAKER.address)
    projected = get_crash_margin(market.box.state, market.account, ETH_PERP)
    assert projected.is_called(), projected
    mark = market.box.state.mark_prices[ETH_PERP]
    market.move(mark * (10_000 + drift_bps) // 10_000)
    return market, lots


@pytest.mark.parametrize("drift_bps", [-100, 0, 100])
def test_the_crash_calls_the_sized_long_and_a_reduce_meets_the_call(drift_bps: int) -> None:
    market, lots = open_called_long(drift_bps)
    assert 250 < lots < 350  # about 9,200 USD of ETH-PERP for 3,000 USD of equity
    crash = market.move(get_crashed_price(market.box.state.mark_prices[ETH_PERP]))
    assert "margin_call" in kinds(crash) and "liquidated" not in kinds(crash)
    call = market.account.margin_call
    assert call is not None and call.deadline_height == crash.height + DEADLINE
    (opened,) = [e for e in crash.events if e.kind == "margin_call"]
    sell = get_meeting_lots(lots, call.amount_due, int(opened.get("initial_margin")))
    assert 0 < sell < lots
    met = market.trade(sell, MAKER.address, LONG.address)
    assert "margin_call_met" in kinds(met) and market.account.margin_call is None
    assert market.account.positions[ETH_PERP].quantity == lots - sell


@pytest.mark.parametrize("drift_bps", [-100, 100])
def test_a_call_left_alone_expires_and_the_account_is_liquidated(drift_bps: int) -> None:
    market, lots = open_called_long(drift_bps)
    crash = market.move(get_crashed_price(market.box.state.mark_prices[ETH_PERP]))
    assert "margin_call" in kinds(crash)
    for _ in range(DEADLINE - 1):
        assert not {"liquidated", "margin_call_expired"} & set(kinds(market.apply()))
    block = market.apply()
    assert block.height == crash.height + DEADLINE
    assert kinds(block).index("margin_call_expired") < kinds(block).index("liquidated")
    assert "margin_call_closed" in kinds(block)
    assert 0 <= market.account.positions[ETH_PERP].quantity < lots


def test_without_the_crash_margin_the_sizing_would_not_hold() -> None:
    """The band is real: twice the lots would leave the long below maintenance."""
    market = Market()
    lots = get_called_long_lots(market.box.state, market.account, ETH_PERP)
    doubled = get_crash_margin(market.box.state, market.account, ETH_PERP, 2 * lots)
    assert not doubled.is_called() and doubled.equity < doubled.maintenance_margin
    assert CRASH_BPS == 3000


def test_a_cometbft_devnet_counts_its_windows_in_the_same_blocks_as_ours() -> None:
    """Both engines propose as soon as a transaction waits and otherwise after a second:
    a CometBFT devnet's genesis is ours but for its engine, its auction rounds,
    margin-call deadlines and epochs as many blocks."""
    ours = build_genesis_template([CHAIN], EPOCH_BLOCKS)
    theirs = build_genesis_template([CHAIN], EPOCH_BLOCKS, COMETBFT)
    assert "engine" not in ours and theirs == {**ours, "engine": COMETBFT}
    genesis = Sandbox.from_genesis_doc(theirs).state.genesis
    assert genesis.engine == COMETBFT and genesis.epoch_length_blocks == EPOCH_BLOCKS
    params = parse_risk_params(genesis.risk)
    assert params.auction.window_blocks == RISK["auction"]["window_blocks"]
    assert params.margin_call.deadline_blocks == DEADLINE
