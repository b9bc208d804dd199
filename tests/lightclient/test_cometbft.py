"""CometBFT's light-client checks against what a real CometBFT network signed
(tests/vectors/cometbft/commits.json, `python -m tests.vectors.make_cometbft`): two
blocks of the genesis's set, a governance change of the set and the first block the new
set signs, and forgeries of each (`CASES`), which the browser verifier must judge in the
same words (tests/web/verifier/test_cometbft_vectors.py)."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lightclient.anchor import (
    COMETBFT,
    AnchorError,
    SetChange,
    SetChangeError,
    StateAnchor,
    check_anchor,
    follow_set_changes,
    get_consensus_chain_id,
)
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
from records.codec import pack

VECTORS = json.loads(
    (Path(__file__).parents[1] / "vectors" / "cometbft" / "commits.json").read_text()
)
CHAIN = VECTORS["chain_id"]
GENESIS_HASH = bytes.fromhex(VECTORS["genesis_hash"].removeprefix("0x"))
CHAIN_ID = int(CHAIN.split("-")[1])
OTHER_GENESIS = bytes([GENESIS_HASH[0] ^ 1]) + GENESIS_HASH[1:]
"""A genesis one byte apart (the same chain id): another chain, whose name differs."""


def load(found: dict[str, Any]) -> tuple[CometHeader, CometCommit, CometValidatorPowers]:
    """A captured block: its header, its commit and the set that signs it."""
    signed = found["signed_header"]
    return (
        parse_header(signed["header"]),
        parse_commit(signed["commit"]),
        parse_validators(found["validators"]),
    )


GENESIS_SET = CometValidatorPowers.of(
    (bytes.fromhex(v["pubkey"][2:]), v["power"]) for v in VECTORS["genesis_validators"]
)


def forge_a_precommit(commit: CometCommit) -> tuple[CometCommit, int]:
    """`commit` with its first precommit's signature flipped, and that slot."""
    index = next(i for i, s in enumerate(commit.signatures) if s.signature)
    sig = commit.signatures[index]
    flipped = replace(sig, signature=bytes([sig.signature[0] ^ 1]) + sig.signature[1:])
    signatures = (*commit.signatures[:index], flipped, *commit.signatures[index + 1 :])
    return replace(commit, signatures=signatures), index


def keep_half(commit: CometCommit) -> CometCommit:
    """`commit` with two of its four precommits: half the power."""
    kept = 0
    signatures = []
    for sig in commit.signatures:
        signatures.append(
            sig if sig.signature and (kept := kept + 1) <= 2 else replace(sig, flag=1)
        )
    return replace(commit, signatures=tuple(signatures))


@dataclass(frozen=True)
class Case:
    """An anchor the vectors hold or one forged from them; what its commit's check against
    `validators` and the walk from the genesis's set to the anchor must say (None: valid;
    else words of the refusal)."""

    name: str
    anchor: StateAnchor
    validators: CometValidatorPowers
    commit: str | None
    walk: str | None
    chain_id: int = CHAIN_ID
    genesis_hash: bytes = GENESIS_HASH

    @property
    def chain(self) -> str:
        return get_consensus_chain_id(self.chain_id, self.genesis_hash)


def make_genesis_set_cases() -> list[Case]:
    """Blocks 3 and 4, signed by the genesis's set, and forgeries of block 3's."""
    header, commit, _ = load(VECTORS["heights"]["3"])
    later, later_commit, _ = load(VECTORS["heights"]["4"])
    forged, index = forge_a_precommit(commit)
    retimed = replace(commit, signatures=tuple(
        replace(s, timestamp=Timestamp(s.timestamp.seconds + 1, s.timestamp.nanos))
        for s in commit.signatures))  # fmt: skip
    bigger = CometValidatorPowers.of([*GENESIS_SET.powers, (bytes(32), 100)])
    other_root = replace(header, app_hash=bytes(32))
    anchor = StateAnchor(header, commit, (), COMETBFT)
    not_committed = "the header is not committed: invalid commit at height 3"
    return [
        Case("block 3", anchor, GENESIS_SET, None, None),
        Case("block 4", StateAnchor(later, later_commit, (), COMETBFT), GENESIS_SET, None, None),
        Case("a forged precommit", replace(anchor, commit=forged), GENESIS_SET,
             f"bad precommit signature {index}", f"{not_committed}: bad precommit signature"),
        Case("another chain's", anchor, GENESIS_SET, "bad precommit signature",
             f"of chain {CHAIN!r}, not 'clearnode-1-", chain_id=1),
        Case("another genesis's", anchor, GENESIS_SET, "bad precommit signature",
             f"of chain {CHAIN!r}, not 'clearnode-{CHAIN_ID}-{OTHER_GENESIS[:8].hex()}'",
             genesis_hash=OTHER_GENESIS),
        Case("re-timed precommits", replace(anchor, commit=retimed), GENESIS_SET,
             "bad precommit signature", f"{not_committed}: bad precommit signature"),
        Case("a set of five", anchor, bigger, "4 signature slots for a set of 5", None),
        Case("half the power", replace(anchor, commit=keep_half(commit)), GENESIS_SET,
             "no quorum (signed power 20 of total 40)", f"{not_committed}: no quorum"),
        Case("another state root", replace(anchor, header=other_root), GENESIS_SET, None,
             f"the certificate commits block 0x{commit.block_hash.hex()} at height 3, not"),
    ]  # fmt: skip


def make_set_change_cases() -> list[Case]:
    """The first block the new set signs, anchored through the captured change, without
    it, and through forgeries of it."""
    header, commit, held = load(VECTORS["set_change"])
    after, after_commit, new_set = load(VECTORS["after_change"])
    height = header.height
    change = SetChange(header, commit, new_set)
    anchor = StateAnchor(after, after_commit, (change,), COMETBFT)
    # the new set, one power changed: what a forger wants the next set to be
    (key, power), *rest = new_set.powers
    other_set = CometValidatorPowers.of([(key, power + 100), *rest])
    renamed = replace(header, next_validators_hash=other_set.hash)
    unchanged, unchanged_commit, _ = load(VECTORS["heights"]["3"])
    refused = f"the validator-set change in block {height} is not the chain's: its "
    return [
        Case("through the set change", anchor, new_set, None, None),
        Case("without the set change", replace(anchor, set_changes=()), GENESIS_SET,
             "is not by the set's validator", "does not carry the change of the validator set"),
        Case("a set change carrying another set",
             replace(anchor, set_changes=(replace(change, validators=other_set),)), new_set,
             None, f"{refused}header names the next set"),
        Case("a set change with a forged precommit",
             replace(anchor, set_changes=(replace(change, commit=forge_a_precommit(commit)[0]),)),
             new_set, None, f"{refused}header is not committed: invalid commit at height "
             f"{height}: bad precommit signature"),
        Case("a set change whose header names another set",
             replace(anchor, set_changes=(SetChange(renamed, commit, other_set),)), new_set,
             None, f"{refused}certificate commits block 0x{commit.block_hash.hex()}"),
        Case("a block of no change offered as one",
             replace(anchor, set_changes=(SetChange(unchanged, unchanged_commit, held),)),
             new_set, None, "the validator-set change in block 3 is not the chain's: its "
             "header names the set that signs it as the next one"),
    ]  # fmt: skip


CASES = make_genesis_set_cases() + make_set_change_cases()


def get_verdicts(case: Case) -> dict[str, Any]:
    """What the Python verifier finds of `case`, in the form cometbft_cli.ts answers."""
    anchor = case.anchor
    try:
        anchor.commit.verify(case.chain, case.validators)
        commit = None
    except InvalidCommit as exc:
        commit = str(exc)
    walk: dict[str, Any]
    try:
        history = follow_set_changes(anchor.set_changes, case.chain, GENESIS_SET)
    except SetChangeError as exc:
        walk = {"failure": str(exc)}
    else:
        height = anchor.header.height
        try:
            check_anchor(anchor, case.chain, height - 1, anchor.header.prev_state_root,
                         history.get_set_at(height))  # fmt: skip
            outcome = None
        except AnchorError as exc:
            outcome = str(exc)
        walk = {"changed_at": list(history.changed_at), "anchor": outcome}
    return {
        "header_hash": anchor.header.hash.hex(),
        "block_hash": anchor.commit.block_hash.hex(),
        "validators_hash": case.validators.hash.hex(),
        "commit": commit,
        "walk": walk,
    }


def to_request(case: Case) -> dict[str, Any]:
    """`case` as cometbft_cli.ts reads it."""
    return {
        "anchor": pack(case.anchor.to_wire()).hex(),
        "chain_id": case.chain_id,
        "genesis_hash": case.genesis_hash.hex(),
        "validators": [[key.hex(), power] for key, power in case.validators.powers],
        "genesis": [[key.hex(), power] for key, power in GENESIS_SET.powers],
    }


def assert_says(found: str | None, expected: str | None) -> None:
    """`found` is valid (None) as `expected` is, or a refusal in `expected`'s words."""
    if expected is None:
        assert found is None, found
    else:
        assert found is not None and expected in found, found


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_each_case_gets_its_verdict(case: Case) -> None:
    found = get_verdicts(case)
    assert_says(found["commit"], case.commit)
    walk = found["walk"]
    assert_says(walk.get("failure") or walk["anchor"], case.walk)


def test_what_cometbft_signed_hashes_as_cometbft_does() -> None:
    """CometBFT's own answers: the block id is the header's hash, and every set the RPC
    served hashes to what its header names."""
    for found in [*VECTORS["heights"].values(), VECTORS["set_change"], VECTORS["after_change"]]:
        header, commit, validators = load(found)
        assert header.hash == commit.block_hash
        assert validators.hash == header.validators_hash
    assert load(VECTORS["heights"]["3"])[2].hash == GENESIS_SET.hash


def test_the_set_change_is_the_chains() -> None:
    """Governance swapped one validator; the header of the block before the new set signs
    names it next, and the walk from the genesis's set puts it in force after that block."""
    header, commit, held = load(VECTORS["set_change"])
    after, _, new_set = load(VECTORS["after_change"])
    assert held.hash == GENESIS_SET.hash != new_set.hash == header.next_validators_hash
    assert len(set(new_set.powers) - set(GENESIS_SET.powers)) == 1
    assert after.last_block_id.hash == header.hash
    history = follow_set_changes((SetChange(header, commit, new_set),), CHAIN, GENESIS_SET)
    assert history.changed_at == (header.height,)
    assert history.get_set_at(after.height) is new_set


def test_the_next_header_commits_to_this_one() -> None:
    first, _, _ = load(VECTORS["heights"]["3"])
    second, _, _ = load(VECTORS["heights"]["4"])
    assert second.last_block_id.hash == first.hash


def test_records_read_back_from_their_wire_form() -> None:
    header, commit, validators = load(VECTORS["heights"]["4"])
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
