"""Deposit records, observations, the quorum pool and external bridge events (no chain)."""

from __future__ import annotations

import hashlib
import re
from dataclasses import replace

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given
from hypothesis import strategies as st

from bridge.deposits import DepositEvent
from bridge.external import (
    BadBridgeSignature,
    ChainNotAllowed,
    SignedExternalEvent,
    UnregisteredBridge,
    sign_external_event,
    verify_external_event,
)
from bridge.observation import (
    REQUEST_VERSION,
    AttestationEquivocation,
    InvalidAttestation,
    NotWholeQuanta,
    ObservationPool,
    ReobserveRequest,
    SignedObservation,
    SignedReobserveRequest,
    TooManyPending,
    UnregisteredToken,
    compute_observation,
    compute_settling_observation,
    sign_observation,
    sign_reobserve_request,
)
from bridge.wire import FORMAT_VERSION
from bridge.withdrawal import WithdrawalAuthorization, WithdrawalSignature
from clearing.assets import CollateralToken
from clearing.attestation import is_valid_signature
from clearing.genesis import ExternalBridge, Validator
from clearing.replay_protection import DepositNonces
from records.codec import DecodeError, pack

NETWORK = 4242
TOKEN = bytes.fromhex("00000000000000000000000000000000000000e1")
TOKENS = {(31337, TOKEN): CollateralToken(31337, TOKEN, "WETH", 18, 10**12, 1000, "ETH/quantum")}
KEYS = [Ed25519PrivateKey.from_private_bytes(hashlib.sha256(b"v%d" % i).digest()) for i in range(4)]
VALIDATORS = {
    k.public_key().public_bytes_raw(): Validator(
        f"v{i}", k.public_key().public_bytes_raw(), 10, bytes([i + 1]) * 20
    )
    for i, k in enumerate(KEYS)
}


def deposit(amount: int = 5 * 10**12 + 7, log_index: int = 3) -> DepositEvent:
    return DepositEvent(
        chain_id=31337,
        vault=b"\xf0" * 20,
        tx_hash=b"\x11" * 32,
        log_index=log_index,
        block_number=9,
        block_hash=b"\x22" * 32,
        block_time_s=1_700_000_000,
        member=b"\x33" * 20,
        sub_account=2,
        token=TOKEN,
        amount=amount,
        deposit_nonce=1,
    )


deposits = st.builds(
    DepositEvent,
    chain_id=st.integers(1, 2**63),
    vault=st.binary(min_size=20, max_size=20),
    tx_hash=st.binary(min_size=32, max_size=32),
    log_index=st.integers(0, 2**32),
    block_number=st.integers(0, 2**63),
    block_hash=st.binary(min_size=32, max_size=32),
    block_time_s=st.integers(0, 2**64 - 1),
    member=st.binary(min_size=20, max_size=20),
    sub_account=st.integers(0, 2**32 - 1),
    token=st.binary(min_size=20, max_size=20),
    amount=st.integers(0, 2**256 - 1),
    deposit_nonce=st.integers(0, 2**256 - 1),
)


@given(deposits)
def test_deposit_event_round_trips(event: DepositEvent) -> None:
    assert DepositEvent.decode(event.encode()) == event


@given(
    st.builds(
        WithdrawalAuthorization,
        chain_id=st.integers(1, 2**63),
        vault=st.binary(min_size=20, max_size=20),
        epoch=st.integers(0, 2**64 - 1),
        member=st.binary(min_size=20, max_size=20),
        token=st.binary(min_size=20, max_size=20),
        amount=st.integers(0, 2**256 - 1),
        recipient=st.binary(min_size=20, max_size=20),
        nonce=st.integers(0, 2**256 - 1),
        expiry=st.integers(0, 2**64 - 1),
    ),
    st.binary(min_size=65, max_size=65),
)
def test_withdrawal_signature_round_trips(auth: WithdrawalAuthorization, signature: bytes) -> None:
    message = WithdrawalSignature(auth, signature)
    assert WithdrawalSignature.decode(message.encode()) == message


@given(st.binary(max_size=300))
def test_garbage_never_decodes_to_anything_but_decode_error(data: bytes) -> None:
    records = (
        DepositEvent,
        SignedObservation,
        SignedReobserveRequest,
        SignedExternalEvent,
        WithdrawalSignature,
    )
    for record in records:
        try:
            record.decode(data)
        except DecodeError:
            pass


def test_observation_is_whole_quanta_of_a_registered_token() -> None:
    obs = compute_observation(deposit(), TOKENS)
    assert (obs.quanta, obs.member, obs.sub_account, obs.key) == (
        5,
        b"\x33" * 20,
        2,
        (31337, b"\xf0" * 20, 1),
    )
    with pytest.raises(NotWholeQuanta) as caught:
        compute_observation(deposit(amount=10**12 - 1), TOKENS)
    assert (caught.value.amount, caught.value.quantum) == (10**12 - 1, 10**12)
    with pytest.raises(UnregisteredToken):
        compute_observation(deposit(), {})


def test_an_uncreditable_deposit_is_observed_with_zero_quanta_and_its_reason() -> None:
    for amount, tokens, reason in [
        (10**12 - 1, TOKENS, NotWholeQuanta),
        (5, {}, UnregisteredToken),
    ]:
        obs, error = compute_settling_observation(deposit(amount=amount), tokens)
        assert (obs.quanta, obs.key) == (0, (31337, b"\xf0" * 20, 1))
        assert isinstance(error, reason)
    assert compute_settling_observation(deposit(), TOKENS) == (
        compute_observation(deposit(), TOKENS),
        None,
    )


def test_pool_credits_only_a_quorum_on_identical_content() -> None:
    pool = ObservationPool(NETWORK, VALIDATORS)
    obs = compute_observation(deposit(), TOKENS)
    other = compute_observation(deposit(amount=6 * 10**12), TOKENS)  # same key, other amount
    for key in KEYS[:2]:
        assert pool.add(sign_observation(key, NETWORK, obs))
    pool.add(sign_observation(KEYS[2], NETWORK, other))
    assert pool.get_ready_credits() == []  # 20 + 10 split across contents: no quorum
    assert pool.get_keys_unsigned_by(KEYS[3].public_key().public_bytes_raw()) == [obs.key]
    assert not pool.add(sign_observation(KEYS[0], NETWORK, obs))  # duplicate signer ignored
    pool.add(SignedObservation.decode(sign_observation(KEYS[3], NETWORK, obs).encode()))
    (credit,) = pool.get_ready_credits()
    assert credit.observation == obs and len(credit.attestations) == 3
    pool.mark_credited(obs.key)
    assert not pool.add(sign_observation(KEYS[2], NETWORK, obs))
    assert pool.get_ready_credits() == []


def test_pool_remembers_credited_nonces_as_a_prefix() -> None:
    pool = ObservationPool(NETWORK, VALIDATORS)
    chain_id, vault, _ = compute_observation(deposit(), TOKENS).key
    for nonce in (2, 1, 1, 3):  # out of order, once twice (two commits saw it)
        pool.mark_credited((chain_id, vault, nonce))
    assert pool.credited == {(chain_id, vault): DepositNonces(3, set())}
    late = compute_observation(replace(deposit(), deposit_nonce=2), TOKENS)
    assert not pool.add(sign_observation(KEYS[0], NETWORK, late))


def test_pool_refuses_outsiders_forgeries_and_other_networks() -> None:
    pool = ObservationPool(NETWORK, VALIDATORS)
    obs = compute_observation(deposit(), TOKENS)
    outsider = Ed25519PrivateKey.from_private_bytes(b"\x01" * 32)
    with pytest.raises(InvalidAttestation, match="not a validator"):
        pool.add(sign_observation(outsider, NETWORK, obs))
    with pytest.raises(InvalidAttestation, match="does not verify"):
        pool.add(sign_observation(KEYS[0], NETWORK + 1, obs))
    signed = sign_observation(KEYS[0], NETWORK, obs)
    forged = SignedObservation(
        compute_observation(deposit(amount=9 * 10**12), TOKENS), signed.attestation
    )
    with pytest.raises(InvalidAttestation):
        pool.add(forged)


def test_external_bridge_event_joins_the_same_quorum_path_once() -> None:
    bridge_key = Ed25519PrivateKey.from_private_bytes(b"\x07" * 32)
    obs = compute_observation(deposit(), TOKENS)
    acme = ExternalBridge(
        "acme-bridge", bridge_key.public_key().public_bytes_raw(), (obs.chain_id,)
    )
    registry = (ExternalBridge("other", bytes(32), (obs.chain_id,)), acme)
    event = SignedExternalEvent.decode(sign_external_event(bridge_key, NETWORK, obs).encode())
    assert verify_external_event(event, registry, NETWORK) == obs
    with pytest.raises(UnregisteredBridge):
        verify_external_event(event, registry[:1], NETWORK)
    with pytest.raises(ChainNotAllowed) as raised:
        verify_external_event(event, (replace(acme, chains=(obs.chain_id + 1,)),), NETWORK)
    assert (raised.value.chain_id, raised.value.chains) == (obs.chain_id, (obs.chain_id + 1,))
    with pytest.raises(BadBridgeSignature):
        verify_external_event(event, registry, NETWORK + 1)
    tampered = SignedExternalEvent(
        compute_observation(deposit(log_index=4), TOKENS), event.bridge_key, event.signature
    )
    with pytest.raises(BadBridgeSignature):
        verify_external_event(tampered, registry, NETWORK)
    # A bridge signature is not a validator attestation.
    pool = ObservationPool(NETWORK, VALIDATORS)
    with pytest.raises(InvalidAttestation):
        pool.add(
            SignedObservation(
                obs,
                type(sign_observation(KEYS[0], NETWORK, obs).attestation)(
                    event.bridge_key, event.signature
                ),
            )
        )
    # Validators attest the bridge's observation; the watcher's copy is the same key and bytes.
    for key in KEYS:
        pool.add(sign_observation(key, NETWORK, obs))
    assert len(pool.get_ready_credits()) == 1


def test_a_validator_keeps_its_first_content_per_deposit_and_equivocation_is_refused() -> None:
    pool = ObservationPool(NETWORK, VALIDATORS)
    obs = compute_observation(deposit(), TOKENS)
    other = compute_observation(deposit(amount=6 * 10**12), TOKENS)  # same key
    assert pool.add(sign_observation(KEYS[0], NETWORK, obs))
    with pytest.raises(AttestationEquivocation, match="quanta 5 kept, 6 refused") as caught:
        pool.add(sign_observation(KEYS[0], NETWORK, other))
    assert (caught.value.first, caught.value.second) == (obs, other)
    assert list(pool.entries[obs.key]) == [obs]  # the second content is not pooled
    for key in KEYS[1:3]:
        pool.add(sign_observation(key, NETWORK, other))
    assert pool.get_ready_credits() == []  # v0's vote stays on its first content


def test_a_validator_attests_at_most_max_pending_uncredited_deposits() -> None:
    pool = ObservationPool(NETWORK, VALIDATORS, max_pending=2)
    first, second, third = (
        compute_observation(replace(deposit(), deposit_nonce=n), TOKENS) for n in (1, 2, 3)
    )
    assert pool.add(sign_observation(KEYS[0], NETWORK, first))
    assert pool.add(sign_observation(KEYS[0], NETWORK, second))
    with pytest.raises(TooManyPending, match="2 uncredited"):
        pool.add(sign_observation(KEYS[0], NETWORK, third))
    assert third.key not in pool.entries  # nothing kept for a refused key
    assert pool.add(sign_observation(KEYS[1], NETWORK, third))  # another validator's room
    pool.mark_credited(first.key)
    signers = [k.public_key().public_bytes_raw() for k in KEYS[:2]]
    assert pool.pending == {signers[0]: 1, signers[1]: 1}
    assert pool.add(sign_observation(KEYS[0], NETWORK, third))  # a credit frees a slot


Vote = tuple[int, int, int]  # validator, content, deposit


def get_first_vote_quorums(powers: list[int], votes: list[Vote], cap: int) -> dict[int, int]:
    """Reference: each validator's first content per deposit is its only vote, on at
    most `cap` deposits; the content of each deposit that these votes carry to quorum
    (at most one can)."""
    first: dict[tuple[int, int], int] = {}
    for validator, content, dep in votes:
        if sum(v == validator for v, _ in first) < cap or (validator, dep) in first:
            first.setdefault((validator, dep), content)
    power: dict[tuple[int, int], int] = {}
    for (validator, dep), content in first.items():
        power[dep, content] = power.get((dep, content), 0) + powers[validator]
    return {dep: c for (dep, c), p in power.items() if 3 * p > 2 * sum(powers)}


@given(
    st.lists(st.integers(1, 5), min_size=4, max_size=4),
    st.lists(st.tuples(st.integers(0, 3), st.integers(0, 5), st.integers(0, 2)), max_size=40),
    st.integers(1, 3),
)
def test_pool_memory_is_bounded_and_the_first_quorum_never_changes(
    powers: list[int], votes: list[Vote], cap: int
) -> None:
    """Any sequence of adds, equivocations included: at most one attestation per
    (validator, deposit), at most one content per validator, at most `cap` deposits
    per validator, and each deposit's ready content is the first to reach quorum on
    first votes, never replaced later."""
    validators = {
        k.public_key().public_bytes_raw(): Validator(
            f"v{i}", k.public_key().public_bytes_raw(), powers[i], bytes([i + 1]) * 20
        )
        for i, k in enumerate(KEYS)
    }
    pool = ObservationPool(NETWORK, validators, max_pending=cap)
    contents = [
        [
            compute_observation(replace(deposit(amount=(5 + c) * 10**12), deposit_nonce=d), TOKENS)
            for c in range(6)
        ]
        for d in range(3)
    ]
    ready: dict[int, int] = {}
    for step, (validator, content, dep) in enumerate(votes):
        try:
            pool.add(sign_observation(KEYS[validator], NETWORK, contents[dep][content]))
        except (AttestationEquivocation, TooManyPending):
            pass
        stored = sum(len(signers) for c in pool.entries.values() for signers in c.values())
        assert stored <= len(validators) * min(len(pool.entries), cap)
        assert all(len(c) <= len(validators) for c in pool.entries.values())
        now = {
            c.observation.deposit_nonce: contents[c.observation.deposit_nonce].index(c.observation)
            for c in pool.get_ready_credits()
        }
        assert all(now[d] == c for d, c in ready.items())  # never replaced
        ready = now
        assert ready == get_first_vote_quorums(powers, votes[: step + 1], cap)


def test_signed_reobserve_request_round_trips_and_binds_signer_and_network() -> None:
    request = ReobserveRequest(31337, bytes([3]) * 32, 7)
    signed = sign_reobserve_request(KEYS[0], NETWORK, request, 1_700_000_000_000)
    decoded = SignedReobserveRequest.decode(signed.encode())
    assert decoded == signed and decoded.request == request
    assert decoded.attestation.signer == KEYS[0].public_key().public_bytes_raw()
    message = decoded.signing_bytes(NETWORK)
    assert is_valid_signature(decoded.attestation.signer, decoded.attestation.signature, message)
    other_network = decoded.signing_bytes(NETWORK + 1)
    assert not is_valid_signature(
        decoded.attestation.signer, decoded.attestation.signature, other_network
    )
    later = replace(decoded, sent_ms=decoded.sent_ms + 1)
    assert not is_valid_signature(
        later.attestation.signer, later.attestation.signature, later.signing_bytes(NETWORK)
    )


def test_unsigned_version_1_request_and_malformed_signed_ones_are_refused() -> None:
    with pytest.raises(DecodeError, match="version 1 is not 2"):
        SignedReobserveRequest.decode(pack([FORMAT_VERSION, 31337, bytes(32), 0]))
    good = [REQUEST_VERSION, 31337, bytes(32), 0, 5, bytes(32), bytes(64)]
    names = ("request.chain_id", "request.tx_hash", "request.log_index", "sent_ms")
    names += ("attestation.signer", "attestation.signature")
    bad_values = (True, bytes(31), -1, 1.5, bytes(33), b"")
    for index, (name, bad) in enumerate(zip(names, bad_values, strict=True), start=1):
        fields = list(good)
        fields[index] = bad
        with pytest.raises(DecodeError, match=f"decode {re.escape(name)}:"):
            SignedReobserveRequest.decode(pack(fields))
    with pytest.raises(DecodeError, match=r"version 2\.0 is not 2"):
        SignedReobserveRequest.decode(pack([2.0, *good[1:]]))
    with pytest.raises(DecodeError, match="expected 7 fields, got 6"):
        SignedReobserveRequest.decode(pack(good[:-1]))
    assert SignedReobserveRequest.decode(pack(good)).sent_ms == 5
