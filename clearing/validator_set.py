"""The validator set in force: every validator's record (a jailed one with power 0), the
jailings, and the active set (power > 0, in set order) after each block that changed it.

Consensus runs each height with the active set the state held two blocks before it
(CometBFT's rule: the set after block H governs H+2) and computes every height's set,
proposer priorities included, from genesis (or its own checkpoint) with
``state.validator_sets``; so that record is in the state root and snapshots, and a
restored node needs nothing else.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from clearing.genesis import Validator
from clearing.state import ClearingState, Jailing
from clearing.validator_errors import InvalidValidator, ValidatorListed, ValidatorSetSize
from records.codec import (
    MAX_TOTAL_POWER,
    MAX_VALIDATORS,
    DecodeError,
    expect_bytes,
    expect_int,
    expect_list,
)

VALIDATOR_FIELDS = 4


def has_power(validator: Validator | None) -> bool:
    """A validator of the set in force that is neither jailed nor unknown (None)."""
    return validator is not None and validator.power > 0


def get_validator_name(state: ClearingState, pubkey: bytes) -> str | None:
    """The name of `pubkey`'s validator record in force; None once governance removed it."""
    record = state.validators.get(pubkey)
    return None if record is None else record.name


def get_active_validators(validators: Mapping[bytes, Validator]) -> tuple[Validator, ...]:
    """The validators with voting power, in set order: what consensus and the vaults use."""
    return tuple(v for v in validators.values() if has_power(v))


def get_block_signers(state: ClearingState, height: int) -> tuple[Validator, ...]:
    """The set whose precommits commit block `height`: consensus runs height h + 2 with
    the set recorded after block h, so the one in force while block `height - 1` was
    applied."""
    return get_active_set_at(state, height - 1)


def get_set_change_heights(state: ClearingState) -> list[int]:
    """The blocks whose header named a new validator set (block h + 1 names the set
    recorded after block h), in height order: what a light client's walk goes through."""
    return sorted(changed + 1 for changed in state.validator_sets)


def get_voting_powers(validators: Mapping[bytes, Validator]) -> dict[bytes, int]:
    """The power of each validator that has some, by key: what a quorum is counted in."""
    return {v.pubkey: v.power for v in get_active_validators(validators)}


def get_active_set_at(state: ClearingState, height: int) -> tuple[Validator, ...]:
    """The active set in force while block `height` was applied (what checked its
    transactions' attestations): the one recorded after the newest block before `height`
    that changed it, else the genesis set. A height past the state's gives the set in
    force now."""
    changed = max((h for h in state.validator_sets if h < height), default=None)
    if changed is None:
        return tuple(v for v in state.genesis.validators if has_power(v))
    return state.validator_sets[changed]


def get_retiring_validators(state: ClearingState, window: int) -> tuple[Validator, ...]:
    """Validators that had voting power in one of the last `window` blocks and have none
    now (removed, jailed or re-keyed), each as its last record with power, in key order.
    A vault that has not rotated since still trusts their bridge keys, and removing or
    jailing a third of its power at once would leave it unable to rotate without them
    (node/bridge/signers.py lets them sign rotations that long)."""
    if window <= 0:
        return ()
    since = state.height - window + 1
    held = []
    for height in reversed(state.validator_sets):  # recorded in height order: newest first
        held.append(state.validator_sets[height])
        if height < since:  # the set in force while block `since` was applied
            break
    else:
        held.append(get_active_set_at(state, since))  # the genesis set
    now = get_voting_powers(state.validators)
    found = {v.pubkey: v for vs in reversed(held) for v in vs if v.pubkey not in now}
    return tuple(found[key] for key in sorted(found))


def install_validators(
    state: ClearingState, validators: dict[bytes, Validator], jailed: dict[bytes, Jailing]
) -> None:
    """The set in force from the end of this block; a changed active set is recorded at
    this height, for consensus to run height + 2 with."""
    before = get_active_validators(state.validators)
    state.validators, state.jailed = validators, jailed
    state.last_observed_ms = {k: t for k, t in state.last_observed_ms.items() if k in validators}
    state.total_power = sum(v.power for v in validators.values())
    active = get_active_validators(validators)
    if active != before:
        state.validator_sets[state.height] = active


def get_validator_fields(state: ClearingState) -> list[object]:
    return [
        [v.to_fields() for v in state.validators.values()],
        [[k, *j.to_fields()] for k, j in sorted(state.jailed.items())],
        [[h, [v.to_fields() for v in s]] for h, s in state.validator_sets.items()],
        [[k, t] for k, t in sorted(state.last_observed_ms.items())],
    ]


def decode_validator_fields(state: ClearingState, fields: list[Any]) -> None:
    """Restore the set a snapshot holds (``DecodeError`` on a bad entry)."""
    records, jailings, sets, observed = fields
    validators = {}
    for item in expect_list(records, "validators"):
        validator = Validator.from_fields(item)
        validators[validator.pubkey] = validator
    if not validators:
        raise DecodeError("validators", "an empty validator set")
    jailed = {}
    for item in expect_list(jailings, "jailed"):
        pubkey, evidence_height, height, power = expect_list(item, "jailing", 4)
        key = expect_bytes(pubkey, "pubkey", 32)
        if key not in validators:
            raise DecodeError("jailed", f"0x{key.hex()} is not a validator")
        jailed[key] = Jailing(
            expect_int(evidence_height, "evidence_height"),
            expect_int(height, "height"),
            expect_int(power, "power", 1),
        )
    state.validator_sets = {}
    for item in expect_list(sets, "validator_sets"):
        height, members = expect_list(item, "validator_set", 2)
        state.validator_sets[expect_int(height, "height")] = tuple(
            Validator.from_fields(v) for v in expect_list(members, "members")
        )
    state.last_observed_ms = {}
    for item in expect_list(observed, "last_observed_ms"):
        pubkey, observed_ms = expect_list(item, "last_observed", 2)
        key = expect_bytes(pubkey, "pubkey", 32)
        if key not in validators:
            raise DecodeError("last_observed_ms", f"0x{key.hex()} is not a validator")
        state.last_observed_ms[key] = expect_int(observed_ms, "observed_ms")
    state.validators, state.jailed = validators, jailed
    state.total_power = sum(v.power for v in validators.values())


def check_validator_set(validators: dict[bytes, Validator]) -> None:
    """1 to MAX_VALIDATORS validators (jailed ones included) with some voting power, their
    total within MAX_TOTAL_POWER (CometBFT's bound, as the genesis); keys unique by
    construction, EVM addresses unique (a vault's signer set has each address once)."""
    power = sum(v.power for v in validators.values())
    if not 1 <= len(validators) <= MAX_VALIDATORS or power == 0:
        raise ValidatorSetSize(len(validators), power, MAX_VALIDATORS)
    if power > MAX_TOTAL_POWER:
        raise InvalidValidator("power", f"a total power of at most {MAX_TOTAL_POWER}", power)
    seen: set[bytes] = set()
    for v in validators.values():
        if v.evm_address in seen:
            raise ValidatorListed("evm_address", v.evm_address)
        seen.add(v.evm_address)
