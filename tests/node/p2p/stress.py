"""Gossip under load with a link broken mid-stream: four real hosts on 127.0.0.1, one trio run.

The hosts form a line h0 - h1 - h2 - h3 (each has its left neighbour as persistent
peer), so h1's gossip link to h2 is the only way from the left half to the right
half. Every host publishes `rate` notes per second; at `break_at_s` h1's outbound
gossip stream to h2 is reset (py-libp2p's failed-write path, see node/p2p/pubsub.py)
and the run records when the link was repaired, what was lost in between, and the
delivery latency of every note. `burners` busy-loop processes compete for the CPU.

    .venv/bin/python -m tests.node.p2p.stress --burners 2   # prints one JSON line
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from contextlib import AsyncExitStack
from dataclasses import dataclass, field

import trio

from node.p2p import P2PNode, open_p2p
from tests.node.p2p.support import TOPICS, break_gossip_link, config, note

HOSTS = 4


@dataclass
class Run:
    """Send and arrival times (trio clock) of every note, keyed (origin, seq)."""

    sent: dict[tuple[int, int], float] = field(default_factory=dict)
    arrived: list[dict[tuple[int, int], float]] = field(
        default_factory=lambda: [{} for _ in range(HOSTS)]
    )
    broken_at: float | None = None
    repaired_at: float | None = None
    publishing: bool = True


def start_burners(count: int) -> list[subprocess.Popen[bytes]]:
    return [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(count)]


def stop_burners(burners: list[subprocess.Popen[bytes]]) -> None:
    for proc in burners:
        proc.kill()
        proc.wait()


async def _collect(node: P2PNode, index: int, run: Run) -> None:
    async for delivery in node.messages("tx"):
        origin, seq = (int(x) for x in str(delivery.value).split(":"))
        run.arrived[index].setdefault((origin, seq), trio.current_time())


async def _publish(node: P2PNode, index: int, rate: float, count: int, run: Run) -> None:
    for seq in range(count):
        if not run.publishing:
            return
        run.sent[index, seq] = trio.current_time()
        await node.publish("tx", note(f"{index}:{seq}"))
        await trio.sleep(1 / rate)


async def _break_and_watch_repair(nodes: list[P2PNode], at_s: float, run: Run) -> None:
    left, right = nodes[1], nodes[2]
    await trio.sleep(at_s)
    run.broken_at = trio.current_time()
    broken = await break_gossip_link(left, right.peer_id)
    while not (
        left.get_gossip_stream(right.peer_id) not in (None, broken)
        and right.peer_id in left.get_mesh_peers("tx")
        and left.peer_id in right.get_mesh_peers("tx")
    ):
        await trio.sleep(0.01)
    run.repaired_at = trio.current_time()


def compute_percentile_ms(latencies: list[float], fraction: float) -> float:
    if not latencies:
        return 0.0
    ordered = sorted(latencies)
    return round(1000 * ordered[min(len(ordered) - 1, int(fraction * len(ordered)))], 1)


def summarise(run: Run) -> dict[str, object]:
    """Delivery per phase (before the break, broken, after the repair) and latency in ms."""
    phases: dict[str, dict[str, object]] = {}
    for phase in ("before", "broken", "after"):
        latencies = []
        expected = missing = 0
        for (origin, seq), sent in run.sent.items():
            if _phase_of(run, sent) != phase:
                continue
            for receiver in range(HOSTS):
                if receiver == origin:
                    continue
                expected += 1
                arrived = run.arrived[receiver].get((origin, seq))
                if arrived is None:
                    missing += 1
                else:
                    latencies.append(arrived - sent)
        phases[phase] = {
            "expected": expected,
            "missing": missing,
            "p50_ms": compute_percentile_ms(latencies, 0.5),
            "p99_ms": compute_percentile_ms(latencies, 0.99),
            "max_ms": compute_percentile_ms(latencies, 1.0),
        }
    assert run.broken_at is not None
    repair_s = None if run.repaired_at is None else round(run.repaired_at - run.broken_at, 2)
    return {"repair_s": repair_s, **phases}


def _phase_of(run: Run, sent: float) -> str:
    if run.broken_at is None or sent < run.broken_at:
        return "before"
    if run.repaired_at is None or sent < run.repaired_at:
        return "broken"
    return "after"


async def run_stress(
    rate: float = 10.0,
    seconds: float = 8.0,
    break_at_s: float = 2.0,
    drain_s: float = 5.0,
    watch_links: bool = True,
    after_s: float | None = None,
) -> dict[str, object]:
    """Runs the line of hosts; returns `summarise` of the run. Without `watch_links`
    (py-libp2p alone) the link is not repaired and every later note is in "broken".
    With `after_s`, the hosts publish only that long after the repair (within `seconds`),
    and the drain ends once every note published after the repair has arrived (within
    `drain_s`): the figures of the other phases count what arrived by then."""
    link_check_s = 0.5 if watch_links else 1e9
    run = Run()
    async with AsyncExitStack() as stack:
        nodes: list[P2PNode] = []
        for i in range(HOSTS):
            peers = (nodes[-1].listen_addrs()[0],) if nodes else ()
            cfg = config(f"stress-{i}", persistent_peers=peers, link_check_s=link_check_s)
            nodes.append(await stack.enter_async_context(open_p2p(cfg, TOPICS)))
        with trio.fail_after(30):
            for i, node in enumerate(nodes):
                await node.wait_for_mesh("tx", 1 if i in (0, HOSTS - 1) else 2)
        async with trio.open_nursery() as collectors:
            for i, node in enumerate(nodes):
                collectors.start_soon(_collect, node, i, run)
            async with trio.open_nursery() as publishers:
                count = int(seconds * rate)
                for i, node in enumerate(nodes):
                    publishers.start_soon(_publish, node, i, rate, count, run)
                with trio.move_on_after(seconds):
                    await _break_and_watch_repair(nodes, break_at_s, run)
                    if after_s is not None:
                        await trio.sleep(after_s)
                        run.publishing = False
            with trio.move_on_after(drain_s):
                while after_s is None or summarise(run)["after"]["missing"]:  # type: ignore[index]
                    await trio.sleep(0.05)
            collectors.cancel_scope.cancel()
    return summarise(run)


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--burners", type=int, default=0)
    parser.add_argument("--rate", type=float, default=10.0, help="notes per second per host")
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--drain", type=float, default=5.0, help="seconds to wait for late notes")
    parser.add_argument("--no-watch", action="store_true", help="py-libp2p alone, no repair")
    args = parser.parse_args(argv)
    burners = start_burners(args.burners)
    cpu = time.process_time()
    try:
        figures = trio.run(run_stress, args.rate, args.seconds, 2.0, args.drain, not args.no_watch)
    finally:
        stop_burners(burners)
    head = {
        "burners": args.burners,
        "rate_per_host": args.rate,
        "watch": not args.no_watch,
        "cpu_s": round(time.process_time() - cpu, 2),
        "load_1m": round(os.getloadavg()[0], 1),
    }
    print(json.dumps({**head, **figures}))


if __name__ == "__main__":
    main(sys.argv[1:])
