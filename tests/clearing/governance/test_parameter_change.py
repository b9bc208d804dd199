"""Changes of one parameter (clearing/governance/parameter_change.py): fees, the fee
split, funding terms, the default fund's sizing and a collateral haircut take effect at
their height, are refused as the genesis refuses them, and restore from a snapshot."""

from __future__ import annotations

from clearing.governance_changes import (
    Change,
    SetCollateralHaircut,
    SetDefaultFund,
    SetFee,
    SetFeeSplit,
    SetFunding,
)
from clearing.governance_proposal import ProposalStatus
from clearing.risk.engine import get_member_risk, get_risk_setup
from clearing.transition.root import compute_state_root_from_scratch
from clearing.transition.snapshot import decode_snapshot, encode_snapshot
from clearnode.client.sandbox_keys import MemberKey, derive_member_key
from devnet.sandbox import Sandbox
from tests.clearing.governance.support import (
    assert_refused,
    ballots,
    gov_sandbox,
    propose,
    run_until,
    submit,
)
from tests.clearing.support import USDC, WETH, genesis_doc
from tests.clearing.test_trade import MARK, PERP, make_batch, make_trade, trading_box

NOTIONAL = MARK * 10  # a 10-lot trade at the mark


def execute(box: Sandbox, *changes: Change) -> None:
    """Propose, vote and run ``changes`` to the block before their execution height."""
    proposal = submit(box, propose(box, changes))
    box.apply(ballots(box, proposal, range(3)))
    run_until(box, proposal.execute_height - 1)
    assert proposal.status is ProposalStatus.PASSED


def trade_fees(box: Sandbox, alice: MemberKey, bob: MemberKey, trade_id: int) -> tuple[int, int]:
    """What one 10-lot BTC-PERP trade adds to the fee pool and the insurance fund."""
    pool, insurance = box.state.fee_pool, box.state.insurance_fund
    box.apply([make_batch(box, [make_trade(trade_id, alice, bob, quantity=10)], trade_id)])
    return box.state.fee_pool - pool, box.state.insurance_fund - insurance


def test_a_fee_and_the_fee_split_change_at_their_height() -> None:
    box, (alice, bob, *_) = trading_box(box=gov_sandbox())
    execute(box, SetFee(PERP, 10), SetFeeSplit(2_500))
    # in the execution block the genesis terms still hold: 5 bps from each side, 80% of
    # the fees to the insurance fund; from the next block 10 bps, 25%
    fees = 2 * NOTIONAL * 5 // 10_000
    assert trade_fees(box, alice, bob, 1) == (fees // 5, fees * 4 // 5)
    fees = 2 * NOTIONAL * 10 // 10_000
    assert trade_fees(box, alice, bob, 2) == (fees * 3 // 4, fees // 4)
    assert box.state.instruments[PERP].fee_bps == 10
    assert box.state.genesis.fee_to_insurance_bps == 2_500
    restored = decode_snapshot(box.genesis, encode_snapshot(box.state))
    assert restored.genesis == box.state.genesis and restored.instruments == box.state.instruments
    assert compute_state_root_from_scratch(restored) == compute_state_root_from_scratch(box.state)


def test_funding_terms_change_and_the_next_accrual_uses_them() -> None:
    box = gov_sandbox()
    execute(box, SetFunding(PERP, 1_800_000, -200))
    box.apply([])
    perp = box.state.instruments[PERP]
    assert (perp.funding_interval_ms, perp.funding_interest_ppm) == (1_800_000, -200)
    assert [i.id for i in box.state.genesis.instruments] == [
        i.id for i in box.genesis.instruments
    ]  # replaced in place: the risk arrays keep their rows
    box.block_interval_ms = 1_800_000
    block = box.apply([])
    (funding,) = [
        e for e in block.get_events() if e.kind == "funding" and e.get("instrument") == PERP
    ]
    # mark at the index: the rate is the interest, -2 bp per 8 hours, over one half hour
    assert (funding.get("intervals"), funding.get("rate")) == (1, -200_000 // 16)


def test_the_default_fund_sizing_changes_in_the_risk_section() -> None:
    box = gov_sandbox()
    execute(box, SetDefaultFund(3, 2, 5_000))
    box.apply([])
    setup = get_risk_setup(box.state)
    assert setup is not None
    fund = setup.params.default_fund
    assert (fund.cover, fund.stress_multiple, fund.assessment_cap_bps) == (3, 2, 5_000)
    rest = {k: v for k, v in box.state.genesis.risk.items() if k != "default_fund"}
    assert rest == {k: v for k, v in box.genesis.risk.items() if k != "default_fund"}


def test_parameter_changes_are_refused_as_the_genesis_refuses_them() -> None:
    box = gov_sandbox()
    for change, code in (
        (SetFee(PERP, 10_001), "InvalidInstrument"),
        (SetFee("NOPE", 1), "UnknownInstrument"),
        (SetFeeSplit(10_001), "InvalidParameter"),
        (SetFunding(PERP, 0, 100), "InvalidInstrument"),
        (SetFunding(PERP, 3_600_000, 1_000_001), "InvalidInstrument"),
        (SetFunding("BTC-26DEC26", 3_600_000, 100), "ChangeNotAllowed"),
        (SetDefaultFund(0, 2, 0), "InvalidRiskParams"),
        (SetDefaultFund(2, 2, 100_001), "InvalidRiskParams"),
    ):
        assert_refused(box, propose(box, (change,)), code)
    doc = genesis_doc()
    doc["risk"] = {}
    doc["governance"] = {"min_delay_blocks": 5, "max_voting_blocks": 50}
    off = Sandbox.from_genesis_doc(doc)
    assert_refused(off, propose(off, (SetDefaultFund(2, 2, 0),)), "InvalidRiskParams")
    off.block_interval_ms = 1798185600000 - off.state.time_ms  # BTC-26DEC26 expires
    off.apply([])
    off.block_interval_ms = 1_000  # a second later, not a retention later: still listed
    assert_refused(off, propose(off, (SetFee("BTC-26DEC26", 1),)), "ChangeNotAllowed")


def test_a_collateral_haircut_changes_what_collateral_counts_for_at_its_height() -> None:
    box = gov_sandbox()
    alice = derive_member_key("haircut-alice")
    box.apply([box.credit(alice.address, WETH, 1_000)])
    token = box.state.collateral_tokens[WETH]
    assert token.haircut_bps == 1_000

    def equity() -> int:
        risk = get_member_risk(box.state, alice.address, 0, with_prices=False)
        assert risk is not None
        return risk.equity

    before = equity()
    execute(box, SetCollateralHaircut(*WETH, 2_000))
    assert equity() == before  # the execution block still counts the genesis haircut
    box.apply([])
    # 10% more of the index price is cut: 80/90 of what it counted for, floored per quantum
    price = box.state.index_prices[token.price_feed]
    assert equity() == 1_000 * (price * 8_000 // 10_000) < before
    assert box.state.collateral_tokens[WETH].haircut_bps == 2_000
    assert [t.haircut_bps for t in box.state.genesis.collateral if t.key == WETH] == [2_000]
    restored = decode_snapshot(box.genesis, encode_snapshot(box.state))
    assert restored.collateral_tokens == box.state.collateral_tokens
    assert restored.genesis == box.state.genesis
    assert compute_state_root_from_scratch(restored) == compute_state_root_from_scratch(box.state)


def test_a_haircut_is_refused_as_the_genesis_refuses_it() -> None:
    box = gov_sandbox()
    for change, code in (
        (SetCollateralHaircut(*WETH, 10_000), "InvalidParameter"),
        (SetCollateralHaircut(*USDC, 100), "InvalidParameter"),  # a settlement token
        (SetCollateralHaircut(31337, bytes(20), 100), "UnknownCollateral"),
    ):
        assert_refused(box, propose(box, (change,)), code)
    root = compute_state_root_from_scratch(box.state)
    assert box.state.collateral_tokens[WETH].haircut_bps == 1_000
    assert compute_state_root_from_scratch(box.state) == root
