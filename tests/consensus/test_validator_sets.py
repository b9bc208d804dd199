"""The validator sets an engine looks up (consensus/validator_sets.py): the same sets as
advancing every height from genesis, with the application's changes two heights on, and
only the window a height needs kept however long the chain runs; a checkpoint restarts
the walk where it was, priorities and all."""

from __future__ import annotations

import pytest

from consensus.sim.simulator import make_key
from consensus.types import ValidatorSet, Voter
from consensus.validator_sets import (
    SETS_KEPT,
    ValidatorCheckpoint,
    ValidatorSetForgotten,
    ValidatorSets,
)
from records.codec import MAX_EVIDENCE_AGE_BLOCKS, DecodeError, pack

VOTERS = tuple(
    Voter(f"v{i}", make_key(i).public_key, power) for i, power in enumerate((1, 2, 3, 4))
)
CHANGES = {7: VOTERS[:3], 150: (*VOTERS[1:], Voter("v9", make_key(9).public_key, 5))}
"""The application's set after blocks 7 and 150."""


def every_set(last: int) -> list[ValidatorSet]:
    """Heights 1..last, each advanced from the one before and all of them kept."""
    sets = [ValidatorSet.from_validators(VOTERS)]
    for following in range(2, last + 1):
        update = CHANGES.get(following - 2)
        previous = sets[-1]
        sets.append(previous.next_height() if update is None else previous.compute_updated(update))
    return sets


def test_the_window_holds_the_sets_every_height_from_genesis_would() -> None:
    sets = ValidatorSets(ValidatorSet.from_validators(VOTERS), CHANGES.get)
    expected = every_set(401)
    for height in range(1, 401):
        first = max(1, height - MAX_EVIDENCE_AGE_BLOCKS)
        assert sets.get(height + 1) == expected[height]  # the next height's, asked first
        assert [sets.get(h) for h in range(first, height + 1)] == expected[first - 1 : height]


def test_a_set_older_than_the_window_is_forgotten_and_says_which_is_kept() -> None:
    sets = ValidatorSets(ValidatorSet.from_validators(VOTERS), CHANGES.get)
    sets.get(1_000)
    assert len(sets.get(1_000 - SETS_KEPT + 1).validators) == 4
    with pytest.raises(ValidatorSetForgotten) as refused:
        sets.get(1_000 - SETS_KEPT)
    assert (refused.value.height, refused.value.first_kept) == (
        1_000 - SETS_KEPT,
        1_000 - SETS_KEPT + 1,
    )
    assert "height 898 is forgotten: the first kept is 899" in str(refused.value)


def test_a_walk_from_a_checkpoint_gives_the_sets_the_walk_from_genesis_gives() -> None:
    expected = every_set(401)
    checkpoint = ValidatorCheckpoint(120, expected[119])
    restored = ValidatorCheckpoint.decode(checkpoint.encode())
    sets = ValidatorSets(restored.validator_set, CHANGES.get, first_height=restored.height)
    assert [sets.get(h) for h in range(120, 402)] == expected[119:]  # the change after 150
    with pytest.raises(ValidatorSetForgotten):
        ValidatorSets(restored.validator_set, CHANGES.get, first_height=120).get(119)


def test_a_checkpoint_keeps_priorities_past_64_bits_and_refuses_a_proposer_out_of_the_set() -> None:
    big = ValidatorSet(VOTERS, (2**80, -(2**80) - 3, 1, 2), 1)
    checkpoint = ValidatorCheckpoint(7, big)
    assert ValidatorCheckpoint.decode(checkpoint.encode()).validator_set == big
    fields = checkpoint.to_fields()
    fields[-1][-1] = 4
    with pytest.raises(DecodeError, match="proposer index 4 of 4 validators"):
        ValidatorCheckpoint.decode(pack(fields))
    fields[0] = 2
    with pytest.raises(DecodeError, match="version 2 is not 1"):
        ValidatorCheckpoint.decode(pack(fields))
