"""Rolling restarts of a 4-validator network of `clearnode start` processes under a
steady load of trade batches (tests/node/test_rolling_restarts.py and
`python -m bench restarts`)."""

from __future__ import annotations

import json
import signal
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import trio

from tests.node.netproc import NodeHome, running
from tests.node.test_network_inprocess import setup_txs
from tests.node.test_network_processes import commit_setup, read_blocks, wait_until
from tests.node.test_submission_processes import CliProcessNetwork, make_batches, post

CATCH_UP_S = 20
"""A restarted node must commit past the tip its peers had at its restart within this."""


@dataclass
class RestartRun:
    restarts: int = 0
    catch_up_s: list[float] = field(default_factory=list)
    accepted: list[bytes] = field(default_factory=list)
    refused: int = 0


def get_status(home: NodeHome) -> dict[str, object]:
    url = f"http://127.0.0.1:{home.api_port}/v1/status"
    with urllib.request.urlopen(url, timeout=5) as response:
        status: dict[str, object] = json.loads(response.read())
    return status


async def submit_load(
    homes: list[NodeHome], batches: list[bytes], per_s: int, run: RestartRun
) -> None:
    """Posts one batch at a time to the next node answering, as a venue would."""
    turn = 0
    for batch in batches:
        while True:
            home = homes[turn % len(homes)]
            turn += 1
            status = await trio.to_thread.run_sync(post, home, batch)
            if status == 202:
                run.accepted.append(batch)
                break
            run.refused += 1  # restarting (no answer) or catching up (503): try the next
        await trio.sleep(1 / per_s)


async def restart(net: CliProcessNetwork, home: NodeHome, hard: bool, run: RestartRun) -> None:
    others = [h for h in net.homes if h is not home]
    process = net.processes[home.name]
    if hard:
        net.kill(home)
    else:
        process.send_signal(signal.SIGTERM)
        code = await trio.to_thread.run_sync(process.wait, 15)
        log = (home.path / "node.log").read_text()
        assert code == 0, f"{home.name} exited {code} on SIGTERM: {log[-3000:]}"
    tip = max(len(h.get_roots()) for h in others)
    started = time.monotonic()
    net.start(home)
    # Past the tip its peers had: up, caught up, and following the chain again.
    await wait_until(f"{home.name} to catch up", lambda: len(home.get_roots()) > tip, CATCH_UP_S)
    run.catch_up_s.append(time.monotonic() - started)
    run.restarts += 1


async def run_rolling_restarts(
    base: Path, rounds: int, duration_s: float = 0, batches_per_s: int = 20
) -> RestartRun:
    """Restarts each validator in turn (SIGTERM and kill -9 alternating) for at least
    `rounds` rounds and `duration_s` seconds, then checks what the module promises."""
    setup, _ = setup_txs()
    run = RestartRun()
    batches = make_batches(int(batches_per_s * (duration_s + 10 * rounds + 60)))
    with running(CliProcessNetwork(base)) as net:
        await commit_setup(net.homes, setup)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(submit_load, net.homes, batches, batches_per_s, run)
            started, round_ = time.monotonic(), 0
            while round_ < rounds or time.monotonic() - started < duration_s:
                for index, home in enumerate(net.homes):
                    await restart(net, home, hard=(round_ + index) % 2 == 1, run=run)
                    await trio.sleep(1)
                round_ += 1
            nursery.cancel_scope.cancel()
        await wait_until(
            "every accepted batch on every node",
            lambda: all(count_once(h, run.accepted) for h in net.homes),
            timeout_s=60,
        )
        await wait_until(
            "every node connected to every other",
            lambda: all(get_status(h)["p2p"]["peers"] == 3 for h in net.homes),  # type: ignore[index]
            timeout_s=30,
        )
        check_same_chain(net.homes)
        for home in net.homes:
            log = (home.path / "node.log").read_text()
            assert "banning peer" not in log, f"{home.name} banned an honest peer"
    return run


def count_once(home: NodeHome, txs: list[bytes]) -> bool:
    included = [tx for block in read_blocks(home) for tx in block.txs]
    return all(included.count(tx) == 1 for tx in txs)


def check_same_chain(homes: list[NodeHome]) -> None:
    roots = [h.get_roots() for h in homes]
    common = min(len(r) for r in roots)
    assert common > 0
    for height in range(1, common + 1):
        assert len({r[height] for r in roots}) == 1, f"roots differ at height {height}"
