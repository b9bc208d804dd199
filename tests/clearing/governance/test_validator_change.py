"""Validator-set changes (clearing/governance/validator_change.py): delayed, checked as
the genesis checks validators, all-or-nothing with the proposal's other changes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import pytest

from clearing.governance_changes import (
    Change,
    RemoveValidator,
    RotateValidatorKeys,
    SetInstrumentStatus,
    SetValidatorPower,
    UnjailValidator,
    decode_change,
)
from clearing.governance_proposal import ProposalStatus
from clearing.instruments import InstrumentStatus
from clearing.validator_set import get_active_validators
from clearnode.client.sandbox_keys import derive_ed25519_key
from devnet.sandbox import Sandbox
from records.codec import pack, unpack
from tests.clearing.governance.support import (
    NEXT_FUTURE,
    assert_refused,
    ballots,
    gov_sandbox,
    next_future_listing,
    propose,
    run_until,
    submit,
)
from tests.clearing.governance.validator_support import active, add, new_validator, pubkey

GENESIS_SET = [(f"validator-{n}", 10) for n in range(4)]


def test_a_fifth_validator_joins_at_exactly_its_height_and_then_votes() -> None:
    box = gov_sandbox()
    proposal = submit(box, propose(box, (add(),)))
    box.apply(ballots(box, proposal, range(3)))
    run_until(box, proposal.execute_height - 1)
    assert active(box) == GENESIS_SET and box.state.total_power == 40
    assert box.state.validator_sets == {}
    block = box.apply([])
    assert proposal.status is ProposalStatus.EXECUTED
    assert active(box) == [*GENESIS_SET, ("validator-4", 10)]
    assert box.state.total_power == 50
    assert box.state.validator_sets == {
        proposal.execute_height: get_active_validators(box.state.validators)
    }
    assert [e.kind for e in block.get_events()] == ["gov_proposal_executed"]
    box.validator_keys.append(derive_ed25519_key("validator-4"))
    second = submit(box, propose(box, (SetValidatorPower(pubkey(box, 0), 20),), proposer=4))
    box.apply(ballots(box, second, [1, 2, 3, 4]))  # 40 of 50: a quorum without validator-0
    run_until(box, second.execute_height)
    assert active(box)[0] == ("validator-0", 20) and box.state.total_power == 60


def test_remove_and_add_in_one_proposal_and_a_removed_key_can_no_longer_vote() -> None:
    box = gov_sandbox()
    proposal = submit(box, propose(box, (RemoveValidator(pubkey(box, 3)), add())))
    box.apply(ballots(box, proposal, range(3)))
    run_until(box, proposal.execute_height)
    assert [name for name, _ in active(box)] == [
        *(f"validator-{n}" for n in range(3)),
        "validator-4",
    ]
    assert box.state.total_power == 40
    assert_refused(box, propose(box, (next_future_listing(),), proposer=3), "NotAValidator")


def test_a_rotated_consensus_key_votes_in_the_same_place_and_the_old_one_no_longer() -> None:
    box = gov_sandbox()
    fresh = derive_ed25519_key("validator-1-rotated")
    new_key = fresh.public_key().public_bytes_raw()
    rotation = RotateValidatorKeys(pubkey(box, 1), new_key, b"\x77" * 20)
    proposal = submit(box, propose(box, (rotation,)))
    box.apply(ballots(box, proposal, range(3)))
    run_until(box, proposal.execute_height)
    rotated = list(box.state.validators.values())[1]
    assert (rotated.name, rotated.pubkey, rotated.evm_address, rotated.power) == (
        "validator-1",
        new_key,
        b"\x77" * 20,
        10,
    )
    assert pubkey(box, 1) not in box.state.validators
    assert_refused(box, propose(box, (next_future_listing(),), proposer=1), "NotAValidator")
    box.validator_keys[1] = fresh
    submit(box, propose(box, (next_future_listing(),), proposer=1))


@pytest.mark.parametrize(
    ("make_changes", "code"),
    [
        (lambda box: (add(),  add()), "ValidatorListed"),  # the same key twice
        (lambda box: (replace(add(), validator=replace(new_validator(), pubkey=pubkey(box, 0))),),
         "ValidatorListed"),
        (lambda box: (replace(add(), validator=replace(
            new_validator(), evm_address=box.state.validators[pubkey(box, 2)].evm_address)),),
         "ValidatorListed"),
        (lambda box: (add(power=0),), "InvalidValidator"),
        (lambda box: (add(power=2**64 - 1),), "InvalidValidator"),  # past any total
        (lambda box: (add(power=2**60 - 1),), "InvalidValidator"),  # the total past CometBFT's
        (lambda box: (RemoveValidator(b"\x01" * 32),), "UnknownValidator"),
        (lambda box: tuple(RemoveValidator(pubkey(box, n)) for n in range(4)), "ValidatorSetSize"),
        (lambda box: (SetValidatorPower(pubkey(box, 0), 10),), "NoValidatorChange"),
        (lambda box: (SetValidatorPower(pubkey(box, 0), 0),), "InvalidValidator"),
        (lambda box: (RotateValidatorKeys(pubkey(box, 0), pubkey(box, 1), b"\x01" * 20),),
         "ValidatorListed"),
        (lambda box: (RotateValidatorKeys(
            pubkey(box, 0), pubkey(box, 0), box.state.validators[pubkey(box, 0)].evm_address),),
         "NoValidatorChange"),
        (lambda box: (UnjailValidator(pubkey(box, 0)),), "ValidatorNotJailed"),
        # all-or-nothing: a valid listing beside an invalid set change is refused whole
        (lambda box: (next_future_listing(), RemoveValidator(b"\x01" * 32)), "UnknownValidator"),
        # never an emergency measure
        (lambda box: (SetInstrumentStatus("BTC-PERP", InstrumentStatus.HALTED), add()),
         "MixedUrgency"),
    ],
)  # fmt: skip
def test_invalid_set_changes_are_refused_and_change_nothing(
    make_changes: Callable[[Sandbox], tuple[Change, ...]], code: str
) -> None:
    box = gov_sandbox()
    tx = propose(box, make_changes(box))
    before = (dict(box.state.validators), box.state.total_power)
    assert_refused(box, tx, code)
    assert (box.state.validators, box.state.total_power) == before


def test_a_proposal_whose_set_change_is_no_longer_valid_fails_whole_at_execution() -> None:
    box = gov_sandbox()
    removal = submit(box, propose(box, (RemoveValidator(pubkey(box, 3)),)))
    later = submit(
        box, propose(box, (next_future_listing(), SetValidatorPower(pubkey(box, 3), 30)), delay=6)
    )
    box.apply([*ballots(box, removal, range(3)), *ballots(box, later, range(3))])
    run_until(box, later.execute_height)
    assert removal.status is ProposalStatus.EXECUTED and later.status is ProposalStatus.FAILED
    assert NEXT_FUTURE not in box.state.instruments
    assert box.state.total_power == 30


def test_a_proposal_without_quorum_changes_no_validator() -> None:
    box = gov_sandbox()
    proposal = submit(box, propose(box, (add(), RemoveValidator(pubkey(box, 0)))))
    box.apply(ballots(box, proposal, range(2)))  # 20 of 40
    run_until(box, proposal.execute_height + 2)
    assert proposal.status is ProposalStatus.REJECTED
    assert active(box) == GENESIS_SET and box.state.validator_sets == {}


@pytest.mark.parametrize(
    "change",
    [
        add(),
        RemoveValidator(b"\x02" * 32),
        SetValidatorPower(b"\x02" * 32, 7),
        RotateValidatorKeys(b"\x02" * 32, b"\x03" * 32, b"\x04" * 20),
        UnjailValidator(b"\x02" * 32),
    ],
)
def test_each_change_decodes_to_itself(change: Change) -> None:
    assert decode_change(unpack(pack(change.to_fields()), "change")) == change
