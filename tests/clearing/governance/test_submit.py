"""Refusals of ``GovProposal`` (clearing/governance/submit.py and the changes it carries):
each a typed error, the state untouched."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from clearing.genesis import Venue
from clearing.governance.submit import (
    MAX_CHANGES,
    MAX_OPEN_PROPOSALS,
    GovProposal,
    sign_proposal,
)
from clearing.governance.vote import GovVote
from clearing.governance_changes import (
    AddVenue,
    Change,
    RemoveVenue,
    ReplaceRiskParams,
    SetInstrumentStatus,
    decode_change,
    make_listing,
    make_risk_change,
)
from clearing.instruments import InstrumentStatus
from clearing.transition.tx import decode_tx, encode_tx
from clearnode.client.sandbox_keys import derive_ed25519_key
from records.codec import DecodeError, pack
from tests.clearing.governance.support import (
    MAX_VOTING,
    MIN_DELAY,
    assert_refused,
    future_doc,
    gov_sandbox,
    next_future_listing,
    propose,
    submit,
)
from tests.clearing.support import genesis_doc, only_result

HALT = SetInstrumentStatus("BTC-PERP", InstrumentStatus.HALTED)


def test_a_proposal_round_trips_and_is_recorded() -> None:
    box = gov_sandbox()
    tx = propose(box, (HALT, SetInstrumentStatus("ETH-PERP", InstrumentStatus.REDUCE_ONLY)))
    assert decode_tx(encode_tx(tx)) == tx
    tx = propose(box, (next_future_listing(),))
    proposal = submit(box, tx)
    assert (proposal.id, proposal.submitted_height) == (1, box.state.height)
    assert proposal.execute_height == proposal.deadline_height + MIN_DELAY


def test_only_a_validator_proposes() -> None:
    box = gov_sandbox()
    stranger = derive_ed25519_key("stranger")
    tx = sign_proposal(stranger, box.chain_id, (HALT,), box.state.height + 2)
    assert_refused(box, tx, "NotAValidator")


def test_a_proposal_signed_for_other_changes_or_chain_is_refused() -> None:
    box = gov_sandbox()
    tx = propose(box, (HALT,))
    assert_refused(box, replace(tx, deadline_height=tx.deadline_height + 1), "BadSignature")
    other_chain = sign_proposal(
        box.validator_keys[0], box.chain_id + 1, (HALT,), tx.deadline_height
    )
    assert_refused(box, other_chain, "BadSignature")


def test_the_same_signed_proposal_is_recorded_once() -> None:
    box = gov_sandbox()
    tx = propose(box, (HALT,), voting_blocks=5)
    submit(box, tx)
    assert "proposal_id=1" in assert_refused(box, tx, "DuplicateProposal")


@pytest.mark.parametrize("count", [0, MAX_CHANGES + 1])
def test_a_proposal_carries_one_to_sixteen_changes(count: int) -> None:
    box = gov_sandbox()
    changes = tuple(SetInstrumentStatus("BTC-PERP", InstrumentStatus.HALTED) for _ in range(count))
    tx = sign_proposal(box.validator_keys[0], box.chain_id, changes, box.state.height + 2)
    assert_refused(box, tx, "ChangeCount")


def test_emergency_and_delayed_changes_are_not_mixed() -> None:
    box = gov_sandbox()
    tx = propose(box, (HALT, next_future_listing()))
    assert "emergency_changes=1, delayed_changes=1" in assert_refused(box, tx, "MixedUrgency")


def test_the_vote_closes_within_the_longest_voting_period() -> None:
    box = gov_sandbox()
    assert_refused(
        box, propose(box, (HALT,), voting_blocks=MAX_VOTING + 1), "VotingDeadlineOutOfRange"
    )
    past = sign_proposal(box.validator_keys[0], box.chain_id, (HALT,), box.state.height)
    assert_refused(box, past, "VotingDeadlineOutOfRange")


def test_a_delayed_change_waits_the_minimum_delay_after_its_vote() -> None:
    box = gov_sandbox()
    tx = propose(box, (next_future_listing(),), delay=MIN_DELAY - 1)
    earliest = tx.deadline_height + MIN_DELAY
    detail = assert_refused(box, tx, "DelayTooShort")
    assert f"earliest={earliest}" in detail
    submit(box, propose(box, (next_future_listing(),), delay=MIN_DELAY))


def test_an_emergency_change_names_no_height() -> None:
    box = gov_sandbox()
    deadline = box.state.height + 3
    tx = sign_proposal(box.validator_keys[0], box.chain_id, (HALT,), deadline, deadline + 10)
    assert_refused(box, tx, "EmergencyHeightGiven")


def _listing(**fields: Any) -> Change:
    doc = future_doc()
    doc.update(fields)
    return make_listing({k: v for k, v in doc.items() if v is not None}, 60_000_000)


@pytest.mark.parametrize(
    ("change", "code"),
    [
        (_listing(id="BTC-26DEC26"), "InstrumentListed"),
        (_listing(index_feed="SOL/1"), "FeedNotPriced"),
        (_listing(tick_size=0), "InvalidInstrument"),
        (_listing(strike=1), "InvalidInstrument"),
        (_listing(expiry_ms=1_000), "ExpiryPassed"),
        (_listing(underlying="SOL"), "RiskNotCovering"),
        (
            _listing(id="X-C", kind="option", underlying="BTC-PERP", strike=1, option_type="call"),
            "UnderlyingNotFuture",
        ),
        (SetInstrumentStatus("NOPE", InstrumentStatus.HALTED), "UnknownInstrument"),
        (SetInstrumentStatus("BTC-PERP", InstrumentStatus.ACTIVE), "ChangeNotAllowed"),
        (make_risk_change({**genesis_doc()["risk"], "k_num": 3}), "InvalidRiskParams"),
        (make_risk_change({}), "InvalidRiskParams"),
        (ReplaceRiskParams('{"k_num": NaN}'), "InvalidRiskParams"),
        (ReplaceRiskParams('["not an object"]'), "DecodeError"),
        (ReplaceRiskParams('{"_doc": ' + "[" * 16 + "]" * 16 + "}"), "DecodeError"),
        (ReplaceRiskParams('{"_doc": "' + "x" * 256 * 1024 + '"}'), "DecodeError"),
        (AddVenue(Venue("alpha", bytes(32))), "VenueListed"),
        (RemoveVenue("beta"), "UnknownVenue"),
    ],
)
def test_a_change_invalid_against_the_state_is_refused(change: Change, code: str) -> None:
    box = gov_sandbox()
    assert_refused(box, propose(box, (change,)), code)


KEY, ADDRESS = bytes(32), bytes(20)


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        (["add_venue", "", KEY], "venue.id"),
        (["add_venue", "v" * 65, KEY], "venue.id"),
        (["add_venue", "v", bytes(31)], "venue.pubkey"),
        (["add_external_bridge", "gw", KEY, [31338, 31337]], "bridge.chains"),
        (["add_external_bridge", "gw", KEY, [1, 1]], "bridge.chains"),
        (["add_external_bridge", "gw", KEY, []], "bridge.chains"),
        (["add_external_bridge", "gw", KEY, [0]], "bridge.chains"),
        (["add_external_bridge", "gw", KEY, [2**64]], "bridge.chains"),
        (["add_external_bridge", "gw", KEY, ["1"]], "bridge.chains"),
        (["add_validator", "n" * 257, KEY, 1, ADDRESS, ""], "validator.name"),
        (["add_validator", "n", KEY, -1, ADDRESS, ""], "validator.power"),
        (["add_validator", "n", KEY, 1, bytes(19), ""], "validator.evm_address"),
        (["add_validator", "n", KEY, 1, ADDRESS, "p" * 257], "validator.peer_id"),
        (["add_validator", "n", KEY, 1, ADDRESS], "AddValidator"),
    ],
)
def test_a_genesis_record_a_change_carries_is_refused_by_its_field(
    fields: list[object], field: str
) -> None:
    """A venue, an external bridge and a validator are checked as their records
    (clearing/genesis.py) where the change holds them: chains strictly ascending."""
    with pytest.raises(DecodeError) as refused:
        decode_change(fields)
    assert refused.value.what == field


def test_a_risk_section_must_cover_every_listed_underlying() -> None:
    box = gov_sandbox()
    risk = genesis_doc()["risk"]
    del risk["underlyings"]["ETH"]
    risk["stress_days"] = [{"label": "x", "moves_bps": {"BTC": -3000}}]
    detail = assert_refused(box, propose(box, (make_risk_change(risk),)), "RiskNotCovering")
    assert "underlying='ETH'" in detail


def test_changes_apply_in_order_within_a_proposal() -> None:
    """An option on the future the same proposal lists is valid."""
    box = gov_sandbox()
    option = _listing(
        id="BTC-26MAR27-70000-C", kind="option", underlying="BTC-26MAR27", strike=70_000_000,
        option_type="call",
    )  # fmt: skip
    submit(box, propose(box, (next_future_listing(), option)))
    box = gov_sandbox()
    assert_refused(box, propose(box, (option, next_future_listing())), "UnderlyingNotFuture")


def test_open_proposals_are_bounded() -> None:
    box = gov_sandbox()
    txs = [
        propose(box, (HALT,), voting_blocks=10 + n // 4, proposer=n % 4)
        for n in range(MAX_OPEN_PROPOSALS)
    ]
    assert all(r.is_ok() for r in box.apply(txs).tx_results)
    detail = assert_refused(box, propose(box, (HALT,), voting_blocks=3), "TooManyOpenProposals")
    assert f"limit={MAX_OPEN_PROPOSALS}" in detail


def test_a_malformed_change_or_ballot_does_not_decode() -> None:
    box = gov_sandbox()
    tx = propose(box, (HALT,))
    fields = [*tx.to_fields()]
    for change in (["retire_everything"], ["set_instrument_status", "BTC-PERP", "paused"], []):
        fields[1] = [change]
        raw = pack([1, GovProposal.KIND, *fields])
        assert only_result(box.apply([raw]))[0] == "DecodeError"
    vote = pack([1, GovVote.KIND, bytes(32), 1, "maybe", 0, bytes(64)])
    assert only_result(box.apply([vote]))[0] == "DecodeError"
