"""Genesis ceremony records: contributions verify only as signed, for their network, once
each; the report seed comes out the same for every validator from shares the coordinator
can neither read nor replace."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, replace
from typing import Any

import pytest
from eth_account import Account
from eth_account.messages import encode_defunct
from hypothesis import given
from hypothesis import strategies as st

from clearing.genesis import compute_genesis_hash
from node.ceremony import (
    CONTRIBUTION_FIELDS,
    BadSignature,
    Ceremony,
    CeremonySecret,
    Contribution,
    DuplicateContribution,
    GenesisMismatch,
    MalformedRecord,
    SeedShares,
    ShareMismatch,
    WrongNetwork,
    check_contributions,
    check_genesis,
    derive_report_seed,
    encode_genesis_file,
    open_shares,
    seal_shares,
    sign_contribution,
)
from node.keys import BRIDGE_KEY, NODE_KEY, VALIDATOR_KEY, KeyFile, compute_peer_id, generate_key

PEER_IDS = [compute_peer_id(generate_key(NODE_KEY)) for _ in range(4)]


@dataclass(frozen=True)
class Operator:
    """One validator's secrets and its signed contribution."""

    validator: KeyFile
    bridge: KeyFile
    secret: CeremonySecret
    contribution: Contribution


def make_operator(index: int, network: str = "testnet", chain_id: int = 4242) -> Operator:
    validator, bridge = generate_key(VALIDATOR_KEY), generate_key(BRIDGE_KEY)
    secret = CeremonySecret(secrets.token_bytes(32))
    unsigned = Contribution(
        network=network,
        chain_id=chain_id,
        name=f"v{index}",
        power=10,
        validator_pubkey=validator.public_key(),
        evm_address=bridge.public_key(),
        peer_id=PEER_IDS[index],
        p2p_address=f"/ip4/10.77.0.{index + 1}/tcp/26656",
        cometbft_address=f"10.77.0.{index + 1}:26666",
        seed_box_key=secret.public_box_key(),
        seed_commitment=secret.commitment(),
    )
    return Operator(validator, bridge, secret, sign_contribution(unsigned, validator, bridge))


OPERATORS = [make_operator(i) for i in range(4)]


def sources(contributions: list[Contribution]) -> list[tuple[str, Contribution]]:
    return [(f"c{i}.json", c) for i, c in enumerate(contributions)]


def make_ceremony(operators: list[Operator]) -> Ceremony:
    contributions = tuple(o.contribution for o in operators)
    genesis = {"chain_id": 4242, "validators": [c.genesis_entry() for c in contributions]}
    return Ceremony("testnet", compute_genesis_hash(encode_genesis_file(genesis)), contributions)


def test_a_contribution_verifies_after_its_json_round_trip() -> None:
    contribution = OPERATORS[0].contribution
    again = Contribution.from_json(contribution.to_json(), "c0.json")
    assert again == contribution
    check_contributions(sources([again]), "testnet", 4242)


SIGNED_FIELDS = sorted(CONTRIBUTION_FIELDS - {"kind", "version", "signature", "bridge_signature"})
CHANGED: dict[str, Any] = {
    "network": "othernet",
    "chain_id": 4243,
    "name": "v9",
    "power": 11,
    "validator_pubkey": "0x" + OPERATORS[1].validator.public_key().hex(),
    "evm_address": "0x" + OPERATORS[1].bridge.public_key().hex(),
    "peer_id": PEER_IDS[1],
    "p2p_address": "/ip4/10.77.0.9/tcp/26656",
    "cometbft_address": "10.77.0.9:26666",
    "seed_box_key": "0x" + OPERATORS[1].secret.public_box_key().hex(),
    "seed_commitment": "0x" + OPERATORS[1].secret.commitment().hex(),
}


@given(st.sampled_from(SIGNED_FIELDS))
def test_every_signed_field_changed_breaks_a_signature(name: str) -> None:
    doc = {**OPERATORS[0].contribution.to_json(), name: CHANGED[name]}
    tampered = Contribution.from_json(doc, "c0.json")
    with pytest.raises(BadSignature) as caught:
        check_contributions(sources([tampered]), tampered.network, tampered.chain_id)
    assert caught.value.source == "c0.json"
    # the validator key signs every field, and is checked first
    assert caught.value.field == "signature"


def test_the_bridge_signature_is_a_wallets_personal_sign() -> None:
    """What eth_account (a wallet's `personal_sign`) signs and recovers, byte for byte."""
    for operator in OPERATORS:
        contribution = operator.contribution
        message = encode_defunct(primitive=contribution.digest())
        signed = Account.sign_message(message, operator.bridge.secret)
        assert contribution.bridge_signature == bytes(signed.signature)
        signer = Account.recover_message(message, signature=contribution.bridge_signature)
        assert signer.lower() == "0x" + contribution.evm_address.hex()


def test_a_bridge_signature_by_another_key_is_refused() -> None:
    o = OPERATORS[0]
    other = sign_contribution(o.contribution, o.validator, OPERATORS[1].bridge)
    with pytest.raises(BadSignature) as caught:
        check_contributions(sources([other]), "testnet", 4242)
    assert caught.value.field == "bridge_signature"
    assert "0x" + o.contribution.evm_address.hex() in str(caught.value)


@pytest.mark.parametrize(
    ("network", "chain_id", "field"), [("othernet", 4242, "network"), ("testnet", 1, "chain_id")]
)
def test_a_contribution_to_another_network_is_refused(
    network: str, chain_id: int, field: str
) -> None:
    with pytest.raises(WrongNetwork) as caught:
        check_contributions(sources([OPERATORS[0].contribution]), network, chain_id)
    assert (caught.value.source, caught.value.field) == ("c0.json", field)


def test_the_same_contribution_twice_is_refused_naming_both_files() -> None:
    twice = [OPERATORS[0].contribution, OPERATORS[1].contribution, OPERATORS[0].contribution]
    with pytest.raises(DuplicateContribution) as caught:
        check_contributions(sources(twice), "testnet", 4242)
    assert (caught.value.source, caught.value.field) == ("c2.json", "name")
    assert "c0.json" in caught.value.problem


@pytest.mark.parametrize("field", ["evm_address", "peer_id", "p2p_address", "cometbft_address"])
def test_two_validators_claiming_one_key_or_address_are_refused(field: str) -> None:
    o, first = OPERATORS[1], OPERATORS[0].contribution
    claimed = replace(o.contribution, **{field: getattr(first, field)})
    bridge = OPERATORS[0].bridge if field == "evm_address" else o.bridge
    signed = sign_contribution(claimed, o.validator, bridge)
    with pytest.raises(DuplicateContribution) as caught:
        check_contributions(sources([first, signed]), "testnet", 4242)
    assert (caught.value.source, caught.value.field) == ("c1.json", field)


@pytest.mark.parametrize(
    ("name", "value"),
    [("power", 0), ("p2p_address", "/ip4/0.0.0.0/tcp/26656"), ("peer_id", "nope"),
     ("seed_box_key", "0x12"), ("extra", 1), ("version", 1),
     ("cometbft_address", "0.0.0.0:26666"), ("cometbft_address", "host")],
)  # fmt: skip
def test_a_malformed_contribution_names_its_field(name: str, value: object) -> None:
    doc = {**OPERATORS[0].contribution.to_json(), name: value}
    with pytest.raises(MalformedRecord) as caught:
        Contribution.from_json(doc, "c0.json")
    assert (caught.value.source, caught.value.field) == ("c0.json", name)


def test_the_ceremony_checks_its_genesis() -> None:
    ceremony = make_ceremony(OPERATORS)
    genesis = {"chain_id": 4242, "validators": ceremony.get_validators()}
    assert check_genesis(ceremony, encode_genesis_file(genesis), "genesis.json") == genesis
    assert Ceremony.from_json(ceremony.to_json(), "ceremony.json") == ceremony
    # the hash is the file's, as GET /v1/genesis serves it and clearnode verify pins it
    reformatted = json.dumps(genesis).encode()
    with pytest.raises(GenesisMismatch) as caught:
        check_genesis(ceremony, reformatted, "genesis.json")
    assert caught.value.field == "(hash)"
    genesis["validators"][0]["power"] = 11
    with pytest.raises(GenesisMismatch) as caught:
        check_genesis(ceremony, encode_genesis_file(genesis), "genesis.json")
    assert caught.value.field == "(hash)"
    changed = encode_genesis_file(genesis)
    forged = replace(ceremony, genesis_hash=compute_genesis_hash(changed))
    with pytest.raises(GenesisMismatch) as caught:
        check_genesis(forged, changed, "genesis.json")
    assert caught.value.field == "validators"


def seal_all(ceremony: Ceremony, operators: list[Operator]) -> list[tuple[str, SeedShares]]:
    sealed = [seal_shares(ceremony, o.contribution, o.secret, o.validator) for o in operators]
    return [
        (f"s{i}.json", SeedShares.from_json(s.to_json(), f"s{i}.json"))
        for i, s in enumerate(sealed)
    ]


def test_every_validator_derives_one_seed_that_needs_every_share() -> None:
    ceremony = make_ceremony(OPERATORS)
    received = seal_all(ceremony, OPERATORS)
    seeds = {
        derive_report_seed(ceremony, open_shares(ceremony, o.contribution, o.secret, received))
        for o in OPERATORS
    }
    assert len(seeds) == 1
    assert seeds.pop() != derive_report_seed(
        ceremony, [o.secret.share for o in OPERATORS[:3]] + [bytes(32)]
    )
    with pytest.raises(ShareMismatch) as caught:
        open_shares(ceremony, OPERATORS[0].contribution, OPERATORS[0].secret, received[:3])
    assert caught.value.source == "(validator v3)"


class LyingSecret(CeremonySecret):
    """Its box key is the committed one's; its share is not the committed share."""

    @property
    def share(self) -> bytes:
        return bytes(32)


def test_a_share_other_than_the_committed_one_is_refused() -> None:
    ceremony = make_ceremony(OPERATORS)
    liar = OPERATORS[1]
    honest = seal_all(ceremony, OPERATORS)
    lying = seal_shares(
        ceremony, liar.contribution, LyingSecret(liar.secret.secret), liar.validator
    )
    received = [honest[0], ("s1.json", lying), *honest[2:]]
    with pytest.raises(ShareMismatch) as caught:
        open_shares(ceremony, OPERATORS[0].contribution, OPERATORS[0].secret, received)
    assert caught.value.source == "s1.json" and "committed" in caught.value.problem


def test_shares_the_coordinator_changed_or_moved_are_refused() -> None:
    ceremony = make_ceremony(OPERATORS)
    received = seal_all(ceremony, OPERATORS)
    me = OPERATORS[0]
    source, shares = received[1]
    flipped = tuple((to, bytes([box[0] ^ 1]) + box[1:]) for to, box in shares.boxes)
    with pytest.raises(BadSignature):  # signed by the sender: a changed box is seen
        open_shares(
            ceremony, me.contribution, me.secret, [(source, replace(shares, boxes=flipped))]
        )
    other = make_ceremony(OPERATORS[::-1])
    with pytest.raises(WrongNetwork) as caught:  # shares of another ceremony
        open_shares(other, me.contribution, me.secret, received)
    assert caught.value.field == "ceremony"
