"""The light-client check: a state root is the chain's only when the next block's header
commits to it and a quorum of the validator set precommitted that header."""

from __future__ import annotations

from dataclasses import replace

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from lightclient.anchor import (
    AnchorVersionError,
    NotCommitted,
    NotTheHeaderCommitted,
    StateAnchor,
    ValidatorPowers,
    ValidatorSetChanged,
    WrongChain,
    WrongHeight,
    WrongRoot,
    check_anchor,
)
from lightclient.codec import DecodeError, pack, unpack
from lightclient.commit import CommitSig
from tests.lightclient.support import make_anchor

KEYS = [Ed25519PrivateKey.from_private_bytes(bytes([0x10 + i]) * 32) for i in range(4)]
VALIDATORS = ValidatorPowers.of((k.public_key().public_bytes_raw(), 10) for k in KEYS)
CHAIN, HEIGHT, ROOT = 31337, 70, bytes(range(32))


def check(anchor: StateAnchor, root: bytes = ROOT, height: int = HEIGHT) -> None:
    check_anchor(anchor, CHAIN, height, root, VALIDATORS)


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
    with pytest.raises(WrongHeight, match="header of height 71"):
        check(make_anchor(CHAIN, HEIGHT + 1, ROOT, KEYS))
    with pytest.raises(WrongChain, match="'clearnode-1', not 'clearnode-31337'"):
        check(make_anchor(1, HEIGHT, ROOT, KEYS))


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
    with pytest.raises(AnchorVersionError):
        StateAnchor.from_wire([2, *good[1:]])
    for bad in ([1, 1, 1], [1], "anchor", [1, good[1], [1, 1, 0, bytes(31), []]]):
        with pytest.raises(DecodeError):
            StateAnchor.from_wire(bad)


def test_a_header_of_another_validator_set_is_not_checked_against_this_one() -> None:
    """A header signed by a set governance changed to (here: a fifth validator) says so;
    the verifier holding the genesis set cannot tell it from a forgery."""
    fifth = Ed25519PrivateKey.from_private_bytes(bytes([0x20]) * 32)
    anchor = make_anchor(CHAIN, HEIGHT, ROOT, [*KEYS, fifth])
    with pytest.raises(ValidatorSetChanged, match="the validator set changed since genesis"):
        check(anchor)
    bigger = ValidatorPowers.of((k.public_key().public_bytes_raw(), 10) for k in [*KEYS, fifth])
    check_anchor(anchor, CHAIN, HEIGHT, ROOT, bigger)
