"""CometBFT's light-client checks against what a real CometBFT v0.38 network signed
(tests/vectors/cometbft/commits.json, `python -m tests.vectors.make_cometbft`)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lightclient.cometbft import (
    CometCommit,
    CometHeader,
    CometValidatorPowers,
    Timestamp,
    compute_merkle_root,
    encode_int,
    parse_commit,
    parse_header,
    parse_time,
    parse_validators,
)
from lightclient.commit import InvalidCommit

VECTORS = json.loads(
    (Path(__file__).parents[1] / "vectors" / "cometbft" / "commits.json").read_text()
)
CHAIN = VECTORS["chain_id"]


def load(height: str) -> tuple[CometHeader, CometCommit, CometValidatorPowers]:
    found: dict[str, Any] = VECTORS["heights"][height]
    signed = found["signed_header"]
    return (
        parse_header(signed["header"]),
        parse_commit(signed["commit"]),
        parse_validators(found["validators"]),
    )


def genesis_set() -> CometValidatorPowers:
    return CometValidatorPowers.of(
        (bytes.fromhex(v["pubkey"][2:]), v["power"]) for v in VECTORS["genesis_validators"]
    )


@pytest.mark.parametrize("height", sorted(VECTORS["heights"]))
def test_what_cometbft_signed_verifies(height: str) -> None:
    header, commit, validators = load(height)
    assert header.hash == commit.block_hash  # our header hash is CometBFT's block id
    assert validators.hash == header.validators_hash == genesis_set().hash
    commit.verify(CHAIN, genesis_set())
    assert header.height == commit.height == int(height)


def test_the_next_header_commits_to_this_one() -> None:
    first, _, _ = load("3")
    second, _, _ = load("4")
    assert second.last_block_id.hash == first.hash


def test_a_forged_or_foreign_commit_is_refused() -> None:
    header, commit, _ = load("3")
    validators = genesis_set()
    signed = [i for i, s in enumerate(commit.signatures) if s.signature]
    sig = commit.signatures[signed[0]]
    flipped = replace(sig, signature=bytes([sig.signature[0] ^ 1]) + sig.signature[1:])
    forged = replace(
        commit, signatures=tuple(flipped if s is sig else s for s in commit.signatures)
    )
    with pytest.raises(InvalidCommit, match=f"bad precommit signature {signed[0]}"):
        forged.verify(CHAIN, validators)
    with pytest.raises(InvalidCommit, match="bad precommit signature"):
        commit.verify("clearnode-1", validators)
    other_time = replace(commit, signatures=tuple(
        replace(s, timestamp=Timestamp(s.timestamp.seconds + 1, s.timestamp.nanos))
        for s in commit.signatures))  # fmt: skip
    with pytest.raises(InvalidCommit, match="bad precommit signature"):
        other_time.verify(CHAIN, validators)
    bigger = CometValidatorPowers.of([*validators.powers, (bytes(32), 100)])
    with pytest.raises(InvalidCommit, match="signature slots"):
        commit.verify(CHAIN, bigger)
    assert replace(header, app_hash=bytes(32)).hash != commit.block_hash


def test_without_two_thirds_of_the_power_a_commit_proves_nothing() -> None:
    _, commit, _ = load("3")
    validators = genesis_set()
    kept = 0
    signatures = []
    for sig in commit.signatures:  # keep two of four precommits: half the power
        signatures.append(
            sig if sig.signature and (kept := kept + 1) <= 2 else replace(sig, flag=1)
        )
    with pytest.raises(InvalidCommit) as refused:
        replace(commit, signatures=tuple(signatures)).verify(CHAIN, validators)
    assert (refused.value.signed_power, refused.value.total_power) == (20, 40)


def test_records_read_back_from_their_wire_form() -> None:
    header, commit, validators = load("4")
    assert CometHeader.from_wire(header.to_wire()) == header
    assert CometCommit.from_wire(commit.to_wire()) == commit
    assert CometValidatorPowers.from_wire(validators.to_wire()).hash == validators.hash


def test_times_are_read_to_the_nanosecond() -> None:
    assert parse_time("2026-11-24T22:24:29.160364171Z") == Timestamp(1795559069, 160364171)
    assert parse_time("2026-11-24T22:24:29Z") == Timestamp(1795559069, 0)
    assert parse_time("0001-01-01T00:00:00Z").seconds == -62135596800


@given(st.lists(st.binary(max_size=40), min_size=1, max_size=17))
def test_the_merkle_root_splits_at_the_largest_power_of_two(items: list[bytes]) -> None:
    if len(items) > 1:
        split = 1
        while split * 2 < len(items):
            split *= 2
        left, right = compute_merkle_root(items[:split]), compute_merkle_root(items[split:])
        assert (
            compute_merkle_root(items)
            == __import__("hashlib").sha256(b"\x01" + left + right).digest()
        )


def test_a_negative_int64_is_its_twos_complement_varint() -> None:
    assert encode_int(1, -1) == b"\x08" + b"\xff" * 9 + b"\x01"
