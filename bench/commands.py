"""How long the `clearnode` command takes, as the whole process a person waits for:

    python -m bench commands [--runs 10] [--warmup 2] [--clearnode PATH] [--commands a,b]

- `help`: `clearnode --help`, the list of commands;
- `status`: `clearnode status --api URL` against a live node: the bench makes a single
  node with `clearnode init` on loopback, starts it and waits until its API answers,
  so the figure is the start-up plus one real status call;
- `verify_help`: `clearnode verify --help`, the verifier's start-up (its imports);
- `verify_vector`: a whole `clearnode verify` of the committed `valid` report vector
  with its genesis (start-up, the generators and every check).

Each command runs `--warmup` times untimed (the page cache, compiled bytecode), then
`--runs` times, each a fresh process timed by the wall clock from spawn to exit. Every
run must exit 0: a timed failure is not the command's figure. Printed per command: min,
median and max ms, the target (issue #36: `--help` and `status` 300 ms, the verifier's
start-up 500 ms; none for the whole check) and the previous release's median
(`PREVIOUS_RELEASE`). `--clearnode` times another build's command, e.g. the previous
release's environment, against the same live node.

Debian's hyperfine does the same (warm-up runs, then the wall time of each run; with
`-N` no shell in between); this loop is that without a package outside Python's, and
the two agreed within 3 ms when run side by side (docs/architecture.md, "Throughput,
inside").
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from node.config import load_config
from tests.node.netproc import cli_network
from tests.vectors.make_reports import NOW_MS, REPORTS

CLEARNODE = Path(sys.executable).parent / "clearnode"
LIVE_NODE = "{api}"
"""Stands for the live node's API URL in a command line."""
COMMANDS: dict[str, tuple[list[str], int | None]] = {
    "help": (["--help"], 300),
    "status": (["status", "--api", LIVE_NODE], 300),
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
PREVIOUS_RELEASE = ("0.1.0", {"help": 1_154, "status": 1_183, "verify_help": 1_147})
"""The previous release and its median ms per command (the median of three runs): the
code before the version became 0.2.0 (fbd004c^) installed in its own environment, timed
by this bench's `--clearnode` with `--commands help,status,verify_help` (it cannot read
today's report vector), nothing else running on the 2-core development machine."""
NODE_READY_S = 60.0


class CommandFailed(RuntimeError):
    """A timed command exited non-zero."""

    def __init__(self, command: list[str], code: int, stderr: bytes) -> None:
        tail = stderr.decode(errors="replace")[-500:]
        super().__init__(f"{' '.join(command)} exited {code}: {tail}")


def run_once(command: list[str]) -> float:
    """The wall-clock ms of one run of `command`, which must exit 0."""
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, check=False)
    elapsed = (time.perf_counter() - start) * 1000
    if done.returncode != 0:
        raise CommandFailed(command, done.returncode, done.stderr)
    return elapsed


def time_command(command: list[str], warmup: int, runs: int) -> list[float]:
    for _ in range(warmup):
        run_once(command)
    return [run_once(command) for _ in range(runs)]


@contextmanager
def live_node() -> Iterator[str]:
    """A single node made by `clearnode init` on loopback, running and answering; its
    API's base URL."""
    with tempfile.TemporaryDirectory(prefix="bench-commands-") as base:
        with cli_network(Path(base), validators=1) as net:
            home = net.homes[0]
            url = f"http://127.0.0.1:{load_config(home).api.listen_port}"
            net.start(home)
            wait_until_answering(url + "/v1/status")
            yield url


def wait_until_answering(url: str) -> None:
    deadline = time.monotonic() + NODE_READY_S
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"{url} did not answer 200 within {NODE_READY_S} s")
        time.sleep(0.2)


def run(argv: list[str]) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python -m bench commands")
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=2, help="untimed runs first")
    parser.add_argument("--clearnode", type=Path, default=CLEARNODE, help="the command timed")
    parser.add_argument("--commands", default=",".join(COMMANDS), help="which, comma-separated")
    args = parser.parse_args(argv)
    names = args.commands.split(",")
    unknown = set(names) - set(COMMANDS)
    if unknown:
        parser.error(f"unknown commands {sorted(unknown)}; known: {', '.join(COMMANDS)}")
    release, previous = PREVIOUS_RELEASE
    figures: dict[str, Any] = {"runs": args.runs, "warmup": args.warmup}
    figures["previous_release"] = release
    with live_node() as api:
        for name in names:
            words, target_ms = COMMANDS[name]
            command = [str(args.clearnode), *(api if w == LIVE_NODE else w for w in words)]
            times = time_command(command, args.warmup, args.runs)
            figures[name] = {
                "min_ms": round(min(times)),
                "median_ms": round(statistics.median(times)),
                "max_ms": round(max(times)),
                "target_ms": target_ms,
                "previous_release_median_ms": previous.get(name),
            }
    return figures
