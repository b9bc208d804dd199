"""WAL compaction by the node: records of committed heights go, the signer guard stays as strict.

Property: whatever was signed, whichever tip the log is compacted at, and wherever a
crash stops the rewrite, a restarted signer never signs a second message for a slot,
nor anything below its newest slot; the current height's records replay unchanged.
"""

from __future__ import annotations

import contextlib
import tempfile
from pathlib import Path
from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from consensus.inputs import TimeoutFired
from consensus.records import encode_height_record, encode_input_record
from consensus.signer import DoubleSignRefused, Signer, Slot
from consensus.types import Step, Vote, VoteType
from consensus.wal import FileWalStorage, Wal
from lightclient.crypto import PrivateKey
from node.engine.wal_compaction import compact_wal, select_wal_records

KEY = PrivateKey(bytes(range(32)))
CHAIN = "clearnode-test"
CRASH_POINTS = [None, "consensus.wal.os.replace", "consensus.wal._sync_directory"]


class Crash(Exception):
    """The process dies at the patched call."""


def vote_at(slot: Slot, block: int) -> Vote:
    height, round_, step = slot
    kind = VoteType.PREVOTE if step == Step.PREVOTE else VoteType.PRECOMMIT
    return Vote(kind, height, round_, None if block == 0 else bytes([block]) * 32, KEY.public_key)


# Per height: per round, which steps were signed and for which block (0 = nil).
heights_st = st.lists(
    st.lists(
        st.tuples(st.sampled_from([Step.PREVOTE, Step.PRECOMMIT]), st.integers(0, 2)),
        min_size=0,
        max_size=2,
        unique_by=lambda pair: pair[0],
    ).map(sorted),
    min_size=1,
    max_size=5,
)


def write_log(path: Path, heights: list[list[tuple[Step, int]]]) -> dict[Slot, Vote]:
    """A driver-shaped log: height marker, inputs, signatures; one round per list item."""
    wal = Wal(FileWalStorage(path))
    signer = Signer(KEY, CHAIN, wal)
    signed: dict[Slot, Vote] = {}
    for height, steps in enumerate(heights, start=1):
        wal.append(encode_height_record(height), sync=True)
        for step, block in steps:
            slot = (height, 0, int(step))
            wal.append(encode_input_record(TimeoutFired(height, 0, Step.PROPOSE)))
            signed[slot] = signer.sign_vote(vote_at(slot, block))
    return signed


@settings(max_examples=60, deadline=None)
@given(
    heights=heights_st,
    tip_back=st.integers(0, 5),
    crash_at=st.sampled_from(CRASH_POINTS),
)
def test_compaction_never_lets_a_restarted_signer_double_sign(
    heights: list[list[tuple[Step, int]]], tip_back: int, crash_at: str | None
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "consensus.wal"
        signed = write_log(path, heights)
        next_height = max(1, len(heights) + 1 - tip_back)
        before = Wal(FileWalStorage(path)).records
        wal = Wal(FileWalStorage(path))
        if crash_at is None:
            compact_wal(wal, next_height)
        else:  # nothing to drop means no rewrite, hence no crash
            with mock.patch(crash_at, side_effect=Crash), contextlib.suppress(Crash):
                compact_wal(wal, next_height)
        after = Wal(FileWalStorage(path)).records
        assert after in (before, select_wal_records(before, next_height))
        assert_replay_unchanged(before, after, next_height)
        restarted = Signer(KEY, CHAIN, Wal(FileWalStorage(path)))
        newest = max(signed, default=None)
        for slot, vote in signed.items():
            other = vote_at(slot, 3)
            with pytest.raises(DoubleSignRefused):
                restarted.sign_vote(other)
            if slot == newest:
                assert restarted.sign_vote(vote_at(slot, vote_block(vote))) == vote


def vote_block(vote: Vote) -> int:
    return 0 if vote.block_hash is None else vote.block_hash[0]


def assert_replay_unchanged(before: list[bytes], after: list[bytes], height: int) -> None:
    """What the driver replays at `height` (records after its marker) is kept in order."""
    marker = encode_height_record(height)
    if marker in before:
        tail = before[before.index(marker) :]
        assert after[len(after) - len(tail) :] == tail


def test_compaction_keeps_only_the_newest_signature_below_the_tip(tmp_path: Path) -> None:
    path = tmp_path / "consensus.wal"
    heights = [[(Step.PREVOTE, 1), (Step.PRECOMMIT, 1)]] * 3
    signed = write_log(path, heights)
    wal = Wal(FileWalStorage(path))
    compact_wal(wal, 3)
    records = Wal(FileWalStorage(path)).records
    assert len(records) == 1 + 5  # newest signature of height 2, then height 3 whole
    assert records[1] == encode_height_record(3)
    wal.append(encode_height_record(4), sync=True)
    assert Wal(FileWalStorage(path)).records[-1] == encode_height_record(4)
    restarted = Signer(KEY, CHAIN, Wal(FileWalStorage(path)))
    with pytest.raises(DoubleSignRefused):
        restarted.sign_vote(vote_at((2, 0, int(Step.PRECOMMIT)), 2))
    assert restarted.sign_vote(vote_at((3, 0, int(Step.PRECOMMIT)), 1)) == signed[(3, 0, 3)]
