"""The `prices` topic's first-hop check: a good observation decodes; every bad one
raises a typed error carrying the numbers that explain it."""

from __future__ import annotations

import copy
import json
from dataclasses import replace
from pathlib import Path

import msgpack
import pytest

from clearing.context import Equivocation
from clearing.errors import BadSignature, StaleObservation, UnknownFeed, UnknownInstrument
from clearing.oracle import PriceObservation, sign_price_observation
from clearnode.client.sandbox_keys import derive_ed25519_key
from devnet.sandbox import Sandbox
from node.oracle.gossip import (
    MAX_OBSERVATION_BYTES,
    ObservationCheck,
    SignerWithoutPower,
    encode_observation,
)
from node.p2p.errors import WrongChain
from records.codec import DecodeError

ROOT = Path(__file__).resolve().parents[3]
GENESIS = json.loads((ROOT / "configs" / "genesis.example.json").read_text())
NOW = 1_767_225_600_000


@pytest.fixture
def box() -> Sandbox:
    return Sandbox.from_genesis_doc(copy.deepcopy(GENESIS))


def observe(box: Sandbox, key_index: int = 0, **overrides: object) -> PriceObservation:
    args: dict[str, object] = {
        "key": box.validator_keys[key_index],
        "chain_id": box.chain_id,
        "observed_ms": NOW,
        "index_prices": {"BTC/0.001": 61_000_000},
        "mark_prices": {"BTC-PERP": 61_000_000},
    }
    args.update(overrides)
    return sign_price_observation(**args)  # type: ignore[arg-type]


def check(box: Sandbox, now: int = NOW) -> ObservationCheck:
    return ObservationCheck.from_genesis(box.genesis, lambda: box.state, lambda: now)


def test_a_signed_fresh_observation_decodes(box: Sandbox) -> None:
    observation = observe(box)
    assert check(box).decode(encode_observation(box.chain_id, observation)) == observation
    max_age = box.genesis.oracle.max_age_ms
    late = check(box, NOW + max_age).decode(encode_observation(box.chain_id, observation))
    assert late == observation  # exactly max_age_ms old is still fresh


def test_wrong_chain_is_refused_with_both_ids(box: Sandbox) -> None:
    other = observe(box, chain_id=999)
    with pytest.raises(WrongChain) as info:
        check(box).decode(encode_observation(999, other))
    assert (info.value.expected, info.value.found) == (box.chain_id, 999)
    # signed for another chain but sent under ours: the signature does not verify
    with pytest.raises(BadSignature):
        check(box).decode(encode_observation(box.chain_id, other))


def test_a_forgery_is_refused_and_a_signer_without_power_ignored(box: Sandbox) -> None:
    """A key outside the set in force, or jailed, may be a validator in a block this node
    or the forwarder has not committed yet: dropped unpenalised, never pooled."""
    genuine = observe(box)
    forged = PriceObservation(
        genuine.signer, genuine.observed_ms, genuine.index_prices,
        (("BTC-PERP", 1),), genuine.signature,
    )  # fmt: skip
    with pytest.raises(BadSignature) as bad:
        check(box).decode(encode_observation(box.chain_id, forged))
    assert bad.value.signer == genuine.signer
    outsider = observe(box, key=derive_ed25519_key("not-a-validator"))
    with pytest.raises(SignerWithoutPower) as unknown:
        check(box).decode(encode_observation(box.chain_id, outsider))
    assert (unknown.value.signer, unknown.value.height) == (outsider.signer, box.state.height)
    box.apply([], (Equivocation(genuine.signer, box.state.height),))
    with pytest.raises(SignerWithoutPower):
        check(box).decode(encode_observation(box.chain_id, observe(box)))


def test_a_validator_in_the_set_in_force_counts_from_its_block_on(box: Sandbox) -> None:
    """Governance's new validator (here written straight into the state) is checked
    against the committed state, not the genesis."""
    key = derive_ed25519_key("validator-4")
    observation = observe(box, key=key)
    data = encode_observation(box.chain_id, observation)
    with pytest.raises(SignerWithoutPower):
        check(box).decode(data)
    added = replace(box.genesis.validators[0], name="validator-4", pubkey=observation.signer)
    box.state.validators = {**box.state.validators, added.pubkey: added}
    assert check(box).decode(data) == observation


@pytest.mark.parametrize(
    ("offset_ms", "limit_ms"), [(-30_001, 30_000), (10_001, 10_000), (-60_000, 30_000)]
)
def test_replayed_and_future_observations_are_refused(
    box: Sandbox, offset_ms: int, limit_ms: int
) -> None:
    observation = observe(box, observed_ms=NOW + offset_ms)
    with pytest.raises(StaleObservation) as info:
        check(box).decode(encode_observation(box.chain_id, observation))
    assert (info.value.observed_ms, info.value.time_ms) == (NOW + offset_ms, NOW)
    assert info.value.max_age_ms == limit_ms


def test_a_late_observation_is_relayed_not_refused(box: Sandbox) -> None:
    """Up to 3 x max_age_ms late may be a loaded network: no penalty (the pool drops it)."""
    late = observe(box, observed_ms=NOW - 3 * box.genesis.oracle.max_age_ms)
    assert check(box).decode(encode_observation(box.chain_id, late)) == late


def test_unknown_ids_and_malformed_bytes_are_refused(box: Sandbox) -> None:
    with pytest.raises(UnknownFeed):
        check(box).decode(encode_observation(box.chain_id, observe(box, index_prices={"X": 1})))
    fields = observe(box).to_fields()
    for data, reason in (
        (b"\xc1garbage", "not msgpack"),
        (msgpack.packb([2, box.chain_id, fields]), "version 2"),
        (msgpack.packb([1, box.chain_id]), ""),
        (msgpack.packb([1, box.chain_id, fields[:-1]]), ""),
        (b"\x00" * (MAX_OBSERVATION_BYTES + 1), f"exceed {MAX_OBSERVATION_BYTES}"),
    ):
        with pytest.raises(DecodeError) as info:
            check(box).decode(data)
        assert reason in str(info.value)


def test_the_topic_caps_size_and_rejects_with_these_errors(box: Sandbox) -> None:
    topic = check(box).topic()
    assert topic.name == "prices" and topic.max_bytes == MAX_OBSERVATION_BYTES
    assert issubclass(WrongChain, topic.rejects)
    # a validly signed observation outside the window, marking an instrument this node's
    # state does not know yet, or by a key without power here, proves nothing against
    # its forwarder
    assert topic.ignores == (StaleObservation, UnknownInstrument, SignerWithoutPower)
