"""The end-of-block prune of settled instruments (clearing/governance/pruning.py): what
removes one from the configuration in force, what keeps it, and what the configuration
of a template rolling for ever weighs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from clearing.governance.configuration import apply_configuration, encode_configuration
from clearing.governance_changes import Change, SetFee, make_listing
from clearing.governance_proposal import ProposalStatus
from clearing.risk.engine import compute_market_solvency_form, get_solvency_market
from clearing.state import Auction, ClearingState, Position, get_sub_account_for_write
from clearing.transition.block import BlockResult
from clearing.transition.root import compute_state_root, compute_state_root_from_scratch
from clearing.transition.snapshot import decode_snapshot, encode_snapshot
from devnet.sandbox import Sandbox
from tests.clearing.governance.support import (
    NEXT_FUTURE_MARK,
    ballots,
    future_doc,
    gov_sandbox,
    propose,
    run_until,
    submit,
)
from tests.clearing.governance.test_roll import ROLLING_FIRST, listed, rolling_doc
from tests.clearing.support import genesis_doc
from tests.clearing.test_listing_template import GENESIS_MS, quarterly_doc
from tests.clearing.test_trade import make_batch, make_trade, trading_box

HOLDER = bytes([7]) * 20
RETENTION_MS = 25_000
FIRST_EXPIRY_MS = GENESIS_MS + 10_000  # ROLLING_FIRST's
SECOND = "BTC-R-21NOV26-000020"
DEC_FUTURE, DEC_CALL = "BTC-26DEC26", "BTC-26DEC26-65000-C"  # the example genesis's


def pruning_box(doc: dict[str, Any] | None = None, retention_ms: int = RETENTION_MS) -> Sandbox:
    """By default a template rolling a 10 s series (the first listed at genesis); one
    block a second."""
    doc = rolling_doc() if doc is None else doc
    doc["settled_instrument_retention_ms"] = retention_ms
    return gov_sandbox(doc)


def run_to(box: Sandbox, time_ms: int) -> list[BlockResult]:
    """Empty blocks until the block time reaches ``time_ms``."""
    blocks = []
    while box.state.time_ms < time_ms:
        blocks.append(box.apply([]))
    return blocks


def pruned(blocks: list[BlockResult]) -> list[object]:
    return [e.get("instrument") for b in blocks for e in b.events if e.kind == "instrument_pruned"]


def is_in_force(state: ClearingState, instrument_id: str) -> bool:
    return instrument_id in state.instruments


def test_a_settled_series_leaves_the_configuration_with_its_records_after_its_retention() -> None:
    box, (alice, bob, *_) = trading_box(box=pruning_box())
    box.apply([make_batch(box, [make_trade(1, alice, bob, 60_000_000, 3, ROLLING_FIRST)])])
    assert pruned(run_to(box, FIRST_EXPIRY_MS + RETENTION_MS - 1_000)) == []
    final = box.state.final_settlement_prices[ROLLING_FIRST]
    assert is_in_force(box.state, ROLLING_FIRST) and box.state.time_ms > FIRST_EXPIRY_MS
    block = box.apply([])
    (event,) = [e for e in block.events if e.kind == "instrument_pruned"]
    assert dict(event.data) == {"instrument": ROLLING_FIRST, "expiry_ms": FIRST_EXPIRY_MS,
                                "final_price": final}  # fmt: skip
    state = box.state
    assert ROLLING_FIRST not in [i.id for i in state.genesis.instruments]
    assert not is_in_force(state, ROLLING_FIRST)
    data = encode_snapshot(state)
    # no record of the state names it any more (marks, open interest, final price, ...)
    assert ROLLING_FIRST.encode() not in data
    assert ROLLING_FIRST.encode() not in encode_configuration(state.genesis)
    assert block.state_root == compute_state_root_from_scratch(state)
    assert compute_state_root(decode_snapshot(box.genesis, data)) == block.state_root
    # the next series follows one period later
    assert pruned(run_to(box, FIRST_EXPIRY_MS + 10_000 + RETENTION_MS)) == [SECOND]


def test_with_no_retention_an_instrument_is_pruned_the_block_after_it_settles() -> None:
    box = pruning_box(retention_ms=0)
    blocks = run_to(box, FIRST_EXPIRY_MS)
    assert ROLLING_FIRST in box.state.final_settlement_prices and pruned(blocks) == []
    assert pruned([box.apply([])]) == [ROLLING_FIRST]


def hold_a_position(state: ClearingState) -> Callable[[], None]:
    """A sub-account (with the cash to margin it) holding a lot of the settled series."""
    account = get_sub_account_for_write(state, HOLDER, 0)
    mark = state.mark_prices[ROLLING_FIRST]
    account.cash, account.positions[ROLLING_FIRST] = 10**12, Position(1, mark, mark)
    return lambda: get_sub_account_for_write(state, HOLDER, 0).positions.clear()


def hold_open_interest(state: ClearingState) -> Callable[[], None]:
    state.open_interest[ROLLING_FIRST] = 1
    return lambda: state.open_interest.update({ROLLING_FIRST: 0})


def name_in_an_auction(state: ClearingState) -> Callable[[], None]:
    state.auctions[99] = Auction(99, ((ROLLING_FIRST, 1),), 1, state.height, state.height + 10**6)
    return lambda: state.auctions.clear()


@pytest.mark.parametrize("hold", [hold_a_position, hold_open_interest, name_in_an_auction])
def test_a_position_open_interest_or_an_auction_keeps_a_settled_instrument(
    hold: Callable[[ClearingState], Callable[[], None]],
) -> None:
    box = pruning_box()
    run_to(box, FIRST_EXPIRY_MS + RETENTION_MS - 2_000)
    release = hold(box.state)
    assert pruned(run_to(box, FIRST_EXPIRY_MS + RETENTION_MS + 3_000)) == []
    assert is_in_force(box.state, ROLLING_FIRST)
    release()
    assert pruned([box.apply([])]) == [ROLLING_FIRST]


def option_doc(underlying: str, expiry_ms: int) -> dict[str, Any]:
    return {
        "id": f"{underlying}-60000-C", "kind": "option", "underlying": underlying,
        "index_feed": "BTC/0.001", "contract_size": "0.001", "tick_size": 10,
        "price_band_bps": 5000, "fee_bps": 3, "settlement": "cash", "expiry_ms": expiry_ms,
        "strike": 60_000_000, "option_type": "call",
    }  # fmt: skip


@pytest.mark.parametrize(
    "change",
    [SetFee(ROLLING_FIRST, 7), make_listing(option_doc(ROLLING_FIRST, FIRST_EXPIRY_MS), 10)],
    ids=["fee", "option-on-it"],
)
def test_an_open_proposal_naming_a_settled_instrument_keeps_it_until_it_finishes(
    change: Change,
) -> None:
    box = pruning_box()
    proposal = submit(box, propose(box, (change,), voting_blocks=40))
    box.apply(ballots(box, proposal, range(3)))
    blocks = run_until(box, proposal.execute_height)
    assert box.state.time_ms > FIRST_EXPIRY_MS + RETENTION_MS + 5_000
    # the next series, named by nothing, went at its time; the one named waits
    assert pruned(blocks[:-1]) == [SECOND]
    assert proposal.status is ProposalStatus.FAILED  # it trades no more: refused as before
    assert pruned(blocks[-1:]) == [ROLLING_FIRST]


def test_a_future_stays_while_an_option_on_it_is_in_force() -> None:
    doc = genesis_doc()
    (entry,) = [i for i in doc["instruments"] if i["id"] == DEC_CALL]
    expiry = entry["expiry_ms"]
    entry["expiry_ms"] = expiry + 100_000  # the call expires after its future
    box = pruning_box(doc)
    box.block_interval_ms = expiry - GENESIS_MS
    box.apply([])
    box.block_interval_ms = 1_000
    assert DEC_FUTURE in box.state.final_settlement_prices
    assert pruned(run_to(box, expiry + RETENTION_MS + 5_000)) == []
    blocks = run_to(box, expiry + 100_000 + RETENTION_MS)
    assert pruned(blocks[:-1]) == [] and pruned(blocks[-1:]) == [DEC_FUTURE, DEC_CALL]


def test_the_last_instrument_on_a_price_feed_stays_until_another_uses_the_feed() -> None:
    doc = genesis_doc()
    doc["instruments"] = [i for i in doc["instruments"] if i["id"] != "ETH-PERP"]
    del doc["mark_prices"]["ETH-PERP"]
    for n, instrument_id in enumerate(("ETH-A", "ETH-B"), 1):
        doc["instruments"].append({**future_doc(instrument_id, GENESIS_MS + 10_000 * n),
                                   "underlying": "ETH", "index_feed": "ETH/0.01"})  # fmt: skip
        doc["mark_prices"][instrument_id] = doc["index_prices"]["ETH/0.01"]
    box = pruning_box(doc)
    assert pruned(run_to(box, GENESIS_MS + 20_000 + 3 * RETENTION_MS)) == ["ETH-A"]
    assert is_in_force(box.state, "ETH-B") and "ETH/0.01" in box.state.genesis.feeds()
    listing = make_listing({**future_doc("ETH-C", GENESIS_MS + 10**8), "underlying": "ETH",
                            "index_feed": "ETH/0.01"}, 30_000_000)  # fmt: skip
    proposal = submit(box, propose(box, (listing,)))
    box.apply(ballots(box, proposal, range(3)))
    blocks = run_until(box, proposal.execute_height)
    # the listing executes first at the end of its block: the feed is in use without ETH-B
    assert pruned(blocks[:-1]) == [] and pruned(blocks[-1:]) == ["ETH-B"]
    assert is_in_force(box.state, "ETH-C")


def test_a_settled_perpetual_stays() -> None:
    box = pruning_box()
    box.state.final_settlement_prices["BTC-PERP"] = box.state.mark_prices["BTC-PERP"]
    blocks = run_to(box, GENESIS_MS + 3 * RETENTION_MS)
    assert ROLLING_FIRST in pruned(blocks) and "BTC-PERP" not in pruned(blocks)
    assert is_in_force(box.state, "BTC-PERP")


def test_a_pruned_id_is_listed_again_by_a_vote_as_a_new_contract() -> None:
    box, (alice, bob, *_) = trading_box(box=pruning_box())
    box.apply([make_batch(box, [make_trade(1, alice, bob, 60_000_000, 3, ROLLING_FIRST)])])
    assert pruned(run_to(box, FIRST_EXPIRY_MS + RETENTION_MS)) == [ROLLING_FIRST]
    expiry = GENESIS_MS + 10**8
    proposal = submit(box, propose(box, (make_listing(future_doc(ROLLING_FIRST, expiry),
                                                      NEXT_FUTURE_MARK),)))  # fmt: skip
    box.apply(ballots(box, proposal, range(3)))
    run_until(box, proposal.execute_height)
    assert proposal.status is ProposalStatus.EXECUTED
    state = box.state
    assert state.instruments[ROLLING_FIRST].expiry_ms == expiry
    assert state.mark_prices[ROLLING_FIRST] == NEXT_FUTURE_MARK
    assert state.open_interest[ROLLING_FIRST] == 0
    assert ROLLING_FIRST not in state.final_settlement_prices


def test_the_statement_is_recomputed_from_the_configuration_on_both_sides_of_a_prune() -> None:
    """As a verifier holding the genesis does (proofs/recompute.py): the market and the
    configuration leave the instrument together."""
    box = pruning_box()
    run_to(box, FIRST_EXPIRY_MS + RETENTION_MS - 2_000)
    for expected in ([], [ROLLING_FIRST]):
        assert pruned([box.apply([])]) == expected
        configuration = encode_configuration(box.state.genesis)
        configured = apply_configuration(box.genesis, configuration)
        form = compute_market_solvency_form(configured, get_solvency_market(box.state))
        assert form is not None
        assert (ROLLING_FIRST in form.instrument_ids) is not bool(expected)


def roll(retention_ms: int, periods: int) -> tuple[list[int], list[object]]:
    """The configuration's size after each 10 s period of a template listing two series
    with a ladder of five strikes, and the ids it listed (margining off: the risk arrays
    of thousands of instruments would take the time)."""
    doc = rolling_doc(series=2)
    doc["listing_templates"][0]["ladder"] = quarterly_doc()["ladder"]
    doc["risk"] = {}
    box = pruning_box(doc, retention_ms)
    box.block_interval_ms = 5_000
    sizes, ids = [], []
    for _ in range(periods):
        for _ in range(2):
            ids += [i for _, i, _ in listed(box.apply([]))]
        sizes.append(len(encode_configuration(box.state.genesis)))
    return sizes, ids


def test_a_template_rolling_for_ever_keeps_the_configuration_bounded() -> None:
    sizes, ids = roll(RETENTION_MS, 60)
    unpruned, _ = roll(10**12, 60)
    assert len(ids) == len(set(ids)) > 60 * 11  # each series and strike listed once
    assert max(sizes[10:]) <= max(sizes[:10])
    assert unpruned[:3] == sizes[:3] and unpruned[-1] > 8 * sizes[-1]
