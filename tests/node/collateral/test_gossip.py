"""First-hop checks of the `bridge` topic: what is relayed, what is refused and why."""

from __future__ import annotations

import dataclasses

import pytest

from bridge.observation import sign_observation
from bridge.payouts import sign_payout
from bridge.wire import DecodeError as BridgeDecodeError
from bridge.withdrawal import sign_withdrawal_record
from clearing.codec import pack
from clearing.errors import BadSignature, DecodeError, UnknownCollateral, UnknownSigner
from clearing.sandbox import derive_ed25519_key, derive_seed
from node.collateral.gossip import (
    GOSSIP_VERSION,
    KIND_DEPOSIT,
    MAX_MESSAGE_BYTES,
    REJECTS,
    BadEvmSignature,
    PayoutAttestation,
    UnknownChain,
    UnknownEvmSigner,
    WrongChain,
    encode_message,
)
from tests.node.collateral.support import (
    BRIDGE_KEYS,
    CONSENSUS_KEYS,
    attest_expiry,
    get_genesis,
    make_check,
    make_expiry,
    make_observation,
    make_payout,
    make_record,
)

GENESIS = get_genesis()
CHECK = make_check(GENESIS)
NET = GENESIS.chain_id


def test_validator_messages_pass_and_round_trip() -> None:
    deposit = sign_observation(CONSENSUS_KEYS[0], NET, make_observation(GENESIS))
    payout = PayoutAttestation(make_payout(), sign_payout(CONSENSUS_KEYS[1], NET, make_payout()))
    withdrawal = sign_withdrawal_record(
        make_record(GENESIS), vault=bytes(range(20)), epoch=0,
        evm_private_key=BRIDGE_KEYS[2],
    )  # fmt: skip
    expiry = attest_expiry(3, NET, make_expiry())
    for message in (deposit, payout, withdrawal, expiry):
        assert CHECK.decode(encode_message(NET, message)) == message


def test_forged_deposit_attestation_is_refused() -> None:
    outsider = derive_ed25519_key("not-a-validator")
    forged = sign_observation(outsider, NET, make_observation(GENESIS))
    with pytest.raises(UnknownSigner):
        CHECK.decode(encode_message(NET, forged))


def test_validator_signature_over_other_content_is_refused() -> None:
    signed = sign_observation(CONSENSUS_KEYS[0], NET, make_observation(GENESIS, quanta=5))
    inflated = dataclasses.replace(signed, observation=make_observation(GENESIS, quanta=5_000))
    with pytest.raises(BadSignature):
        CHECK.decode(encode_message(NET, inflated))


def test_signature_for_another_network_is_refused() -> None:
    other = sign_observation(CONSENSUS_KEYS[0], NET + 1, make_observation(GENESIS))
    with pytest.raises(WrongChain):
        CHECK.decode(encode_message(NET + 1, other))
    with pytest.raises(BadSignature):
        CHECK.decode(encode_message(NET, other))


def test_unregistered_token_and_chain_are_refused() -> None:
    unknown = dataclasses.replace(make_observation(GENESIS), token=bytes([9]) * 20)
    with pytest.raises(UnknownCollateral):
        CHECK.decode(encode_message(NET, sign_observation(CONSENSUS_KEYS[0], NET, unknown)))
    # zero quanta only consumes a vault nonce: any token, but a watched chain
    consumed = dataclasses.replace(unknown, quanta=0)
    CHECK.decode(encode_message(NET, sign_observation(CONSENSUS_KEYS[0], NET, consumed)))
    elsewhere = dataclasses.replace(consumed, chain_id=999)
    with pytest.raises(UnknownChain):
        CHECK.decode(encode_message(NET, sign_observation(CONSENSUS_KEYS[0], NET, elsewhere)))
    payout = dataclasses.replace(make_payout(), chain_id=999)
    message = PayoutAttestation(payout, sign_payout(CONSENSUS_KEYS[0], NET, payout))
    with pytest.raises(UnknownChain):
        CHECK.decode(encode_message(NET, message))


def test_expiry_on_an_unknown_chain_forged_or_retargeted_is_refused() -> None:
    elsewhere = dataclasses.replace(make_expiry(), chain_id=999)
    with pytest.raises(UnknownChain):
        CHECK.decode(encode_message(NET, attest_expiry(0, NET, elsewhere)))
    good = attest_expiry(0, NET, make_expiry())
    earlier = dataclasses.replace(good, observation=make_expiry(block_number=1))
    with pytest.raises(BadSignature):
        CHECK.decode(encode_message(NET, earlier))
    as_payout = PayoutAttestation(make_payout(), good.attestation)  # another signing domain
    with pytest.raises(BadSignature):
        CHECK.decode(encode_message(NET, as_payout))


def test_withdrawal_signed_by_a_non_validator_or_malformed_is_refused() -> None:
    record = make_record(GENESIS)
    args = {"vault": bytes(range(20)), "epoch": 0}
    outsider = sign_withdrawal_record(record, evm_private_key=derive_seed("evil"), **args)
    with pytest.raises(UnknownEvmSigner):
        CHECK.decode(encode_message(NET, outsider))
    good = sign_withdrawal_record(record, evm_private_key=BRIDGE_KEYS[0], **args)
    high_v = dataclasses.replace(good, signature=good.signature[:64] + bytes([29]))
    with pytest.raises(BadEvmSignature):
        CHECK.decode(encode_message(NET, high_v))


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\xc1garbage",
        pack([GOSSIP_VERSION + 1, NET, KIND_DEPOSIT, b""]),
        pack([GOSSIP_VERSION, NET, 9, b""]),
        pack([GOSSIP_VERSION, NET, KIND_DEPOSIT, "text"]),
        pack([GOSSIP_VERSION, NET, KIND_DEPOSIT, b"\x93\x01\x02"]),
        bytes(MAX_MESSAGE_BYTES + 1),
    ],
)
def test_malformed_bytes_raise_a_typed_rejection(data: bytes) -> None:
    with pytest.raises(REJECTS) as caught:
        CHECK.decode(data)
    assert isinstance(caught.value, DecodeError | BridgeDecodeError)
