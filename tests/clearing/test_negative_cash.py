"""Negative cash is paid: settlement tokens at par at once, other collateral sold beyond the
conversion threshold to the backstops and then the house (clearing/transition/negative_cash.py)."""

from __future__ import annotations

import pytest

from clearing.default.house import HOUSE, get_house_bound, get_house_equity
from clearing.errors import GenesisError
from clearing.genesis import parse_genesis
from clearing.state import get_collateral_value, get_sub_account_for_write
from devnet.sandbox import Sandbox
from tests.clearing.support import ALICE, BOB, USDC, USDC_B, WETH, genesis_doc

WETH_VALUE = 2_700  # haircut value per quantum at the example's ETH/quantum 3_000


def new_box(threshold: int = 0, backstop: bytes | None = None) -> Sandbox:
    doc = genesis_doc()
    doc["settlement_asset"]["conversion_threshold"] = threshold
    if backstop is not None:
        doc["risk"]["backstops"] = [{"member": "0x" + backstop.hex(), "sub_account": 0}]
    return Sandbox.from_genesis_doc(doc)


def account(box: Sandbox, member: bytes, sub: int = 0):  # type: ignore[no-untyped-def]
    return box.state.members[member].sub_accounts[sub]


def test_settlement_tokens_pay_negative_cash_at_par_and_back_cash_on_their_chain() -> None:
    box = new_box()
    box.apply([box.credit(ALICE.address, USDC, 700), box.credit(ALICE.address, USDC_B, 500)])
    get_sub_account_for_write(box.state, ALICE.address, 0).cash = -1_000
    events = box.apply([]).events
    alice = account(box, ALICE.address)
    assert alice.cash == 0
    assert alice.collateral == {USDC_B: 200}  # chain 31337's token first (key order)
    assert box.state.settlement_reserves == {31337: 700, 31338: 300}
    settled = [(e.get("chain_id"), e.get("quanta")) for e in events]
    assert settled == [(31337, 700), (31338, 300)]
    assert {e.kind for e in events} == {"negative_cash_settled"}


def test_other_collateral_is_sold_to_a_backstop_at_its_haircut_value_beyond_the_threshold() -> None:
    box = new_box(threshold=10_000, backstop=BOB.address)
    box.apply([box.credit(ALICE.address, WETH, 100)])
    get_sub_account_for_write(box.state, BOB.address, 0).cash = 1_000_000
    get_sub_account_for_write(box.state, ALICE.address, 0).cash = -10_000  # at the threshold
    assert box.apply([]).events == ()
    get_sub_account_for_write(box.state, ALICE.address, 0).cash = -10_001
    (sale,) = box.apply([]).events
    quanta = -(-10_001 // WETH_VALUE)  # rounded up: 4
    assert (sale.kind, sale.get("quanta"), sale.get("amount")) == (
        "collateral_sold",
        quanta,
        quanta * WETH_VALUE,
    )
    assert sale.get("counterparty") == BOB.address
    alice, bob = account(box, ALICE.address), account(box, BOB.address)
    assert (alice.cash, alice.collateral[WETH]) == (quanta * WETH_VALUE - 10_001, 100 - quanta)
    assert (bob.cash, bob.collateral[WETH]) == (1_000_000 - quanta * WETH_VALUE, quanta)


def test_the_house_buys_when_no_backstop_can_pay_and_sells_to_a_backstop_later() -> None:
    box = new_box(backstop=BOB.address)
    box.apply([box.credit(ALICE.address, WETH, 100), box.credit(HOUSE[0], USDC, 10**6)])
    get_sub_account_for_write(box.state, ALICE.address, 0).cash = -5_400  # 2 quanta
    fund = box.state.insurance_fund
    events = box.apply([]).events
    assert [(e.kind, e.get("counterparty")) for e in events] == [("collateral_sold", HOUSE[0])]
    assert box.state.insurance_fund == fund - 5_400
    assert account(box, *HOUSE).collateral == {WETH: 2}
    get_sub_account_for_write(box.state, BOB.address, 0).cash = 2_700  # can pay for one quantum
    (sale,) = box.apply([]).events
    assert (sale.get("member"), sale.get("counterparty"), sale.get("quanta")) == (
        HOUSE[0],
        BOB.address,
        1,
    )
    assert box.state.insurance_fund == fund - 2_700
    assert get_house_equity(box.state) == fund  # sales move value, never create it


def test_a_flat_account_whose_collateral_no_longer_covers_its_debt_runs_the_waterfall() -> None:
    box = new_box(threshold=10**12)  # no conversion: the debt stays backed by WETH
    box.apply([box.credit(ALICE.address, WETH, 100)])
    get_sub_account_for_write(box.state, ALICE.address, 0).cash = -200_000
    get_sub_account_for_write(box.state, BOB.address, 0).cash = 200_000  # won what Alice lost
    box.apply([])
    fund = box.state.insurance_fund
    kinds = []
    while box.state.index_prices["ETH/quantum"] > 1_000:  # clamped per block: several steps
        kinds += [e.kind for e in box.apply([box.prices({"ETH/quantum": 1_000}, {})]).events]
    alice = account(box, ALICE.address)
    assert alice.cash + get_collateral_value(box.state, alice) == 0  # not insolvent any more
    assert alice.collateral == {} and alice.cash == 0
    assert kinds.index("collateral_seized") < kinds.index("insurance_used")
    weth_now = box.state.index_prices["ETH/quantum"] * 9 // 10
    equity = fund - 200_000 + 100 * weth_now
    # the house paid the debt; with no buyer registered it holds the 100 WETH until the
    # close-out, where the member holding cash takes them at their haircut value
    assert account(box, *HOUSE).collateral == {WETH: 100}
    assert get_house_equity(box.state) == equity
    while box.state.height % get_house_bound(box.state):
        kinds = [e.kind for e in box.apply([]).events]
    assert kinds == ["collateral_allocated"]
    assert account(box, *HOUSE).collateral == {}
    assert account(box, BOB.address).collateral == {WETH: 100}
    assert account(box, BOB.address).cash == 200_000 - 100 * weth_now
    assert get_house_equity(box.state) == equity


def test_settlement_tokens_must_be_listed_par_collateral_one_per_chain() -> None:
    def with_tokens(tokens: list[dict[str, object]]) -> dict[str, object]:
        doc = genesis_doc()
        doc["settlement_asset"]["tokens"] = tokens
        return doc

    weth = {"chain_id": WETH[0], "token": "0x" + WETH[1].hex()}
    usdc = {"chain_id": USDC[0], "token": "0x" + USDC[1].hex()}
    unknown = {"chain_id": 1, "token": "0x" + "09" * 20}
    cases = [
        ([unknown], "settlement_asset.tokens[0]", "a listed collateral token"),
        ([usdc, usdc], "settlement_asset.tokens[1].chain_id", "one settlement token per chain"),
        ([weth], "settlement_asset.tokens[0]", "a token with haircut_bps 0"),
    ]
    for tokens, key, expected in cases:
        with pytest.raises(GenesisError) as error:
            parse_genesis(with_tokens(tokens))
        assert (error.value.key, error.value.expected) == (key, expected)


def test_a_deposit_to_the_clearing_house_account_funds_the_insurance_fund() -> None:
    box = new_box()
    fund = box.state.insurance_fund
    block = box.apply([box.credit(HOUSE[0], USDC_B, 7_000)])  # a vault deposit for 0x00..00
    assert box.state.insurance_fund == fund + 7_000
    assert box.state.settlement_reserves == {31338: 7_000}  # it backs cash on that chain
    assert account(box, *HOUSE).collateral == {}
    assert "house_settlement_tokens" in [e.kind for e in block.events]
