"""The soak's verdicts, from samples: whether memory climbs or has levelled, and whether
the network kept up with what was offered."""

from typing import Any

from bench.soak import get_rss_slopes, has_kept_up


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
