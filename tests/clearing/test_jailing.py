"""Committed equivocation evidence jails the key (clearing/jailing.py); only governance
unjails it."""

from __future__ import annotations

from clearing.context import Equivocation
from clearing.governance_changes import SetValidatorPower, UnjailValidator
from clearing.governance_proposal import ProposalStatus
from clearing.state import Jailing
from clearing.transition.root import compute_state_root_from_scratch
from clearing.transition.snapshot import decode_snapshot, encode_snapshot
from clearing.validator_set import get_active_validators
from devnet.sandbox import Sandbox
from records.codec import MAX_EVIDENCE_AGE_BLOCKS
from tests.clearing.governance.support import (
    assert_refused,
    ballots,
    gov_sandbox,
    next_future_listing,
    propose,
    run_until,
    submit,
)
from tests.clearing.governance.test_properties import get_money
from tests.clearing.governance.validator_support import active, pubkey
from tests.clearing.test_trade import make_batch, make_trade, trading_box


def jail(box: Sandbox, n: int, evidence_height: int | None = None) -> list[str]:
    height = box.state.height if evidence_height is None else evidence_height
    block = box.apply([], (Equivocation(pubkey(box, n), height),))
    return [e.kind for e in block.get_events()]


def test_evidence_jails_the_key_keeps_its_record_and_moves_no_money() -> None:
    box, (alice, bob, *_) = trading_box(box=gov_sandbox())
    box.apply([make_batch(box, [make_trade(1, alice, bob, quantity=5)])])
    money, root = get_money(box), compute_state_root_from_scratch(box.state)
    assert jail(box, 2, evidence_height=3) == ["validator_jailed"]
    height = box.state.height
    record = box.state.validators[pubkey(box, 2)]
    assert (record.name, record.power) == ("validator-2", 0)
    assert box.state.jailed == {pubkey(box, 2): Jailing(3, height, 10)}
    assert box.state.total_power == 30
    assert active(box) == [("validator-0", 10), ("validator-1", 10), ("validator-3", 10)]
    assert box.state.validator_sets == {height: get_active_validators(box.state.validators)}
    assert get_money(box) == money
    assert compute_state_root_from_scratch(box.state) != root


def test_evidence_of_a_jailed_or_unknown_key_changes_nothing() -> None:
    box = gov_sandbox()
    jail(box, 1)
    jailed = (dict(box.state.validators), dict(box.state.jailed), dict(box.state.validator_sets))
    assert jail(box, 1) == []
    block = box.apply([], (Equivocation(b"\x09" * 32, 1),))
    assert block.get_events() == []
    assert (box.state.validators, box.state.jailed, box.state.validator_sets) == jailed


def test_the_last_validator_with_power_is_not_jailed() -> None:
    box = gov_sandbox()
    for n in range(3):
        jail(box, n)
    assert jail(box, 3) == ["validator_not_jailed"]
    assert active(box) == [("validator-3", 10)]


def test_a_jailed_ballot_counts_for_nothing_and_only_governance_unjails() -> None:
    box = gov_sandbox()
    proposal = submit(box, propose(box, (next_future_listing(),), voting_blocks=3))
    box.apply(ballots(box, proposal, range(3)))  # 30 of 40: passing
    jail(box, 0)  # 20 of 30 is not more than 2/3
    run_until(box, proposal.deadline_height)
    assert proposal.status is ProposalStatus.REJECTED
    evidence_height = box.state.jailed[pubkey(box, 0)].evidence_height
    assert_refused(box, propose(box, (SetValidatorPower(pubkey(box, 0), 5),)), "ValidatorJailed")
    assert_refused(box, propose(box, (UnjailValidator(pubkey(box, 0)),)), "EvidenceStillFresh")
    run_until(box, evidence_height + MAX_EVIDENCE_AGE_BLOCKS)
    unjail = submit(box, propose(box, (UnjailValidator(pubkey(box, 0)),)))
    box.apply(ballots(box, unjail, range(1, 4)))
    run_until(box, unjail.execute_height)
    assert unjail.status is ProposalStatus.EXECUTED
    assert box.state.jailed == {} and box.state.total_power == 40
    assert active(box)[0] == ("validator-0", 10)


def test_a_snapshot_restores_the_jailed_and_the_set_changes_to_the_same_roots() -> None:
    box = gov_sandbox()
    jail(box, 1)
    restored = Sandbox(box.genesis, decode_snapshot(box.genesis, encode_snapshot(box.state)), [])
    assert restored.state.validators == box.state.validators
    assert list(restored.state.validators) == list(box.state.validators)
    assert restored.state.jailed == box.state.jailed
    assert restored.state.validator_sets == box.state.validator_sets
    assert restored.state.total_power == 30
    for _ in range(2):
        assert restored.apply([]).state_root == box.apply([]).state_root
