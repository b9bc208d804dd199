"""Four validator processes on loopback, on each engine: committed trades per second,
commit latency and CPU per node.

Venue-signed trade batches are POSTed round-robin to the validators' HTTP APIs
at an offered rate (collateral and venue authorisations first, through the API as a
bridge and members send them); commits are observed in validator 0's SQLite store.
Phase one offers `--offered` trades/s and reports the commit latency (submit -> block
stored) as `commit_ms_p50` / `commit_ms_p99`; phase two offers `--peak` trades/s and
reports what was committed per second as `trades_per_s`, and each validator's CPU
(its processes': the node, and on CometBFT the `cometbft` beside it) as a share of
one core, `cpu_per_node`. `--engine both` runs our engine, then CometBFT, one after
the other on the same machine.

    python -m bench network [--engine both|clearnode|cometbft] [--offered 1000]
        [--peak 3000] [--seconds 15] [--batch 250]
"""

from __future__ import annotations

import argparse
import itertools
import os
import sqlite3
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import trio

from clearing.genesis import ENGINES
from clearing.sandbox import derive_ed25519_key, derive_member_key
from clearing.trade import Trade, sign_trade_batch
from clearing.tx import encode_tx
from node.clock import wall_clock_ms
from node.committed import decode_stored_block
from node.storage import StoredBlock
from tests.clearing.support import USDC, new_sandbox
from tests.node.netproc import NodeHome, ProcessNetwork, running

MEMBERS = 20
WARMUP_S = 2.0


@dataclass
class Load:
    """Signed batches of trades between the benchmark's members (flat on average)."""

    batch_size: int
    box: Any = field(default_factory=new_sandbox)
    trade_ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    batch_ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def __post_init__(self) -> None:
        self.box.clock_ms = wall_clock_ms  # the nodes' blocks take their time from it
        self.members = [derive_member_key(f"bench-{i}") for i in range(MEMBERS)]
        self.venue = derive_ed25519_key("venue-alpha")

    def get_credits(self) -> list[bytes]:
        return [encode_tx(self.box.credit(m.address, USDC, 10**13)) for m in self.members]

    def get_authorisations(self) -> list[bytes]:
        return [encode_tx(self.box.authorise(m, "alpha")) for m in self.members]

    def next_batch(self) -> bytes:
        trades = []
        for _ in range(self.batch_size):
            n = next(self.trade_ids)
            buyer = self.members[n % MEMBERS]
            seller = self.members[(n + 1 + n // MEMBERS) % MEMBERS]
            if seller == buyer:
                seller = self.members[(n + 1) % MEMBERS]
            price = 60_000_000 + 100 * (n % 7)
            trades.append(Trade(n, "BTC-PERP", buyer.address, 0, seller.address, 0, price, 1))
        batch = sign_trade_batch(
            self.venue, self.box.chain_id, "alpha", next(self.batch_ids), tuple(trades),
            self.box.get_expiry(),
        )  # fmt: skip
        return encode_tx(batch)


@dataclass
class CommitWatch:
    """Reads new blocks from a node's SQLite file and times the transactions we sent."""

    home: NodeHome
    engine: str
    sent: dict[bytes, tuple[float, int]] = field(default_factory=dict)  # tx -> (time, trades)
    committed: list[tuple[float, float, int]] = field(default_factory=list)  # (sent, seen, n)
    height: int = 0
    refused: int = 0

    def poll(self) -> None:
        if not self.home.db.exists():
            return
        db = sqlite3.connect(f"file:{self.home.db}?mode=ro", uri=True)
        try:
            rows = db.execute(
                "SELECT height, block, cert FROM blocks WHERE height > ? ORDER BY height",
                (self.height,),
            ).fetchall()
        except sqlite3.OperationalError:
            rows = []
        finally:
            db.close()
        now = time.monotonic()
        for height, data, cert in rows:
            block = decode_stored_block(self.engine, StoredBlock(height, data, cert, b""))
            for tx in block.txs:
                found = self.sent.pop(tx, None)
                if found is not None:
                    self.committed.append((found[0], now, found[1]))
            self.height = height

    async def run(self) -> None:
        while True:
            self.poll()
            await trio.sleep(0.02)

    async def wait_for(self, txs: list[bytes], timeout_s: float) -> None:
        with trio.fail_after(timeout_s):
            while any(tx in self.sent for tx in txs):
                await trio.sleep(0.05)


async def offer(
    validators: list[NodeHome], load: Load, watch: CommitWatch, rate: int, seconds: float
) -> None:
    """POSTs batches round-robin to the validators' APIs so that `rate` trades/s are offered."""
    interval = load.batch_size / rate
    start = time.monotonic()

    async def post(home: NodeHome, tx: bytes) -> None:
        status = await trio.to_thread.run_sync(home.post_tx, "/v1/trade-batches", tx)
        if status not in (200, 202):
            watch.sent.pop(tx, None)
            watch.refused += 1

    async with trio.open_nursery() as nursery:
        for index in itertools.count():
            due = start + index * interval
            if due - start >= seconds:
                return
            await trio.sleep(max(0.0, due - time.monotonic()))
            tx = load.next_batch()
            watch.sent[tx] = (time.monotonic(), load.batch_size)
            nursery.start_soon(post, validators[index % len(validators)], tx)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else 0.0


def get_cpu_s(pid: int) -> float:
    """CPU seconds (user + system) the process and its waited-for children used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = sum(int(fields[i]) for i in (11, 12, 13, 14))  # utime stime cutime cstime
    return ticks / os.sysconf("SC_CLK_TCK")


def get_tree_cpu_s(pid: int) -> float:
    """CPU seconds of `pid` and its running children (a node and its `cometbft`)."""
    children = Path(f"/proc/{pid}/task/{pid}/children")
    kids = [int(c) for c in children.read_text().split()] if children.exists() else []
    return get_cpu_s(pid) + sum(get_cpu_s(kid) for kid in kids)


async def set_up(validators: list[NodeHome], load: Load, watch: CommitWatch) -> None:
    """Collateral (as a bridge posts it) and venue authorisations (as members sign them)."""
    credits, authorisations = load.get_credits(), load.get_authorisations()
    for tx in credits + authorisations:
        watch.sent[tx] = (time.monotonic(), 0)
    for tx in credits:
        status = await trio.to_thread.run_sync(
            validators[0].post_tx, "/v1/bridge/collateral-events", tx
        )
        assert status == 202, status
    for tx in authorisations:
        status = await trio.to_thread.run_sync(validators[1].post_member_request, tx)
        assert status == 202, status
    await watch.wait_for(credits + authorisations, 60)


async def measure(args: argparse.Namespace, base: Path, engine: str) -> dict[str, Any]:
    with running(ProcessNetwork(base, engine=engine)) as net:
        validators = list(net.homes)
        pids = [net.processes[home.name].pid for home in validators]
        load = Load(args.batch)
        watch = CommitWatch(validators[0], engine)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(watch.run)
            with trio.fail_after(120):
                while watch.height < 1:
                    await trio.sleep(0.1)
            await set_up(validators, load, watch)
            watch.committed.clear()

            await offer(validators, load, watch, args.offered, args.seconds)
            await watch.wait_for(list(watch.sent), 60)
            latencies = [1000 * (seen - sent) for sent, seen, _ in watch.committed]
            watch.committed.clear()

            start = time.monotonic()
            cpu_before = [get_tree_cpu_s(pid) for pid in pids]
            await offer(validators, load, watch, args.peak, args.seconds)
            end = time.monotonic()
            cpu = [get_tree_cpu_s(pid) - was for pid, was in zip(pids, cpu_before, strict=True)]
            await watch.wait_for(list(watch.sent), 120)
            window = [n for _, seen, n in watch.committed if start + WARMUP_S <= seen <= end]
            heights = watch.height
            nursery.cancel_scope.cancel()
    return {
        "engine": engine,
        "validators": len(validators),
        "offered_trades_per_s": args.offered,
        "commit_ms_p50": round(percentile(latencies, 0.5), 1),
        "commit_ms_p99": round(percentile(latencies, 0.99), 1),
        "peak_offered_trades_per_s": args.peak,
        "trades_per_s": round(sum(window) / max(1e-9, end - start - WARMUP_S), 1),
        "batch_trades": args.batch,
        "heights": heights,
        "refused_batches": watch.refused,
        "cpu_per_node": [round(s / (end - start), 2) for s in cpu],
    }


def run(argv: list[str]) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python -m bench network")
    parser.add_argument("--offered", type=int, default=1000, help="trades/s for the latency phase")
    parser.add_argument("--peak", type=int, default=3000, help="trades/s for the throughput phase")
    parser.add_argument("--seconds", type=float, default=15.0, help="length of each phase")
    parser.add_argument("--batch", type=int, default=250, help="trades per gossiped batch")
    parser.add_argument("--engine", choices=[*ENGINES, "both"], default="both")
    args = parser.parse_args(argv)
    engines = ENGINES if args.engine == "both" else (args.engine,)
    results = {}
    for engine in engines:
        with tempfile.TemporaryDirectory(prefix=f"bench-network-{engine}-") as base:
            results[engine] = trio.run(measure, args, Path(base), engine)
    return results if len(results) > 1 else results[engines[0]]
