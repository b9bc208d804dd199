"""Seeded simulation runs: every seed must keep agreement, prefix and liveness-after-heal.

A failure names the seed and the command that replays it.
"""

from __future__ import annotations

import pytest

from consensus.sim.scenarios import replay_command, run_seed

SEEDS = 300  # deeper: python -m consensus.sim --seed 300 --count 100000
CHUNK = 100


@pytest.mark.slow
@pytest.mark.parametrize("start", range(0, SEEDS, CHUNK))
def test_random_seeds_keep_invariants(start: int) -> None:
    failures = []
    for seed in range(start, start + CHUNK):
        result = run_seed(seed)
        if not result.ok:
            failures.append(f"seed {seed}: {result.violations} -- replay: {replay_command(seed)}")
    assert failures == []
