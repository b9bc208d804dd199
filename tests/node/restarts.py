"""Rolling restarts of a 4-validator network of `clearnode start` processes under a
steady load of trade batches (tests/node/test_rolling_restarts.py and
`python -m bench restarts`)."""

from __future__ import annotations

import contextlib
import json
import re
import signal
import statistics
import time
import urllib.error
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import trio

from tests.node.netproc import NodeHome, ProcessNetwork, running
from tests.node.test_network_inprocess import setup_txs
from tests.node.test_network_processes import commit_setup, read_stored_blocks, wait_until
from tests.node.test_submission_processes import make_batches, post

CATCH_UP_S = 20
"""A restarted node, once its API answers, must commit past the tip its peers had then
within this."""
GIVE_UP_S = 180
"""How long a restarted node is waited for, to start and then to catch up, before the
run stops; figures past CATCH_UP_S are kept, and failed by `check_rolling_restarts`."""


SCORED = re.compile(r"peer \S+ offence \w+|banning peer")
"""Log lines of a node that charged a peer an offence or banned it (`Door.penalize`
logs every charge): honest peers restarting must cause none."""


@dataclass
class Load:
    """Batches a venue submitted: those a node answered 202, and the answers refused; then
    what `settle` found of them and of the nodes' conduct."""

    accepted: list[bytes] = field(default_factory=list)
    refused: int = 0
    lost: int = 0
    """Batches answered 202 that some node did not commit exactly once."""
    scored: list[str] = field(default_factory=list)
    """Every log line matching SCORED, of every node's every life."""


@dataclass
class RestartRun(Load):
    restarts: int = 0
    start_s: list[float] = field(default_factory=list)
    """Per restart: from the process start until its API answers (state restored, p2p up)."""
    catch_up_s: list[float] = field(default_factory=list)
    """Per restart: from then until it committed past the tip its peers had then."""


def get_status(home: NodeHome) -> dict[str, object]:
    with home.urlopen(f"http://127.0.0.1:{home.api_port}/v1/status", timeout_s=5) as response:
        status: dict[str, object] = json.loads(response.read())
    return status


def is_answering(home: NodeHome) -> bool:
    try:
        get_status(home)
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False
    return True


async def submit_load(homes: list[NodeHome], batches: list[bytes], per_s: int, load: Load) -> None:
    """Posts one batch at a time to the next node answering, as a venue would; when none
    does (a network that cannot commit answers 503), tries again a round later."""
    turn = 0
    for batch in batches:
        while True:
            home = homes[turn % len(homes)]
            turn += 1
            status = await trio.to_thread.run_sync(post, home, batch)
            if status == 202:
                load.accepted.append(batch)
                break
            load.refused += 1  # restarting (no answer) or catching up (503): try the next
            if turn % len(homes) == 0:
                await trio.sleep(1 / per_s)
        await trio.sleep(1 / per_s)


async def restart(net: ProcessNetwork, home: NodeHome, hard: bool, run: RestartRun) -> None:
    others = [h for h in net.homes if h is not home]
    process = net.processes[home.name]
    if hard:
        net.kill(home)
    else:
        process.send_signal(signal.SIGTERM)
        code = await trio.to_thread.run_sync(process.wait, 15)
        log = (home.path / "node.log").read_text()
        assert code == 0, f"{home.name} exited {code} on SIGTERM: {log[-3000:]}"
    started = time.monotonic()
    net.start(home)
    await wait_until(f"{home.name} to answer", lambda: is_answering(home), GIVE_UP_S)
    up = time.monotonic()
    tip = max(len(h.get_roots()) for h in others)
    # Past the tip its peers had: caught up, and following the chain again.
    await wait_until(f"{home.name} to catch up", lambda: len(home.get_roots()) > tip, GIVE_UP_S)
    run.start_s.append(up - started)
    run.catch_up_s.append(time.monotonic() - up)
    run.restarts += 1


async def run_rolling_restarts(
    base: Path, rounds: int, duration_s: float = 0, batches_per_s: int = 20
) -> RestartRun:
    """Restarts each validator in turn (SIGTERM and kill -9 alternating) for at least
    `rounds` rounds and `duration_s` seconds, then checks what the module promises."""
    setup, _ = setup_txs()
    run = RestartRun()
    batches = make_batches(int(batches_per_s * (duration_s + 10 * rounds + 60)))
    with running(ProcessNetwork(base)) as net:
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
        await settle(net.homes, run)
    return run


async def settle(homes: list[NodeHome], load: Load) -> None:
    """Once the faults are over: counts the accepted batches not committed exactly once
    (after a minute's wait for them), waits for every node to connect to every other,
    checks that every chain is the same, and keeps every log line of a node scoring a
    peer down."""
    with contextlib.suppress(AssertionError):  # what is missing then is counted as lost
        await wait_until(
            "every accepted batch on every node",
            lambda: count_lost(homes, load.accepted) == 0,
            timeout_s=60,
        )
    load.lost = count_lost(homes, load.accepted)
    await wait_connected(homes, timeout_s=30)
    check_same_chain(homes)
    for home in homes:
        log = (home.path / "node.log").read_text()
        load.scored += [f"{home.name}: {line}" for line in log.splitlines() if SCORED.search(line)]


async def wait_connected(homes: list[NodeHome], timeout_s: float) -> None:
    """Until every node is connected to every other."""
    await wait_until(
        "every node connected to every other",
        lambda: all(get_peers(h) == len(homes) - 1 for h in homes),
        timeout_s=timeout_s,
    )


def get_peers(home: NodeHome) -> Any:
    return get_status(home)["p2p"]["peers"]  # type: ignore[index]


def get_figures(run: RestartRun) -> dict[str, float]:
    """What a run measured, for the benchmark's line and the test's output."""
    return {
        "restarts": run.restarts,
        "start_s_p50": round(statistics.median(run.start_s), 2),
        "start_s_max": round(max(run.start_s), 2),
        "catch_up_s_p50": round(statistics.median(run.catch_up_s), 2),
        "catch_up_s_max": round(max(run.catch_up_s), 2),
        "batches_accepted": len(run.accepted),
        "batches_refused_while_restarting": run.refused,
        "batches_lost": run.lost,
        "bans": sum("banning peer" in line for line in run.scored),
        "offences": sum("banning peer" not in line for line in run.scored),
    }


def check_rolling_restarts(run: RestartRun) -> None:
    """What the restarts must not cost: a batch, a peer's score, seconds of catch-up."""
    assert run.lost == 0, f"{run.lost} of {len(run.accepted)} accepted batches lost or repeated"
    assert run.scored == [], "honest peers scored down:\n" + "\n".join(run.scored[:20])
    assert max(run.catch_up_s) < CATCH_UP_S, run.catch_up_s


def count_lost(homes: list[NodeHome], txs: list[bytes]) -> int:
    """How many of `txs` some node has not committed exactly once."""
    lost: set[bytes] = set()
    for home in homes:
        included = Counter(tx for block in read_stored_blocks(home) for tx in block.txs)
        lost.update(tx for tx in txs if included[tx] != 1)
    return len(lost)


def check_same_chain(homes: list[NodeHome]) -> None:
    """Every node committed the same block, with the same state root, at every height."""
    chains = [{b.height: b.hash for b in read_stored_blocks(h)} for h in homes]
    roots = [h.get_roots() for h in homes]
    common = min(len(c) for c in chains)
    assert common > 0
    for height in range(1, common + 1):
        assert len({c[height] for c in chains}) == 1, f"block hashes differ at height {height}"
        assert len({r[height] for r in roots}) == 1, f"roots differ at height {height}"
