"""First-hop checks of the `bridge` topic: what is relayed, what is refused and why."""

from __future__ import annotations

import dataclasses

import pytest

from bridge.observation import sign_observation
from bridge.payouts import sign_payout
from bridge.withdrawal import sign_withdrawal_record
from clearing.errors import BadSignature, UnknownCollateral
from clearing.state import initialize_state
from clearnode.client.sandbox_keys import derive_ed25519_key, derive_seed
from node.bridge.gossip import (
    GOSSIP_VERSION,
    IGNORES,
    KIND_DEPOSIT,
    MAX_MESSAGE_BYTES,
    REJECTS,
    BadEvmSignature,
    BridgeCheck,
    OutsideValidatorSet,
    PayoutAttestation,
    UnknownChain,
    UnknownEvmSigner,
    UnknownValidator,
    encode_message,
)
from node.p2p.errors import WrongChain
from records.codec import DecodeError, pack
from tests.node.bridge.support import (
    BRIDGE_KEYS,
    CONSENSUS_KEYS,
    NEW_BRIDGE_KEY,
    NEW_CONSENSUS_KEY,
    attest_expiry,
    get_genesis,
    get_pubkey,
    get_state_in_force,
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


def test_an_outsiders_attestation_is_ignored_and_a_forgery_refused() -> None:
    outsider = derive_ed25519_key("not-a-validator")
    signed = sign_observation(outsider, NET, make_observation(GENESIS))
    with pytest.raises(IGNORES) as caught:
        CHECK.decode(encode_message(NET, signed))
    assert isinstance(caught.value, UnknownValidator) and caught.value.power is None
    assigned = dataclasses.replace(  # a validator's key on the outsider's signature
        signed, attestation=dataclasses.replace(signed.attestation, signer=get_pubkey(0))
    )
    with pytest.raises(BadSignature):
        CHECK.decode(encode_message(NET, assigned))
    assert IGNORES == CHECK.topic().ignores


def test_signers_are_those_of_the_set_in_force_when_the_message_arrives() -> None:
    """The check reads the committed state each time: validator 4 (added by governance)
    passes from the block that adds it; 3 (removed) and 2 (jailed) are ignored from the
    block that changes them, as Ed25519 and as EVM signers."""
    committed = [initialize_state(GENESIS)]
    check = BridgeCheck.from_genesis(GENESIS, lambda: committed[0])
    keys = [*CONSENSUS_KEYS, NEW_CONSENSUS_KEY]
    evm_keys = [*BRIDGE_KEYS, NEW_BRIDGE_KEY]

    def deposit(index: int) -> bytes:
        return encode_message(NET, sign_observation(keys[index], NET, make_observation(GENESIS)))

    def withdrawal(index: int) -> bytes:
        signed = sign_withdrawal_record(make_record(GENESIS), vault=bytes(range(20)), epoch=0,
                                        evm_private_key=evm_keys[index])  # fmt: skip
        return encode_message(NET, signed)

    def verdicts(index: int) -> list[int | bool | None]:
        """Per message kind: True when it passes, else the ignored signer's power."""
        found: list[int | bool | None] = []
        for message in (deposit(index), withdrawal(index)):
            try:
                check.decode(message)
                found.append(True)
            except OutsideValidatorSet as exc:
                found.append(exc.power)
        return found

    assert [verdicts(i) for i in (2, 3, 4)] == [[True, True], [True, True], [None, None]]
    committed[0] = get_state_in_force(GENESIS, jail=[2])
    assert [verdicts(i) for i in (2, 3, 4)] == [[0, 0], [None, None], [True, True]]
    with pytest.raises(UnknownEvmSigner):
        check.decode(withdrawal(3))


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


def test_withdrawal_signed_by_a_non_validator_is_ignored_and_a_malformed_one_refused() -> None:
    record = make_record(GENESIS)
    args = {"vault": bytes(range(20)), "epoch": 0}
    outsider = sign_withdrawal_record(record, evm_private_key=derive_seed("evil"), **args)
    with pytest.raises(UnknownEvmSigner):  # ignored: the forwarder may be a block ahead
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
    assert isinstance(caught.value, DecodeError)
