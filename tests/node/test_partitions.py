"""Link faults between four validators on four hosts, at lengths that fit the suite:
`python -m bench partitions` runs the same faults longer (a 60 s split, 120 s cut off,
2 minutes flapping)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.node.partitions import HEAL_S, Lengths, check_partitions, get_figures, run_partitions

pytestmark = [pytest.mark.multiprocess, pytest.mark.slow]

SHORT = Lengths(split_s=10, isolated_s=10, one_way_s=8, flapping_s=8, flap_s=2)
"""Long enough for our engine to find each link across the split stalled (5 s) and
redial it; the hosts' kernels at their defaults (TCP's backoff up to 120 s). Run alone,
our engine took 6.9 to 9.0 s in five runs to commit after this split healed (it finds
the stalled links only once traffic flows again) and CometBFT 2.9 s: the test allows
twice the bench's `HEAL_S`, so that the suite's other worker cannot fail it."""


@pytest.mark.parametrize("engine", ["clearnode", "cometbft"])
async def test_splits_isolation_one_way_and_flapping_links_lose_nothing_and_heal(
    tmp_path: Path, engine: str
) -> None:
    run = await run_partitions(tmp_path / "net", SHORT, engine)
    print(get_figures(run))
    check_partitions(run, heal_s=2 * HEAL_S)
