"""How long the `clearnode` command takes to start, as a whole process over repeated runs
(`python -m bench commands [--runs 10]`): `clearnode --help`, `clearnode status`
against a port nothing listens on (its start-up and one refused connection), and
`clearnode verify --help` (the verifier's imports), and a whole `clearnode verify` of the
committed `valid` report vector with its genesis (start-up, the generators and every
check). Prints each command's median and fastest run in ms beside its target (issue #36:
300, 300 and 500 ms for the verifier's start-up; none for the whole check)."""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from tests.vectors.make_reports import NOW_MS, REPORTS

CLEARNODE = Path(sys.executable).parent / "clearnode"
COMMANDS: dict[str, tuple[list[str], int | None]] = {
    "help": (["--help"], 300),
    "status": (["status", "--api", "http://127.0.0.1:9"], 300),
    "verify_help": (["verify", "--help"], 500),
    "verify_vector": (
        [
            "verify",
            str(REPORTS / "valid" / "report.bin"),
            "--genesis",
            str(REPORTS / "genesis.json"),
            "--now",
            str(NOW_MS),
        ],
        None,
    ),
}


def time_command(args: list[str], runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([str(CLEARNODE), *args], capture_output=True, check=False)
        times.append((time.perf_counter() - start) * 1000)
    return times


def run(argv: list[str]) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python -m bench commands")
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args(argv)
    figures: dict[str, Any] = {"runs": args.runs}
    for name, (command, target_ms) in COMMANDS.items():
        times = time_command(command, args.runs)
        figures[name] = {
            "median_ms": round(statistics.median(times)),
            "min_ms": round(min(times)),
            "target_ms": target_ms,
        }
    return figures
