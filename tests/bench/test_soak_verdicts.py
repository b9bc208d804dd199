"""The soak's verdicts, from samples: whether memory climbs or has levelled, whether the
network kept up with what was offered, and whether the machine itself slowed down."""

from typing import Any

from bench.soak_verdicts import get_go_memory_slopes, get_machine_drift, get_rss_slopes, has_kept_up


def sample(minute: int, node_mb: float, worker_mb: float, trades_per_s: float = 100.0,
           late: int = 0) -> dict[str, Any]:  # fmt: skip
    return {
        "t_s": 60.0 * minute,
        "trades_per_s": trades_per_s,
        "late": late,
        "validators": [{"rss_mb": {"node": node_mb, "worker": worker_mb}}],
    }


def test_a_plateau_reached_late_is_flat_in_the_second_half_and_a_climb_is_not() -> None:
    plateau = [sample(m, 150.0 + min(m, 30) / 6, 240.0) for m in range(5, 61)]
    climb = [sample(m, 150.0 + m / 6, 240.0) for m in range(5, 61)]
    (levelled,) = get_rss_slopes(plateau, 1)
    (climbing,) = get_rss_slopes(climb, 1)
    assert levelled["mb"] > 0 and levelled["second_half"] == {"mb": 0.0, "pct": 0.0}
    assert climbing["second_half"]["mb"] == climbing["mb"] == 10.0
    assert climbing["by_process"] == {
        "node": {"mb": 10.0, "pct": round(100 * 10 / (150 + 32.5 / 6), 2)},
        "worker": {"mb": 0.0, "pct": 0.0},
    }


def test_a_network_that_committed_less_than_offered_or_dropped_some_did_not_keep_up() -> None:
    kept = [sample(m, 150.0, 240.0, trades_per_s=98.0) for m in range(10)]
    assert has_kept_up(kept, rate=100, sample_s=60.0)
    assert not has_kept_up([sample(m, 150.0, 240.0, trades_per_s=90.0) for m in range(10)],
                           rate=100, sample_s=60.0)  # fmt: skip
    assert not has_kept_up([*kept, sample(10, 150.0, 240.0, late=3)], rate=100, sample_s=60.0)
    assert not has_kept_up([], rate=100, sample_s=60.0)


def test_a_machine_slower_at_the_end_shows_in_the_same_windows_as_the_latency() -> None:
    during_warm_up = [{"t_s": 60.0 * m, "machine_ms": 50.0} for m in range(1, 5)]
    steady = [{"t_s": 60.0 * m, "machine_ms": 5.0} for m in range(5, 50)]
    slower = [{"t_s": 60.0 * m, "machine_ms": 5.5} for m in range(50, 61)]
    drift = get_machine_drift(during_warm_up + steady + slower, warm=300.0, sample_s=60.0)
    assert drift == {"first_ms": 5.0, "last_ms": 5.5, "change": 0.1}


def test_a_cometbft_whose_live_heap_is_flat_while_it_keeps_more_freed_heap() -> None:
    """What the slopes tell apart: a cache or leak grows `heap_inuse`; a runtime that has
    not yet given back what it freed grows `retained` and levels off."""
    after = [
        {"t_s": 60.0 * m, "validators": [{"go_mb": {"heap_inuse": 40.0, "goroutines": 300.0,
                                                   "retained": 10.0 + min(m, 30) / 3}}]}
        for m in range(5, 61)
    ]  # fmt: skip
    ((slopes),) = get_go_memory_slopes(after, 1)
    assert set(slopes) == {"heap_inuse", "retained"}  # a count is not memory
    assert slopes["heap_inuse"] == {"mb": 0.0, "pct": 0.0, "second_half": {"mb": 0.0, "pct": 0.0}}
    assert slopes["retained"]["mb"] > 0 and slopes["retained"]["second_half"]["mb"] == 0.0
