"""An idle network's cost: the CPU each validator process spends per committed block
when nothing is traded, every block empty.

Validator processes on loopback (`clearnode start`, on `--engine`, ours by default; the
product's default settings, the oracle off as in every process test) start; once
validator 0 has stored `WARMUP_HEIGHTS` blocks, each process's CPU (user + system,
/proc/PID/stat) and the height are read, and again once `--heights` more blocks are
stored. Printed: `cpu_ms_per_block` per validator and their mean (on CometBFT the node and
its `cometbft`), `blocks_per_s` and `cpu_per_node` (its share of one core); on CometBFT
also `cometbft_ms_per_block`, the `cometbft` processes' part. `--profile-node FILE`
samples validator 0 with py-spy over the measured heights and writes its functions of most
own time to FILE and the stacks beside it (bench/network.py's `--profile-node`; a profiled
run's figures are not the bench's).

    python -m bench idle [--engine clearnode|cometbft] [--validators 4] [--heights 30]
        [--profile-node FILE]
"""

from __future__ import annotations

import argparse
import sqlite3
import tempfile
import time
from pathlib import Path
from typing import Any

import trio

from bench._profile import TOP, render_stacks
from bench.network import is_cometbft, record_stacks
from bench.node_figures import get_cpu_s, get_tree_cpu_s, list_descendants
from clearing.genesis import ENGINES
from lightclient.anchor import COMETBFT, OUR_ENGINE
from tests.node.netproc import NodeHome, ProcessNetwork, running

WARMUP_HEIGHTS = 3
"""Blocks stored before the measurement starts: the processes' start-up (imports, the
genesis, the first connections) is not an idle block's cost."""
START_TIMEOUT_S = 120


def get_height(home: NodeHome) -> int:
    """The highest block stored in the node's SQLite file (0 before the first)."""
    if not home.db.exists():
        return 0
    db = sqlite3.connect(f"file:{home.db}?mode=ro", uri=True)
    try:
        return int(db.execute("SELECT COALESCE(MAX(height), 0) FROM blocks").fetchone()[0])
    except sqlite3.OperationalError:
        return 0
    finally:
        db.close()


async def wait_for_height(home: NodeHome, height: int) -> None:
    with trio.fail_after(START_TIMEOUT_S):
        while get_height(home) < height:
            await trio.sleep(0.05)


async def measure(args: argparse.Namespace, base: Path) -> dict[str, Any]:
    network = ProcessNetwork(base, args.validators, observers=(), engine=args.engine)
    with running(network) as net:
        validators = list(net.homes)
        pids = [net.processes[home.name].pid for home in validators]
        await wait_for_height(validators[0], WARMUP_HEIGHTS)
        first = get_height(validators[0])
        engines = [[c for c in list_descendants(pid) if is_cometbft(c)] for pid in pids]
        cpu_before = [get_tree_cpu_s(pid) for pid in pids]
        engine_before = [sum(map(get_cpu_s, children)) for children in engines]
        start = time.monotonic()
        stacks = None if args.profile_node is None else base / "idle.stacks"
        async with trio.open_nursery() as nursery:
            if stacks is not None:
                # py-spy runs for a set time: longer than the heights take at the default pace
                nursery.start_soon(record_stacks, pids[0], 2.0 * args.heights, stacks)
            await wait_for_height(validators[0], first + args.heights)
            seconds = time.monotonic() - start
            cpu = [get_tree_cpu_s(pid) - was for pid, was in zip(pids, cpu_before, strict=True)]
            engine_cpu = [
                sum(map(get_cpu_s, children)) - was
                for children, was in zip(engines, engine_before, strict=True)
            ]
            heights = get_height(validators[0]) - first
    if stacks is not None and args.profile_node is not None:
        args.profile_node.write_text(render_stacks(stacks.read_text(), TOP))
        args.profile_node.with_suffix(".stacks").write_text(stacks.read_text())
    per_block = [1000 * c / heights for c in cpu]
    figures: dict[str, Any] = {
        "engine": args.engine,
        "validators": len(validators),
        "heights": heights,
        "seconds": round(seconds, 1),
        "blocks_per_s": round(heights / seconds, 2),
        "cpu_ms_per_block": [round(ms, 1) for ms in per_block],
        "cpu_ms_per_block_mean": round(sum(per_block) / len(per_block), 1),
        "cpu_per_node": [round(c / seconds, 3) for c in cpu],
    }
    if args.engine == COMETBFT:
        engine_ms = [1000 * c / heights for c in engine_cpu]
        figures["cometbft_ms_per_block"] = [round(ms, 1) for ms in engine_ms]
        figures["cometbft_ms_per_block_mean"] = round(sum(engine_ms) / len(engine_ms), 1)
    return figures


def run(argv: list[str]) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python -m bench idle")
    parser.add_argument("--engine", choices=ENGINES, default=OUR_ENGINE)
    parser.add_argument("--validators", type=int, default=4, help="validator processes")
    parser.add_argument("--heights", type=int, default=30, help="blocks measured")
    parser.add_argument("--profile-node", type=Path, help="validator 0's profile (py-spy)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-idle-") as base:
        return trio.run(measure, args, Path(base))
