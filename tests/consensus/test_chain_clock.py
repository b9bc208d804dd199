"""The others' clock as this node measures it (consensus/chain_clock.py): a proposer ahead
of it dates its proposals by it, one within AHEAD_MS or behind keeps its own."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from consensus.chain_clock import AHEAD_MS, RECENT, ChainClock, WarningInterval

NOW = 1_800_000_000_000


def test_before_any_block_of_the_others_a_proposer_keeps_its_own_clock() -> None:
    clock = ChainClock()
    assert clock.get_time(NOW) is None and clock.get_proposal_time(NOW) == NOW


def test_a_clock_30_s_ahead_dates_by_the_others_time_since_their_block_arrived() -> None:
    clock = ChainClock()
    clock.note_committed(NOW - 30_000, NOW - 200)  # proposed 30 s "ago", arrived 200 ms ago
    assert clock.get_proposal_time(NOW) == NOW - 30_000 + 200


def test_a_clock_within_the_margin_or_behind_keeps_its_own() -> None:
    clock = ChainClock()
    clock.note_committed(NOW - AHEAD_MS, NOW)
    assert clock.get_proposal_time(NOW) == NOW
    clock.note_committed(NOW + 30_000, NOW)  # this node's clock is behind theirs
    assert clock.get_proposal_time(NOW) == NOW


def test_a_proposer_dating_behind_moves_only_its_own_entry() -> None:
    clock = ChainClock()
    clock.note_committed(NOW - 30_000, NOW - 100)  # an honest proposer's block
    clock.note_committed(NOW - 90_000, NOW - 50)  # one dating its block a minute back
    assert clock.get_proposal_time(NOW) == NOW - 30_000 + 100


def test_the_estimate_follows_the_last_blocks_only() -> None:
    clock = ChainClock()
    clock.note_committed(NOW + 60_000, NOW - 10_000)  # long gone once RECENT more come
    for i in range(RECENT):
        clock.note_committed(NOW - 30_000 + i, NOW)
    assert clock.get_time(NOW) == NOW - 30_000 + RECENT - 1


@given(
    st.lists(
        st.tuples(st.integers(-120_000, 120_000), st.integers(0, 60_000)), min_size=1, max_size=8
    )
)
def test_a_proposal_is_never_dated_ahead_of_its_own_clock_nor_far_below_the_others(
    blocks: list[tuple[int, int]],
) -> None:
    clock = ChainClock()
    for offset_ms, age_ms in blocks:
        clock.note_committed(NOW + offset_ms - age_ms, NOW - age_ms)
    dated = clock.get_proposal_time(NOW)
    others = clock.get_time(NOW)
    assert others is not None and dated <= NOW
    assert dated == NOW or (dated == others and NOW - others > AHEAD_MS)


def test_a_warning_is_due_once_an_interval_either_way_the_clock_moves() -> None:
    warning = WarningInterval(60_000)
    assert warning.is_due(NOW) and not warning.is_due(NOW + 59_999)
    assert warning.is_due(NOW + 60_000) and not warning.is_due(NOW + 1)
    assert warning.is_due(NOW - 30_000)  # a clock set back a minute: time enough
