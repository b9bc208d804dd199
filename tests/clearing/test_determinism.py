import os
import subprocess
import sys

from tests.clearing.scenario import compute_scenario_roots
from tests.clearing.support import ROOT


def test_same_blocks_give_the_same_roots_in_process() -> None:
    assert compute_scenario_roots() == compute_scenario_roots()


def test_same_roots_in_a_fresh_process_with_another_hash_seed() -> None:
    expected = compute_scenario_roots()
    for seed in ("1", "4242"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        out = subprocess.run(
            [sys.executable, "-m", "tests.clearing.scenario"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        )
        assert out.stdout.split() == expected
