"""`python -m consensus.sim --seed N [--count K]`: run seeded scenarios, print failures."""

from __future__ import annotations

import argparse
import sys

from consensus.sim.scenarios import replay_command, run_seed


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m consensus.sim")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--count", type=int, default=1)
    args = parser.parse_args(argv)
    failed = 0
    for seed in range(args.seed, args.seed + args.count):
        result = run_seed(seed)
        status = "ok" if result.ok else "FAIL"
        print(f"seed {seed}: {status} heights={result.heights} {result.scenario}")
        for violation in result.violations:
            print(f"  {violation}\n  replay: {replay_command(seed)}")
        failed += not result.ok
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
