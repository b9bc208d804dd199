"""Listed instruments of every kind take part in the ledger's steps from their height
(clearing/governance/listing.py)."""

from __future__ import annotations

from clearing.governance_changes import make_listing
from clearing.governance_proposal import ProposalStatus
from clearing.risk.engine import get_member_risk
from clearing.transition.root import compute_state_root_from_scratch
from tests.clearing.governance.support import (
    NEXT_FUTURE,
    ballots,
    gov_sandbox,
    next_future_listing,
    propose,
    run_until,
    submit,
)
from tests.clearing.test_trade import make_batch, make_trade, trading_box

OPTION = "BTC-26MAR27-70000-C"
PERP = "SOL-PERP"


def test_an_option_on_a_listed_future_and_a_perpetual_are_margined_and_funded() -> None:
    box, (alice, bob, *_) = trading_box(box=gov_sandbox())
    option = make_listing(
        {
            "id": OPTION, "kind": "option", "underlying": NEXT_FUTURE, "index_feed": "BTC/0.001",
            "contract_size": "0.001", "tick_size": 10, "price_band_bps": 5000, "fee_bps": 3,
            "settlement": "cash", "expiry_ms": 1805961600000, "strike": 70_000_000,
            "option_type": "call",
        },
        1_200_000,
    )  # fmt: skip
    perp = make_listing(
        {
            "id": PERP, "kind": "perpetual", "underlying": "BTC", "index_feed": "BTC/0.001",
            "contract_size": "0.001", "tick_size": 100, "price_band_bps": 500, "fee_bps": 5,
            "settlement": "cash", "funding_interval_ms": 3_600_000,
        },
        60_000_000,
    )  # fmt: skip
    proposal = submit(box, propose(box, (next_future_listing(), option, perp)))
    box.apply(ballots(box, proposal, range(3)))
    run_until(box, proposal.execute_height)
    assert proposal.status is ProposalStatus.EXECUTED
    assert box.state.funding_indices[PERP] == 0
    assert box.state.last_funding_ms[PERP] == box.state.time_ms
    block = box.apply(
        [
            make_batch(
                box,
                [
                    make_trade(1, alice, bob, 1_200_000, 4, OPTION),
                    make_trade(2, bob, alice, 60_000_000, 2, PERP),
                ],
            )
        ]
    )
    assert not [e for e in block.get_events() if e.kind == "trade_rejected"]
    risk = get_member_risk(box.state, bob.address, 0, with_prices=False)
    assert risk is not None and risk.initial_margin > 0
    assert block.state_root == compute_state_root_from_scratch(box.state)
    box.block_interval_ms = 3_600_000  # the perpetual's first funding interval
    box.apply([])
    assert box.state.funding_indices[PERP] != 0
