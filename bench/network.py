"""Validator processes on loopback, on each engine, driven to saturation: the highest
committed trades per second sustained at a commit latency p50 within 300 ms, and where
each node's time goes at that rate.

Venue-signed trade batches are POSTed round-robin to the validators' HTTP APIs at an
offered rate (collateral and venue authorisations first, through the API as a bridge
and members send them); commits are observed in validator 0's SQLite store. The rate
ramps: each step holds one offered rate for `--step-seconds` (the first
`WARMUP_S` not counted), waits for what it offered to commit, and is *sustained* when
its commit latency (submit -> block stored) has p50 <= `--max-p50-ms` and no trade
was refused (the API answered other than 202). Every transaction offered counts, the
ones that never committed within `DRAIN_S` at that latency: a network that commits
less than it is offered builds a backlog whose latency passes the bound within a step.
The rate doubles from `--start` until a step is not sustained, then bisects `--bisect`
times between the last sustained and the first failed rate. The highest sustained step
is reported (`sustained`) with:

- `trades_per_s` (committed within the step after its warm-up), `commit_ms_p50`,
  `commit_ms_p99`;
- beside it, `idle_heights_per_s`: the heights a second before any trade was offered
  (the empty blocks' pace, `IDLE_S`), `idle_cpu_per_node` each validator's share of a
  core meanwhile (its processes', as `cpu_per_node`), and of all `heights` of the run
  those committed
  past round 0, a round having timed out (`heights_past_round_0`; our engine: CometBFT's
  stored blocks do not say);
- `cpu_per_node`: each validator's CPU (its processes': the node, and on CometBFT the
  `cometbft` beside it) as a share of one core, and `cpu_load_generator` this process's
  (signing and posting the batches, reading the blocks), on the same cores;
- `busy_per_node`: per validator, the share of one core its event loop's CPU spent in
  each part of the work (`clearnode_busy_seconds_total`, node/worktime.py: gossip_decode,
  tx_check, tx_recheck, consensus, proposal_check, block_apply, block_store), on
  CometBFT `cometbft` (its process's CPU, from its own metrics), and `other` (the
  node's CPU less those: the libp2p host, the HTTP API, the ABCI server, the rest);
- `step_ms_per_height`: per validator, the milliseconds an average height spent in
  each consensus step (ours: `clearnode_consensus_step_seconds`; CometBFT's:
  `cometbft_consensus_step_duration_seconds`);
- `sent_bytes_per_committed_byte`: the bytes all validators sent to peers (our libp2p
  host's `clearnode_p2p_sent_bytes_total`, plus CometBFT's
  `cometbft_p2p_message_send_bytes_total`) over the bytes of the transactions
  committed during the step, and `sent_bytes_by_channel` per committed byte.

`steps` lists every step as [offered, committed trades/s, p50, p99, refused batches].
`previous_trades_per_s` is the highest sustained rate measured before (`PREVIOUS`) for
the same engine and number of validators, beside today's, so a slower network shows.
`--engine both` runs our engine, then CometBFT, one after the other on the same machine.
`--profile-node FILE` samples validator 0's node process with py-spy through every step
and writes the highest sustained step's profile, the functions of most own time with
their own and cumulative share of the samples in which the node's thread held the GIL
(bench/_profile.py), to FILE with the engine's name added (`node.txt`:
`node-clearnode.txt`), and the stacks sampled beside it (`node-clearnode.stacks`, for a
flame graph). The samples are by the wall clock: with more runnable processes than cores
they also count the time the thread waited for a core, wherever it was preempted. py-spy
reads the node from outside with ptrace (root, or kernel.yama.ptrace_scope 0) and takes
CPU from the nodes, so a profiled run's rates are not the bench's figures.
`--profile-cometbft FILE` does the same of validator 0's `cometbft` process with Linux
`perf` (CPU-clock samples of every thread, Go's and the kernel's frames): where the
engine's own time goes beside the node's.

    python -m bench network [--engine both|clearnode|cometbft] [--validators 4]
        [--start 1000] [--step-seconds 8] [--bisect 2] [--max-p50-ms 300] [--batch 250]
        [--profile-node FILE] [--profile-cometbft FILE] [--keep DIR]
"""

from __future__ import annotations

import argparse
import copy
import itertools
import math
import shutil
import sqlite3
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import trio

from bench._profile import TOP, fold_perf_script, render_stacks
from bench.node_figures import (
    get_busy_shares,
    get_cpu_s,
    get_step_ms_per_height,
    get_tree_cpu_s,
    list_descendants,
    read_figures,
    subtract,
)
from clearing.genesis import ENGINES
from clearing.transition.trade import Trade, sign_trade_batch
from clearing.transition.tx import encode_tx
from clearnode.client.sandbox_keys import derive_ed25519_key, derive_member_key
from devnet.sandbox import Sandbox
from node.clock import wall_clock_ms
from node.committed import decode_stored_block
from node.storage import StoredBlock
from tests.clearing.support import USDC, new_sandbox
from tests.node.netproc import NodeHome, ProcessNetwork, running
from tests.node.wan import Mesh, Proxies

MEMBERS = 20
WARMUP_S = 2.0
DRAIN_S = 30.0
"""Longest a step waits for what it offered to commit (what has not counts as late)."""
MAX_RATE = 128_000
IDLE_S = 5.0
SET_UP_S = 60.0
"""How long the empty blocks' pace is measured, before the load."""
PY_SPY = Path(sys.executable).parent / "py-spy"
PERF = shutil.which("perf")
PROFILE_RATE_HZ = 97
PREVIOUS = ("before #36's faster ledger", {("clearnode", 4): 3_958, ("cometbft", 4): 2_578,
                                          ("clearnode", 7): 1_290})  # fmt: skip
"""What was measured, and its sustained trades/s per (engine, validators) at the defaults:
the code before the ledger's loss table and the node's collection thresholds, on the
2-core development machine with nothing else running."""


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
            *self.box.get_times(),
        )  # fmt: skip
        return encode_tx(batch)


@dataclass
class CommitWatch:
    """Reads new blocks from a node's SQLite file and times the transactions we sent."""

    home: NodeHome
    engine: str
    sent: dict[bytes, tuple[float, int]] = field(default_factory=dict)  # tx -> (time, trades)
    committed: list[tuple[float, float, int]] = field(default_factory=list)  # (sent, seen, n)
    blocks: list[tuple[float, int]] = field(default_factory=list)  # (seen, tx bytes)
    height: int = 0
    refused: int = 0
    later_rounds: int | None = None
    """Blocks committed past round 0 (a round that timed out); None where the stored
    block does not say its commit's round (CometBFT)."""

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
            self.blocks.append((now, sum(len(tx) for tx in block.txs)))
            if block.round is not None:
                self.later_rounds = (self.later_rounds or 0) + (block.round > 0)
            self.height = height

    async def run(self) -> None:
        while True:
            self.poll()
            await trio.sleep(0.02)

    async def wait_for(self, txs: list[bytes], timeout_s: float) -> bool:
        """Whether every one of `txs` committed within `timeout_s`."""
        with trio.move_on_after(timeout_s):
            while any(tx in self.sent for tx in txs):
                await trio.sleep(0.05)
            return True
        return False


async def offer(
    validators: list[NodeHome], load: Load, watch: CommitWatch, rate: int, seconds: float
) -> list[bytes]:
    """POSTs batches round-robin to the validators' APIs so that `rate` trades/s are
    offered for `seconds`; returns the batches sent."""
    interval = load.batch_size / rate
    start = time.monotonic()
    sent: list[bytes] = []

    async def post(home: NodeHome, tx: bytes) -> None:
        try:
            status = await trio.to_thread.run_sync(home.post_tx, "/v1/trade-batches", tx)
        except OSError:  # no answer in time: refused, as a venue would count it
            status = 0
        if status not in (200, 202):
            watch.sent.pop(tx, None)
            watch.refused += 1

    async with trio.open_nursery() as nursery:
        for index in itertools.count():
            due = start + index * interval
            if due - start >= seconds:
                return sent
            await trio.sleep(max(0.0, due - time.monotonic()))
            tx = load.next_batch()
            watch.sent[tx] = (time.monotonic(), load.batch_size)
            sent.append(tx)
            nursery.start_soon(post, validators[index % len(validators)], tx)
    return sent


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else 0.0


@dataclass
class Step:
    """One offered rate held for a while, and what the network made of it."""

    offered: int
    trades_per_s: float
    p50_ms: float
    p99_ms: float
    refused: int
    seconds: float
    cpu_s: list[float]
    load_cpu_s: float
    figures: list[dict[str, dict[str, float]]]
    committed_bytes: int
    heights: int  # committed during the step (the same on every node)
    stacks: dict[str, Path]
    """Validator 0's sampled stacks during the step, by profiled process (--profile-*)."""

    def is_sustained(self, max_p50_ms: float) -> bool:
        return self.p50_ms <= max_p50_ms and self.refused == 0

    def summary(self) -> list[float]:
        return [self.offered, round(self.trades_per_s, 1), round(self.p50_ms, 1),
                round(self.p99_ms, 1), self.refused]  # fmt: skip

    def report(self) -> dict[str, Any]:
        """The step's figures in full (see the module's docstring)."""
        busy = []
        for cpu, figures in zip(self.cpu_s, self.figures, strict=True):
            parts = get_busy_shares(figures, self.seconds)
            parts["other"] = round((cpu - sum(figures["busy"].values())) / self.seconds, 3)
            busy.append(parts)
        steps = [get_step_ms_per_height(figures, self.heights) for figures in self.figures]
        channels: dict[str, float] = defaultdict(float)
        for figures in self.figures:
            for channel, sent in figures["sent"].items():
                channels[channel] += sent
        per_byte = max(1, self.committed_bytes)
        return {
            "offered_trades_per_s": self.offered,
            "trades_per_s": round(self.trades_per_s, 1),
            "commit_ms_p50": round(self.p50_ms, 1),
            "commit_ms_p99": round(self.p99_ms, 1),
            "cpu_per_node": [round(s / self.seconds, 2) for s in self.cpu_s],
            "cpu_load_generator": round(self.load_cpu_s / self.seconds, 2),
            "busy_per_node": busy,
            "step_ms_per_height": steps,
            "committed_bytes_per_s": round(self.committed_bytes / self.seconds),
            "sent_bytes_per_committed_byte": round(sum(channels.values()) / per_byte, 2),
            "sent_bytes_by_channel": {
                k: round(v / per_byte, 3) for k, v in sorted(channels.items()) if v > 0
            },
        }


async def record_stacks(pid: int, seconds: float, output: Path) -> None:
    """py-spy's samples of process `pid` for `seconds`, as collapsed stacks (frames by
    function) of the thread holding the GIL: where the node runs Python, without trio's
    idle worker threads. The process is paused for each read, so that a stack is never
    read half-changed; the rate is off 100 Hz so as not to beat with the node's timers."""
    command = [str(PY_SPY), "record", "--pid", str(pid), "--duration", str(math.ceil(seconds)),
               "--rate", str(PROFILE_RATE_HZ), "--format", "raw", "--function", "--gil",
               "--output", str(output)]  # fmt: skip
    await trio.run_process(command, capture_stdout=True, capture_stderr=True)


async def record_native_stacks(pid: int, seconds: float, output: Path) -> None:
    """perf's CPU-clock samples of process `pid` and its threads for `seconds`, with their
    call chains, as collapsed stacks (`fold_perf_script`)."""
    assert PERF is not None, "get_profiled checks it"
    data = output.with_suffix(".perf")
    record = [PERF, "record", "--quiet", "-e", "cpu-clock", "-F", str(PROFILE_RATE_HZ), "-g",
              "-p", str(pid), "-o", str(data), "--", "sleep", str(math.ceil(seconds))]  # fmt: skip
    await trio.run_process(record, capture_stdout=True, capture_stderr=True)
    script = [PERF, "script", "-i", str(data), "-F", "comm,ip,sym"]
    done = await trio.run_process(script, capture_stdout=True, capture_stderr=True)
    output.write_text(fold_perf_script(done.stdout.decode(errors="replace")))


RECORDERS = {"node": record_stacks, "cometbft": record_native_stacks}
"""How each profiled process of validator 0 is sampled (`--profile-node`,
`--profile-cometbft`)."""


async def run_step(
    validators: list[NodeHome], pids: list[int], engine: str, load: Load, watch: CommitWatch,
    rate: int, seconds: float, profiled: dict[str, tuple[int, Path]],
) -> Step:  # fmt: skip
    """Offers `rate` trades/s for `seconds`, then waits for what it offered to commit;
    samples each of `profiled`'s processes (kind: pid, where its stacks go) meanwhile."""
    watch.committed.clear()
    refused = watch.refused
    figures_before = [read_figures(home, engine) for home in validators]
    cpu_before = [get_tree_cpu_s(pid) for pid in pids]
    heights_before = watch.height
    load_before = time.process_time()
    start = time.monotonic()
    async with trio.open_nursery() as nursery:
        for kind, (pid, stacks) in profiled.items():
            nursery.start_soon(RECORDERS[kind], pid, seconds, stacks)
        sent = await offer(validators, load, watch, rate, seconds)
        end = time.monotonic()
        load_cpu = time.process_time() - load_before
        cpu = [get_tree_cpu_s(pid) - was for pid, was in zip(pids, cpu_before, strict=True)]
        figures_after = [read_figures(home, engine) for home in validators]
    figures = [subtract(a, b) for a, b in zip(figures_after, figures_before, strict=True)]
    heights = watch.height - heights_before
    await watch.wait_for(sent, DRAIN_S)
    counted = start + WARMUP_S
    window = [n for _, seen, n in watch.committed if counted <= seen <= end]
    late = [tx for tx in sent if tx in watch.sent]
    for tx in late:  # never committed within the drain: as late as it can be here
        watch.sent.pop(tx)
    latencies = [1000 * (seen - sent_at) for sent_at, seen, _ in watch.committed
                 if sent_at >= counted] + [1000 * DRAIN_S] * len(late)  # fmt: skip
    return Step(
        offered=rate,
        trades_per_s=sum(window) / max(1e-9, end - counted),
        p50_ms=percentile(latencies, 0.5),
        p99_ms=percentile(latencies, 0.99),
        refused=watch.refused - refused,
        seconds=end - start,
        cpu_s=cpu,
        load_cpu_s=load_cpu,
        figures=figures,
        committed_bytes=sum(size for seen, size in watch.blocks if start <= seen <= end),
        heights=heights,
        stacks={kind: stacks for kind, (_, stacks) in profiled.items()},
    )


async def ramp(
    validators: list[NodeHome], pids: list[int], engine: str, load: Load, watch: CommitWatch,
    args: argparse.Namespace, profiled: dict[str, tuple[int, Path]],
) -> tuple[Step | None, list[Step]]:  # fmt: skip
    """The highest sustained step and every step tried: doubling from `--start` until a
    step fails, then `--bisect` steps between the highest sustained and the lowest failed
    rate (in whole batches); each step samples `profiled`'s processes (kind: pid, the
    directory their stacks go to)."""
    steps: list[Step] = []
    best: Step | None = None
    good, bad = 0, None
    rate = args.start
    bisections = 0
    while True:
        step_profiled = {
            kind: (pid, folder / f"step-{len(steps)}-{kind}.txt")
            for kind, (pid, folder) in profiled.items()
        }
        step = await run_step(
            validators, pids, engine, load, watch, rate, args.step_seconds, step_profiled
        )
        steps.append(step)
        if step.is_sustained(args.max_p50_ms):
            good = rate
            if best is None or step.trades_per_s > best.trades_per_s:
                best = step
        else:
            bad = rate
        if bad is None:
            rate *= 2
        else:
            rate = (good + bad) // 2 // args.batch * args.batch
            bisections += 1
        if rate > MAX_RATE or rate <= good or bisections > args.bisect:
            break
    return best, steps


async def measure(
    args: argparse.Namespace, base: Path, engine: str, mesh: Mesh | None = None
) -> dict[str, Any]:
    """The ramp's figures on a network of `args.validators` (their links `mesh`'s)."""
    network = ProcessNetwork(base, args.validators, engine=engine, observers=(), mesh=mesh)
    proxies = None if mesh is None else Proxies(mesh, base)
    started = time.monotonic()
    try:
        with running(network) as net:
            validators = list(net.homes)
            pids = [net.processes[home.name].pid for home in validators]
            async with trio.open_nursery() as nursery:
                load, watch = await start_load(net, engine, args.batch, nursery)
                idle_heights_per_s, idle_cpu = await measure_idle(watch, pids)
                profiled = get_profiled(args, engine, pids[0], base)
                best, steps = await ramp(validators, pids, engine, load, watch, args, profiled)
                nursery.cancel_scope.cancel()
    finally:
        proxies_cpu = None
        if proxies is not None:
            proxies_cpu = get_cpu_s(proxies.process.pid) / (time.monotonic() - started)
            proxies.close()
    for kind, stacks in {} if best is None else best.stacks.items():
        write_profile(stacks, getattr(args, f"profile_{kind}"), engine)
    return {
        "engine": engine,
        "validators": len(validators),
        "batch_trades": args.batch,
        "max_p50_ms": args.max_p50_ms,
        "idle_heights_per_s": round(idle_heights_per_s, 2),
        "idle_cpu_per_node": [round(share, 3) for share in idle_cpu],
        "heights": watch.height,
        "heights_past_round_0": watch.later_rounds,
        **({} if proxies_cpu is None else {"cpu_link_proxies": round(proxies_cpu, 2)}),
        "sustained": None if best is None else best.report(),
        "previous": PREVIOUS[0],
        "previous_trades_per_s": PREVIOUS[1].get((engine, len(validators))),
        "steps": [s.summary() for s in steps],
    }


async def measure_idle(watch: CommitWatch, pids: list[int]) -> tuple[float, list[float]]:
    """Heights a second while nothing is offered (the pace of empty blocks), and each
    validator's share of a core meanwhile (its processes')."""
    first, start = watch.height, time.monotonic()
    cpu_before = [get_tree_cpu_s(pid) for pid in pids]
    await trio.sleep(IDLE_S)
    seconds = time.monotonic() - start
    cpu = [get_tree_cpu_s(pid) - was for pid, was in zip(pids, cpu_before, strict=True)]
    return (watch.height - first) / seconds, [s / seconds for s in cpu]


def get_profiled(
    args: argparse.Namespace, engine: str, pid: int, folder: Path
) -> dict[str, tuple[int, Path]]:
    """Validator 0's processes to profile (kind: pid, the folder their stacks go to):
    the node with `--profile-node`, its `cometbft` with `--profile-cometbft`."""
    profiled = {}
    if args.profile_node is not None:
        profiled["node"] = (pid, folder)
    if args.profile_cometbft is not None and engine == "cometbft":
        if PERF is None:
            raise SystemExit("--profile-cometbft needs Linux perf (Debian's linux-perf)")
        (engine_pid,) = [p for p in list_descendants(pid) if is_cometbft(p)]
        profiled["cometbft"] = (engine_pid, folder)
    return profiled


def is_cometbft(pid: int) -> bool:
    return Path(f"/proc/{pid}/comm").read_text().strip() == "cometbft"


def write_profile(stacks: Path, output: Path, engine: str) -> None:
    """The highest sustained step's profile of a process of validator 0, to `output` named
    for `engine`, and its stacks beside it (see the module's docstring)."""
    named = output.with_name(f"{output.stem}-{engine}{output.suffix}")
    named.write_text(render_stacks(stacks.read_text(), TOP))
    named.with_suffix(".stacks").write_text(stacks.read_text())


async def start_load(
    net: ProcessNetwork, engine: str, batch: int, nursery: trio.Nursery
) -> tuple[Load, CommitWatch]:
    """Once `net` commits: the benchmark's members funded and authorised, and the watch of
    validator 0's commits (running in `nursery`)."""
    load = Load(batch, Sandbox.from_genesis_doc(copy.deepcopy(net.genesis)))
    watch = CommitWatch(net.homes[0], engine)
    nursery.start_soon(watch.run)
    with trio.fail_after(120):
        while watch.height < 1:
            await trio.sleep(0.1)
    await set_up(net.homes, load, watch)
    return load, watch


async def set_up(validators: list[NodeHome], load: Load, watch: CommitWatch) -> None:
    """Collateral (as a bridge posts it) and venue authorisations (as members sign them)."""
    credits, authorisations = load.get_credits(), load.get_authorisations()
    for tx in credits + authorisations:
        watch.sent[tx] = (time.monotonic(), 0)
    for tx in credits:
        await post_until_taken(partial(validators[0].post_tx, "/v1/bridge/collateral-events", tx))
    for tx in authorisations:
        await post_until_taken(partial(validators[1].post_member_request, tx))
    assert await watch.wait_for(credits + authorisations, 60), "set-up did not commit"


async def post_until_taken(post: Callable[[], int]) -> None:
    """POST until the node answers 202; a 503 (a network of seven still finding its pace
    is not committing yet, or the mempool is full) is tried again for up to `SET_UP_S`."""
    deadline = time.monotonic() + SET_UP_S
    while (status := await trio.to_thread.run_sync(post)) == 503:
        assert time.monotonic() < deadline, f"503 for {SET_UP_S} s"
        await trio.sleep(0.5)
    assert status == 202, status


def add_ramp_arguments(parser: argparse.ArgumentParser, start: int, max_p50_ms: float) -> None:
    """The options of a ramp (`measure`), shared with `bench wan`."""
    parser.add_argument("--engine", choices=[*ENGINES, "both"], default="both")
    parser.add_argument("--validators", type=int, default=4, help="validator processes")
    parser.add_argument("--start", type=int, default=start, help="first offered trades/s")
    parser.add_argument("--step-seconds", type=float, default=8.0, help="length of a step")
    parser.add_argument("--bisect", type=int, default=2, help="steps between pass and fail")
    parser.add_argument("--max-p50-ms", type=float, default=max_p50_ms, help="p50 bound")
    parser.add_argument("--batch", type=int, default=250, help="trades per gossiped batch")
    parser.add_argument(
        "--keep", type=Path, help="put each network's homes under this folder and leave them"
    )


@contextmanager
def hold_homes(args: argparse.Namespace, name: str) -> Iterator[Path]:
    """Where a ramp's network lives: a temporary folder, or `--keep`'s KEEP/name, left
    after the run for reading its nodes' logs and consensus WALs (a folder already there
    is refused, never emptied)."""
    if args.keep is None:
        with tempfile.TemporaryDirectory(prefix=f"bench-{name}-") as base:
            yield Path(base)
        return
    folder = args.keep / name
    folder.mkdir(parents=True, exist_ok=False)
    yield folder


def run(argv: list[str]) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python -m bench network")
    add_ramp_arguments(parser, start=1000, max_p50_ms=300.0)
    parser.add_argument("--profile-node", type=Path, help="validator 0's profile (py-spy)")
    parser.add_argument(
        "--profile-cometbft", type=Path, help="validator 0's cometbft's profile (perf)"
    )
    args = parser.parse_args(argv)
    engines = ENGINES if args.engine == "both" else (args.engine,)
    results = {}
    for engine in engines:
        with hold_homes(args, f"network-{engine}") as base:
            results[engine] = trio.run(measure, args, base, engine)
    return results if len(results) > 1 else results[engines[0]]
