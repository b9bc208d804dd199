"""The others' clock as this node measures it (consensus/chain_clock.py): a proposer ahead
of it, once the others refused a proposal dated by its own clock, dates its proposals by
it; one within AHEAD_MS or behind, or whose proposals commit, keeps its own."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from consensus.chain_clock import (
    AHEAD_MS,
    FIRST_PROBE_TURNS,
    MAX_PROBE_TURNS,
    RECENT,
    ChainClock,
    WarningInterval,
)

NOW = 1_800_000_000_000


def test_before_any_block_of_the_others_a_proposer_keeps_its_own_clock() -> None:
    clock = ChainClock()
    assert clock.get_time(NOW) is None and clock.get_proposal_time(NOW) == NOW


def refused_once() -> ChainClock:
    """A clock whose proposal dated by its own clock, before any block of the others told
    their time, did not commit."""
    clock = ChainClock()
    clock.note_proposed(NOW, NOW)
    clock.note_own_outcome(committed=False)
    return clock


def propose(clock: ChainClock, now_ms: int = NOW) -> bool:
    """A turn of `clock`'s at `now_ms`; whether it dated it by its own clock."""
    dated_ms = clock.get_proposal_time(now_ms)
    clock.note_proposed(now_ms, dated_ms)
    return dated_ms == now_ms


def test_a_clock_30_s_ahead_dates_by_the_others_time_since_their_block_arrived() -> None:
    clock = refused_once()
    clock.note_committed(NOW - 30_000, NOW - 200)  # proposed 30 s "ago", arrived 200 ms ago
    assert clock.get_proposal_time(NOW) == NOW - 30_000 + 200


def test_a_clock_that_looks_ahead_keeps_its_own_while_its_proposals_commit() -> None:
    """A proposal's way here over the margin makes every honest clock look ahead: only a
    refusal tells a clock that is."""
    clock = ChainClock()
    clock.note_committed(NOW - 1_500, NOW)
    assert propose(clock)
    clock.note_own_outcome(committed=True)
    assert clock.get_proposal_time(NOW) == NOW


def test_a_proposal_refused_while_the_clock_agreed_with_the_others_says_nothing_of_it() -> None:
    """A validator cut off from the others proposes in vain: its clock is not the cause."""
    clock = ChainClock()
    clock.note_committed(NOW - 100, NOW)
    assert propose(clock)
    clock.note_own_outcome(committed=False)
    assert not clock.own_clock_refused
    clock.note_committed(NOW - 30_000, NOW)  # its blocks, once back, look ahead
    assert clock.get_proposal_time(NOW) == NOW


def test_honest_clocks_whose_proposals_come_slowly_keep_the_chain_s_time() -> None:
    """Four validators, every proposal 1.5 s on its way: each dates its blocks by its own
    clock, so the chain's time is never further behind than that (dating by the others'
    estimate, each block its lag behind the last, put it a minute behind in 200
    heights)."""
    clocks = [ChainClock() for _ in range(4)]
    now_ms, way_ms, parent_ms = NOW, 1_500, 0
    for height in range(1, 201):
        proposer = clocks[height % 4]
        dated_ms = proposer.get_proposal_time(now_ms)
        proposer.note_proposed(now_ms, dated_ms)
        parent_ms = max(dated_ms, parent_ms + 1)
        proposer.note_own_outcome(committed=True)
        now_ms += way_ms
        for clock in clocks:
            if clock is not proposer:
                clock.note_committed(parent_ms, now_ms)
        assert now_ms - parent_ms == way_ms
        now_ms += 1_000


def test_a_clock_still_ahead_is_tried_again_ever_more_rarely() -> None:
    clock = refused_once()
    clock.note_committed(NOW - 30_000, NOW)
    turns = []
    for _ in range(FIRST_PROBE_TURNS + 2 * FIRST_PROBE_TURNS + 2):
        turns.append(propose(clock))
        if turns[-1]:
            clock.note_own_outcome(committed=False)  # still 30 s ahead: refused
    tries = [i for i, own in enumerate(turns) if own]
    assert tries == [FIRST_PROBE_TURNS, 3 * FIRST_PROBE_TURNS + 1]
    assert clock.probe_turns == 4 * FIRST_PROBE_TURNS
    for _ in range(10):
        clock.turns_by_others = clock.probe_turns
        assert propose(clock)
        clock.note_own_outcome(committed=False)
    assert clock.probe_turns == MAX_PROBE_TURNS


def test_a_clock_put_right_is_back_on_its_own_at_its_next_try() -> None:
    clock = refused_once()
    clock.note_committed(NOW - 30_000, NOW)
    assert not any(propose(clock) for _ in range(FIRST_PROBE_TURNS))
    assert propose(clock)  # the try
    clock.note_own_outcome(committed=True)
    assert not clock.own_clock_refused and clock.get_proposal_time(NOW) == NOW


def test_a_clock_within_the_margin_or_behind_keeps_its_own() -> None:
    clock = refused_once()
    clock.note_committed(NOW - AHEAD_MS, NOW)
    assert clock.get_proposal_time(NOW) == NOW
    clock.note_committed(NOW + 30_000, NOW)  # this node's clock is behind theirs
    assert clock.get_proposal_time(NOW) == NOW


def test_a_proposer_dating_behind_moves_only_its_own_entry() -> None:
    clock = refused_once()
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
    clock = refused_once()
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
