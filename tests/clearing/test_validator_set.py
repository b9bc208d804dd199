"""The active set in force at a height (`get_active_set_at`), from the record of the sets
after each block that changed them: what the node's services check attestations of a
block with, as clearing did."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from clearing.context import Equivocation
from clearing.genesis import Validator
from clearing.transition.snapshot import decode_snapshot, encode_snapshot
from clearing.validator_set import (
    get_active_set_at,
    get_active_validators,
    get_retiring_validators,
    install_validators,
)
from tests.clearing.governance.support import gov_sandbox
from tests.clearing.governance.validator_support import pubkey
from tests.clearing.support import new_sandbox


def test_before_any_change_every_height_has_the_genesis_set() -> None:
    box = gov_sandbox()
    box.apply([])
    genesis = tuple(box.state.genesis.validators)
    assert [get_active_set_at(box.state, h) for h in (1, 2, 5)] == [genesis] * 3


def test_a_change_at_a_height_governs_the_blocks_after_it() -> None:
    box = gov_sandbox()
    box.apply([])
    box.apply([], (Equivocation(pubkey(box, 1), 1),))  # jailed at the end of block 2
    genesis = tuple(box.state.genesis.validators)
    after = get_active_validators(box.state.validators)
    assert [v.name for v in after] == ["validator-0", "validator-2", "validator-3"]
    assert get_active_set_at(box.state, 2) == genesis  # block 2's txs saw the old set
    assert get_active_set_at(box.state, 3) == after
    assert get_active_set_at(box.state, 99) == after


@settings(max_examples=30, deadline=None)
@given(st.lists(st.none() | st.integers(0, 3), min_size=1, max_size=8))
def test_each_height_gets_the_set_after_the_block_before_it(jailings: list[int | None]) -> None:
    """Blocks jailing (or not) one validator each: block h was applied under the active
    set the state held after block h - 1, also once restored from a snapshot."""
    box = gov_sandbox()
    seen: list[tuple[Validator, ...]] = [get_active_validators(box.state.validators)]
    for n in jailings:
        evidence = () if n is None else (Equivocation(pubkey(box, n), 1),)
        box.apply([], evidence)
        seen.append(get_active_validators(box.state.validators))
    restored = decode_snapshot(box.state.genesis, encode_snapshot(box.state))
    for height in range(1, box.state.height + 2):
        assert get_active_set_at(box.state, height) == seen[height - 1]
        assert get_active_set_at(restored, height) == seen[height - 1]


def test_a_validator_jailed_is_retiring_for_the_window_after_the_block_that_jailed_it() -> None:
    """Jailed at the end of block 2 (its last block with power): retiring through block
    2 + window - 1 with the record it had power with, then not; none with no window."""
    box = gov_sandbox()
    box.apply([])
    box.apply([], (Equivocation(pubkey(box, 1), 1),))
    jailed = box.state.genesis.validators[1]
    assert get_retiring_validators(box.state, 3) == (jailed,)
    assert get_retiring_validators(box.state, 0) == ()
    box.apply([])
    assert get_retiring_validators(box.state, 2) == (jailed,)  # block 2 is among the last 2
    box.apply([])
    assert get_retiring_validators(box.state, 2) == ()
    assert get_retiring_validators(box.state, 3) == (jailed,)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.none() | st.integers(0, 3), min_size=1, max_size=8), st.integers(0, 10))
def test_retiring_validators_are_those_with_power_in_a_recent_block_and_none_now(
    jailings: list[int | None], window: int
) -> None:
    """Against the definition: a key with power in the set some block of the last
    `window` was applied under, and with none now, as its last record with power."""
    box = gov_sandbox()
    for n in jailings:
        box.apply([], () if n is None else (Equivocation(pubkey(box, n), 1),))
    state = box.state
    now = {v.pubkey for v in get_active_validators(state.validators)}
    expected: dict[bytes, Validator] = {}
    for height in range(max(state.height - window + 1, 1), state.height + 1):
        for v in get_active_set_at(state, height):
            if v.pubkey not in now:
                expected[v.pubkey] = v
    found = get_retiring_validators(state, window)
    assert {v.pubkey: v for v in found} == expected
    assert [v.pubkey for v in found] == sorted(expected)


def test_a_removed_validator_s_newest_observation_is_forgotten() -> None:
    """What the price rule keeps per validator stays within the set (snapshots refuse
    an entry of another key)."""
    box = new_sandbox()
    box.apply([box.prices({"BTC/0.001": 61_000_000}, {})])
    kept = dict(box.state.validators)
    removed = next(iter(kept))
    del kept[removed]
    install_validators(box.state, kept, {})
    assert set(box.state.last_observed_ms) == set(kept)
