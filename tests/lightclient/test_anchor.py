"""The light-client check: a state root is the chain's only when the next block's header
commits to it and a quorum of the validator set precommitted that header."""

from __future__ import annotations

from dataclasses import replace

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from lightclient.anchor import (
    COMETBFT,
    ENGINE_RECORDS,
    MAX_SET_CHANGES,
    OUR_ENGINE,
    TRUSTING_PERIOD_MS,
    AnchorVersionError,
    ChangeNotCommitted,
    Checkpoint,
    CheckpointMismatch,
    GenesisHashError,
    NotASetChange,
    NotCommitted,
    NotSignedByHeldSet,
    NotTheHeaderCommitted,
    NotTheNextSet,
    SetChange,
    SetChangeError,
    SetChangesOutOfOrder,
    StateAnchor,
    Trust,
    TrustExpired,
    ValidatorSetChanged,
    WrongAnchorChain,
    WrongAnchorHeight,
    WrongRoot,
    check_anchor,
    check_trusting_period,
    follow_set_changes,
    get_consensus_chain_id,
)
from lightclient.commit import CommitSig
from lightclient.validators import ValidatorPowers
from records.codec import DecodeError, pack, unpack
from tests.lightclient.support import GENESIS_HASH, get_powers, make_anchor, make_set_change

KEYS = [Ed25519PrivateKey.from_private_bytes(bytes([0x10 + i]) * 32) for i in range(4)]
VALIDATORS = ValidatorPowers.of((k.public_key().public_bytes_raw(), 10) for k in KEYS)
CHAIN, HEIGHT, ROOT = 31337, 70, bytes(range(32))
NAME = get_consensus_chain_id(CHAIN, GENESIS_HASH)


def check(anchor: StateAnchor, root: bytes = ROOT, height: int = HEIGHT) -> None:
    check_anchor(anchor, NAME, height, root, VALIDATORS)


def test_three_of_four_validators_anchor_the_root() -> None:
    anchor = make_anchor(CHAIN, HEIGHT, ROOT, KEYS[:3], set_keys=KEYS)
    check(anchor)
    assert (anchor.header.height - 1, anchor.header.prev_state_root) == (HEIGHT, ROOT)
    assert StateAnchor.from_wire(unpack(pack(anchor.to_wire()), "anchor")) == anchor


def test_two_of_four_is_no_quorum_and_says_the_powers() -> None:
    with pytest.raises(NotCommitted) as info:
        check(make_anchor(CHAIN, HEIGHT, ROOT, KEYS[:2], set_keys=KEYS))
    assert (info.value.cause.signed_power, info.value.cause.total_power) == (20, 40)


def test_a_root_the_header_does_not_commit_is_refused() -> None:
    with pytest.raises(WrongRoot) as info:
        check(make_anchor(CHAIN, HEIGHT, ROOT, KEYS), root=bytes(32))
    assert (info.value.expected, info.value.found) == (bytes(32), ROOT)


def test_the_header_of_another_height_or_chain_is_refused() -> None:
    with pytest.raises(WrongAnchorHeight, match="header of height 71"):
        check(make_anchor(CHAIN, HEIGHT + 1, ROOT, KEYS))
    digest = GENESIS_HASH[:8].hex()
    with pytest.raises(
        WrongAnchorChain, match=f"'clearnode-1-{digest}', not 'clearnode-31337-{digest}'"
    ):
        check(make_anchor(1, HEIGHT, ROOT, KEYS))


def test_the_chain_of_another_genesis_with_the_same_chain_id_is_refused() -> None:
    """A genesis one byte apart is another chain: what its validators signed anchors
    nothing on this one's, though the chain id, keys, height and root are the same."""
    other = bytes([GENESIS_HASH[0] ^ 1]) + GENESIS_HASH[1:]
    with pytest.raises(WrongAnchorChain) as info:
        check(make_anchor(CHAIN, HEIGHT, ROOT, KEYS, genesis_hash=other))
    assert info.value.found == f"clearnode-{CHAIN}-{other[:8].hex()}" != info.value.expected
    with pytest.raises(SetChangeError, match=f"its header is of chain 'clearnode-{CHAIN}-"):
        walk(make_set_change(CHAIN, 20, KEYS, ADDED, genesis_hash=other))


def test_the_chain_name_carries_the_genesis_hash_within_cometbft_s_bound() -> None:
    assert get_consensus_chain_id(4242, bytes(range(32))) == "clearnode-4242-0001020304050607"
    assert len(get_consensus_chain_id(2**64 - 1, GENESIS_HASH)) == 47  # CometBFT: at most 50
    with pytest.raises(GenesisHashError, match=r"32 bytes .* got 8"):
        get_consensus_chain_id(4242, GENESIS_HASH[:8])


def test_a_header_changed_after_signing_is_not_the_one_committed() -> None:
    anchor = make_anchor(CHAIN, HEIGHT, bytes(32), KEYS)
    forged = replace(anchor, header=replace(anchor.header, prev_state_root=ROOT))
    with pytest.raises(NotTheHeaderCommitted):
        check(forged)


def test_forged_foreign_and_repeated_signatures_are_refused() -> None:
    anchor = make_anchor(CHAIN, HEIGHT, ROOT, KEYS[:3], set_keys=KEYS)
    sigs = list(anchor.commit.signatures)
    cases = {
        "bad precommit signature": [*sigs[:2], CommitSig(sigs[2].validator, bytes(64))],
        "signer outside the validator set": [
            *sigs[:2],
            *make_anchor(CHAIN, HEIGHT, ROOT, [Ed25519PrivateKey.generate()]).commit.signatures,
        ],
        "duplicate signer": [*sigs[:2], sigs[0]],
    }
    for reason, changed in cases.items():
        commit = replace(anchor.commit, signatures=tuple(changed))
        with pytest.raises(NotCommitted, match=reason):
            check(replace(anchor, commit=commit))


def test_precommits_for_another_round_do_not_sign_this_one() -> None:
    anchor = make_anchor(CHAIN, HEIGHT, ROOT, KEYS, round_=1)
    with pytest.raises(NotCommitted, match="bad precommit signature"):
        check(replace(anchor, commit=replace(anchor.commit, round=0)))


def test_malformed_anchors_are_typed_decode_errors() -> None:
    good = make_anchor(CHAIN, HEIGHT, ROOT, KEYS).to_wire()
    for version in (2, 4, True, None):
        with pytest.raises(AnchorVersionError):
            StateAnchor.from_wire([version, *good[1:]])
    with pytest.raises(AnchorVersionError, match="anchor version None is not 3"):
        StateAnchor.from_wire([])
    change = make_set_change(CHAIN, 5, KEYS, KEYS[:3]).to_wire()
    short_commit = [1, 1, 0, bytes(31), []]
    ours = [3, OUR_ENGINE]
    for bad in ([*ours, 1, 1, []], [*ours, *good[2:4]], "anchor",
                [*ours, good[2], short_commit, []], [*ours, *good[2:4], [change[:2]]],
                [*ours, *good[2:4], "changes"],
                [3, "tendermint", *good[2:]], [3, None, *good[2:]],
                [3, COMETBFT, *good[2:]]):  # fmt: skip
        with pytest.raises(DecodeError):
            StateAnchor.from_wire(bad)


def test_a_header_of_another_validator_set_is_not_checked_against_this_one() -> None:
    """A header signed by a set governance changed to (here: a fifth validator) says so;
    the verifier holding the genesis set cannot tell it from a forgery."""
    fifth = Ed25519PrivateKey.from_private_bytes(bytes([0x20]) * 32)
    anchor = make_anchor(CHAIN, HEIGHT, ROOT, [*KEYS, fifth])
    with pytest.raises(ValidatorSetChanged, match="does not carry the change of the validator"):
        check(anchor)
    bigger = ValidatorPowers.of((k.public_key().public_bytes_raw(), 10) for k in [*KEYS, fifth])
    check_anchor(anchor, NAME, HEIGHT, ROOT, bigger)


FIFTH = Ed25519PrivateKey.from_private_bytes(bytes([0x20]) * 32)
SIXTH = Ed25519PrivateKey.from_private_bytes(bytes([0x21]) * 32)
ADDED = [*KEYS, FIFTH]  # governance added a fifth validator
REPLACED = [*KEYS[1:], FIFTH, SIXTH]  # then replaced the first by a sixth


def walk(*changes: SetChange) -> list[tuple[int, bytes]]:
    history = follow_set_changes(changes, NAME, VALIDATORS)
    return [(first, validators.hash) for first, validators in history.sets]


def test_the_set_is_followed_from_genesis_through_each_change() -> None:
    """Each change is signed by the set before it; the anchor by the set the walk holds
    at its height, which the genesis set alone could not check."""
    first = make_set_change(CHAIN, 20, KEYS, ADDED)
    second = make_set_change(CHAIN, 50, ADDED[1:], REPLACED, set_keys=ADDED)  # 4 of 5
    history = follow_set_changes([first, second], NAME, VALIDATORS)
    assert walk(first, second) == [
        (1, VALIDATORS.hash), (21, get_powers(ADDED).hash), (51, get_powers(REPLACED).hash)
    ]  # fmt: skip
    assert history.changed_at == (20, 50)
    assert [history.get_set_at(h) for h in (1, 20, 21, 50, 51, 999)] == [
        VALIDATORS, VALIDATORS, get_powers(ADDED), get_powers(ADDED), *[get_powers(REPLACED)] * 2
    ]  # fmt: skip
    anchor = make_anchor(CHAIN, HEIGHT, ROOT, REPLACED, set_changes=[first, second])
    check_anchor(anchor, NAME, HEIGHT, ROOT, history.get_set_at(HEIGHT + 1))
    with pytest.raises(ValidatorSetChanged):
        check(anchor)
    assert StateAnchor.from_wire(unpack(pack(anchor.to_wire()), "anchor")) == anchor


def test_a_change_signed_by_a_set_not_in_force_is_refused() -> None:
    """Keys of the new set cannot vouch for their own election, nor can a set skipped."""
    by_itself = make_set_change(CHAIN, 20, ADDED, ADDED)
    with pytest.raises(NotSignedByHeldSet, match="block 20 is not the chain's"):
        walk(replace(by_itself, validators=get_powers(REPLACED)))
    skipped = make_set_change(CHAIN, 50, ADDED, REPLACED)  # the change to ADDED left out
    with pytest.raises(NotSignedByHeldSet) as info:
        walk(skipped)
    assert info.value.held_set == VALIDATORS.hash


def test_a_change_without_a_quorum_of_the_set_before_it_is_refused() -> None:
    for signers, reason in (
        (KEYS[:2], "no quorum"),
        ([*KEYS[:2], FIFTH], "outside the validator set"),
    ):
        with pytest.raises(ChangeNotCommitted, match=reason):
            walk(make_set_change(CHAIN, 20, signers, ADDED, set_keys=KEYS))


def test_the_set_carried_must_be_the_one_the_header_names() -> None:
    change = make_set_change(CHAIN, 20, KEYS, ADDED)
    with pytest.raises(NotTheNextSet) as info:
        walk(replace(change, validators=get_powers(REPLACED)))
    assert info.value.committed == get_powers(ADDED).hash


def test_changes_come_in_height_order_and_each_is_a_change() -> None:
    first = make_set_change(CHAIN, 20, KEYS, ADDED)
    back = make_set_change(CHAIN, 20, ADDED, KEYS)
    with pytest.raises(SetChangesOutOfOrder, match="from block 21 on"):
        walk(first, back)
    with pytest.raises(NotASetChange):
        walk(make_set_change(CHAIN, 20, KEYS, KEYS))


def test_a_change_of_another_chain_or_with_another_header_is_refused() -> None:
    with pytest.raises(SetChangeError, match="its header is of chain 'clearnode-1-"):
        walk(replace(make_set_change(1, 20, KEYS, ADDED)))
    change = make_set_change(CHAIN, 20, KEYS, ADDED)
    forged = replace(change, header=replace(change.header, prev_state_root=ROOT))
    with pytest.raises(SetChangeError, match="its certificate commits block"):
        walk(forged)


def test_a_carried_set_decodes_only_in_canonical_form() -> None:
    change = make_set_change(CHAIN, 20, KEYS, ADDED).to_wire()
    pairs = change[2]
    for bad in ([], list(reversed(pairs)), [pairs[0], pairs[0]], [[pairs[0][0], 0]],
                [[bytes(31), 10]], [pairs[0][0]]):  # fmt: skip
        with pytest.raises(DecodeError):
            SetChange.from_wire([change[0], change[1], bad], ENGINE_RECORDS[OUR_ENGINE])
    anchor = make_anchor(CHAIN, HEIGHT, ROOT, KEYS).to_wire()
    with pytest.raises(DecodeError, match="exceeds cap"):
        StateAnchor.from_wire([*anchor[:4], [change] * (MAX_SET_CHANGES + 1)])


def test_a_checkpoint_is_walked_from_and_what_precedes_it_only_read() -> None:
    """From a checkpoint, the changes before it only find its set (a forged one that
    carries the chain's set is harmless: that set must sign what follows); every change
    after it must be signed by the set before it."""
    strangers = [Ed25519PrivateKey.from_private_bytes(bytes([0x70 + i]) * 32) for i in range(4)]
    forged = make_set_change(CHAIN, 20, strangers, ADDED, set_keys=KEYS)  # not KEYS' quorum
    later = make_set_change(CHAIN, 50, ADDED, REPLACED)
    checkpoint = Checkpoint(30, 0, get_powers(ADDED).hash)
    history = follow_set_changes([forged, later], NAME, VALIDATORS, checkpoint)
    assert [(first, v.hash) for first, v in history.sets] == [
        (30, get_powers(ADDED).hash), (51, get_powers(REPLACED).hash)
    ]  # fmt: skip
    with pytest.raises(ChangeNotCommitted):
        follow_set_changes([forged, later], NAME, VALIDATORS)  # from genesis: refused
    # the departed set's own history (no change at all) names another set at the checkpoint
    with pytest.raises(CheckpointMismatch) as info:
        follow_set_changes([], NAME, VALIDATORS, checkpoint)
    assert (info.value.found, info.value.trusted) == (VALIDATORS.hash, get_powers(ADDED).hash)
    # a change after the checkpoint signed by strangers is refused as from genesis
    usurped = make_set_change(CHAIN, 50, strangers, strangers, set_keys=ADDED)
    with pytest.raises(ChangeNotCommitted):
        follow_set_changes([forged, usurped], NAME, VALIDATORS, checkpoint)


def test_trust_lasts_the_trusting_period_from_its_point() -> None:
    genesis_time = 1_795_219_200_000
    check_trusting_period(Trust(genesis_time + TRUSTING_PERIOD_MS, genesis_time))
    with pytest.raises(TrustExpired) as info:
        check_trusting_period(Trust(genesis_time + TRUSTING_PERIOD_MS + 1, genesis_time))
    assert info.value.trusted_time_ms == genesis_time
    # a checkpoint's time replaces the genesis's
    fresh = Checkpoint(900, genesis_time + TRUSTING_PERIOD_MS, VALIDATORS.hash)
    check_trusting_period(Trust(genesis_time + TRUSTING_PERIOD_MS + 1, genesis_time, fresh))


def test_a_checkpoint_is_read_as_it_is_written() -> None:
    checkpoint = Checkpoint(12, 1_700_000_000_000, bytes(range(32)))
    assert Checkpoint.parse(str(checkpoint)) == checkpoint
    assert Checkpoint.parse(str(checkpoint).replace(":0x", ":")) == checkpoint
    for text, reason in (("0:1:" + "00" * 32, "HEIGHT:TIME_MS:HASH"), ("5:1:0xzz", "not hex"),
                         ("5:1:0xab", "32 bytes, got 1")):  # fmt: skip
        with pytest.raises(ValueError, match=reason):
            Checkpoint.parse(text)
