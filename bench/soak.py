"""Soak: four validator processes on one engine at a steady load for `--minutes`, with the
devnet's oracle simulator and a solvency report every epoch; whether memory, latency and
disk stay bounded.

Trades are offered as `bench network` offers them (venue-signed batches POSTed round-robin
to the validators' APIs), at `--rate` trades/s: by default about half of what `bench
network` sustained on the engine (`DEFAULT_RATE`). Half the validators prune (`[storage]
blocks_kept` and `history_blocks_kept` = `--blocks-kept`, a snapshot every
`--snapshot-interval` blocks), the others keep every block and all the history, so one
run measures the disk with pruning on and off.

Every `--sample-s` seconds the bench samples each validator from outside, as an
operator's monitoring would: the resident memory and the CPU of the node process and of
each child (the proving worker; on CometBFT the `cometbft` process), their open file
descriptors, the bytes of each store (node.sqlite3 with its WAL, consensus.wal, reports,
bridge, each store of CometBFT's data, node.log) and the blocks its SQLite store holds;
of the trades validator 0's store committed in the window, the commit latency p50 and
p99, and of its heights those committed past round 0 (ours: CometBFT's stored blocks do
not say); from each node's log, the proof shares and reports it built and their
seconds; and from its metrics, where its time went (as in `bench network`'s per-step
figures): its event loop's busy share of a core per part (on CometBFT, the `cometbft`
process's share as one), the milliseconds of an average
height in each consensus step, and the bytes a second it sent per channel. On CometBFT
it also reads the `cometbft` process's Go runtime from its metrics (`go_mb`: heap in use,
freed heap retained, stacks, the next collection's goal, all taken from the OS); with
`--heap-profiles DIR`, also its Go profiler's heap profile, saved in DIR.

One JSON line: the samples, and
- `rss_mb_per_hour`: per validator, the least-squares slope of its processes' total RSS
  after `--warmup-minutes`, in MB and in % of its mean, per hour; the same over the
  second half of the run, and each process's own; on CometBFT, `go_mb_per_hour`: the
  same slopes of each Go runtime figure, which tell live heap growing from freed heap kept;
  with `--heap-profiles`, `heap_growth`: per validator, the allocation sites whose live
  bytes grew most between the first sample after the warm-up and the last (bench/go_heap.py);
- `disk_bytes_per_block` and `disk_mb_per_million_trades`: by store and in total (the
  log aside), the slope of its bytes against the height and against the trades
  committed after the warm-up, the mean of the pruned validators and of the archive
  ones;
- `latency_drift`: the commit latency p50 of the first and of the last `DRIFT_WINDOW_S`
  (bench/soak_verdicts.py) after the warm-up (a third of the samples each, if fewer),
  and the change;
- `machine_drift`: the same for the machine: each sample times a fixed piece of work in
  this process (`machine_ms`, `time_fixed_work`), the median of the first and of the
  last windows and the change. Work that does not change over a run (a batch's check,
  a block's apply) takes longer when the machine slows: a latency drift beside a machine
  drift of the same size is the machine's. Each sample also says the share of the
  machine's CPU time the hypervisor gave other guests (`machine_steal`, /proc/stat);
- `goals`: every validator's RSS slope under `RSS_GOAL_PCT_PER_HOUR`, the latency grown
  by less than `DRIFT_GOAL` (a faster end passes), every pruned store within
  `get_block_bound` blocks, and `kept_up`: the network committed what was offered (the
  rate must be under the machine's capacity: measure it with `bench network` first).

    python -m bench soak [--engine clearnode|cometbft] [--minutes 60] [--rate N]
        [--sample-s 60] [--warmup-minutes 5|20] [--epoch-blocks 300] [--blocks-kept 500]
        [--snapshot-interval 100] [--batch 250] [--heap-profiles DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import trio

from bench.go_heap import save_heap_profile
from bench.network import (
    DRAIN_S,
    CommitWatch,
    Load,
    is_cometbft,
    offer,
    percentile,
    start_load,
)
from bench.node_figures import (
    get_busy_shares,
    get_cpu_s,
    get_figures,
    get_step_ms_per_height,
    iter_samples,
    list_descendants,
    read_cometbft_metrics,
    read_figures,
    subtract,
)
from bench.soak_verdicts import (
    get_disk_slopes,
    get_go_memory_summary,
    get_heap_growth_summary,
    get_latency_drift,
    get_machine_drift,
    get_rss_slopes,
    has_kept_up,
    read_machine_ticks,
    time_fixed_work,
)
from clearing.genesis import ENGINES
from devnet.sections import get_oracle_toml
from node.config import ReportsConfig
from node.reports.seed import create_report_seed, save_report_seed
from node.reports.worker import read_rss_bytes
from node.retention import EPOCHS_TRACKED
from tests.node.netproc import GENESIS_DOC, NodeHome, ProcessNetwork, running

IN_ALL = False
"""An hour at the defaults: `python -m bench all` (`make bench`) leaves it out."""
DEFAULT_RATE = {"clearnode": 2000, "cometbft": 1250}
"""About half the trades/s `bench network` sustained with four validators on each engine
(bench/network.py PREVIOUS: 3,958 and 2,578)."""
PRUNED = ("v0", "v1")
ORACLE_SEED = 7
SNAPSHOTS_KEPT = 3
RSS_GOAL_PCT_PER_HOUR = 2.0
DEFAULT_WARMUP_MINUTES = {"clearnode": 5.0, "cometbft": 20.0}
"""Minutes before memory counts as warm: our node levels within about 5, `cometbft`'s Go
heap rose for about 20 (docs/production.md, "What `cometbft`'s memory is")."""
GO_MEMORY = {
    "go_memstats_heap_inuse_bytes": "heap_inuse",
    "go_memstats_heap_idle_bytes": "heap_idle",
    "go_memstats_heap_released_bytes": "heap_released",
    "go_memstats_stack_inuse_bytes": "stacks",
    "go_memstats_next_gc_bytes": "next_gc",
    "go_memstats_sys_bytes": "sys",
}
"""The Go runtime's gauges a `cometbft` process serves among its metrics, by our name."""
DRIFT_GOAL = 0.10
SHARE_LINE = re.compile(r"proof share of epoch (\d+): \d+ accounts of \d+ proven in ([\d.]+) s")
REPORT_LINE = re.compile(r"report of epoch (\d+) built: .* in ([\d.]+) s")


def get_block_bound(blocks_kept: int, snapshot_interval: int) -> int:
    """The most blocks a pruned store may hold however long the run: the newest
    `blocks_kept`, or back to its oldest snapshot if that is older (pruning never passes
    it), what accrues between two prunes (one per snapshot), and the blocks kept whatever
    their age: the genesis's (its validator set never changes here) and the anchors of the
    reports the node keeps or may still commit (node/retention.py)."""
    window = max(blocks_kept, SNAPSHOTS_KEPT * snapshot_interval)
    return window + snapshot_interval + 1 + ReportsConfig.keep + EPOCHS_TRACKED


def get_services(
    seed_file: Path, genesis: dict[str, Any], args: argparse.Namespace
) -> Callable[[NodeHome], str]:
    """Each validator's services: the devnet's oracle simulator (without its crash), the
    solvency reports with the network's seed, and its storage (pruned or archive)."""
    oracle = get_oracle_toml(genesis, ORACLE_SEED, with_shock=False)
    reports = f'[reports]\nenabled = true\nseed_file = "{seed_file}"\n'

    def for_home(home: NodeHome) -> str:
        kept = args.blocks_kept if home.name in PRUNED else 0
        storage = (f"[storage]\nsnapshot_interval = {args.snapshot_interval}\n"
                   f"snapshots_kept = {SNAPSHOTS_KEPT}\nblocks_kept = {kept}\n"
                   f"history_blocks_kept = {kept}\n")  # fmt: skip
        return oracle + reports + storage

    return for_home


# -- one validator, seen from outside ------------------------------------------------


def get_rss_mb(pid: int) -> float:
    rss = read_rss_bytes(pid)
    if rss is None:
        raise ProcessLookupError(pid)
    return rss / 2**20


def get_process_name(pid: int) -> str:
    return "cometbft" if is_cometbft(pid) else "worker"


def get_tree_bytes(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def get_store_bytes(home: NodeHome) -> dict[str, int]:
    """Bytes on disk by store: node.sqlite3 (with its WAL and shared memory), the other
    entries of data/, each entry of CometBFT's data (its block store, state, consensus
    WAL...) and the node's log."""
    data = home.path / "data"
    stores = {"node.sqlite3": sum(p.stat().st_size for p in data.glob("node.sqlite3*"))}
    for entry in sorted(data.iterdir()):
        if not entry.name.startswith("node.sqlite3"):
            stores[entry.name] = get_tree_bytes(entry)
    cometbft = home.path / "cometbft" / "data"
    if cometbft.exists():
        for entry in sorted(cometbft.iterdir()):
            stores[f"cometbft/{entry.name}"] = get_tree_bytes(entry)
    stores["node.log"] = (home.path / "node.log").stat().st_size
    return stores


def parse_go_memory(text: str) -> dict[str, float]:
    """MB of what a `cometbft` Go runtime holds, from its metrics text: the heap in use
    (live objects and garbage not yet collected), `retained` (heap pages idle but not yet
    returned to the OS: RSS the collector has freed), the goroutines' stacks, the heap
    size at which the next collection starts (`next_gc`), all it took from the OS
    (`sys`); and its goroutines (a count)."""
    found = {}
    for name, _, value in iter_samples(text):
        if name in GO_MEMORY:
            found[GO_MEMORY[name]] = value / 2**20
        elif name == "go_goroutines":
            found["goroutines"] = value
    found["retained"] = found.pop("heap_idle", 0.0) - found.pop("heap_released", 0.0)
    return {name: round(value, 1) for name, value in sorted(found.items())}


def count_blocks(home: NodeHome) -> int:
    db = sqlite3.connect(f"file:{home.db}?mode=ro", uri=True)
    try:
        return int(db.execute("SELECT COUNT(*) FROM blocks").fetchone()[0])
    finally:
        db.close()


@dataclass
class LogReader:
    """The proof shares and reports a node's log says it built, read as it grows."""

    path: Path
    offset: int = 0

    def read_new(self) -> tuple[list[list[float]], list[list[float]]]:
        """(epoch, seconds) of each proof share and each report built since the last read."""
        with self.path.open("rb") as log:
            log.seek(self.offset)
            text = log.read()
        whole = text.rfind(b"\n") + 1
        self.offset += whole
        lines = text[:whole].decode(errors="replace")
        shares = [[int(e), float(s)] for e, s in SHARE_LINE.findall(lines)]
        reports = [[int(e), float(s)] for e, s in REPORT_LINE.findall(lines)]
        return shares, reports


@dataclass
class Validator:
    home: NodeHome
    engine: str
    pid: int
    log: LogReader
    cpu_s: dict[int, float] = field(default_factory=dict)  # by process, so far
    figures: dict[str, dict[str, float]] = field(default_factory=dict)

    def sample(self, seconds: float, heights: int, profiles: Path | None) -> dict[str, Any]:
        """What the validator is now; its Go heap profile saved in `profiles` if given."""
        children = list_descendants(self.pid)
        cpu = self.read_cpu(children, seconds)
        cometbft = read_cometbft_metrics(self.home) if self.engine == "cometbft" else None
        figures = get_figures(self.home.get_metrics(), cometbft)
        window, self.figures = subtract(figures, self.figures), figures
        rss = {"node": round(get_rss_mb(self.pid), 1)}
        fds = len(os.listdir(f"/proc/{self.pid}/fd"))
        for child in children:
            try:
                name, mb = get_process_name(child), get_rss_mb(child)
                fds += len(os.listdir(f"/proc/{child}/fd"))
            except OSError:  # it ended meanwhile
                continue
            rss[name] = round(rss.get(name, 0.0) + mb, 1)
        shares, reports = self.log.read_new()
        profile = self.save_heap_profile(profiles) if profiles is not None else None
        return {
            "rss_mb": rss,
            **({"go_mb": parse_go_memory(cometbft)} if cometbft is not None else {}),
            **({"heap_profile": str(profile)} if profile is not None else {}),
            "fds": fds,
            "cpu": round(sum(cpu.values()), 2),
            "cpu_by_process": {name: round(share, 2) for name, share in cpu.items()},
            "disk": get_store_bytes(self.home),
            "blocks_held": count_blocks(self.home),
            "proof_shares": shares,
            "reports": reports,
            **get_work(window, seconds, heights),
        }

    def save_heap_profile(self, directory: Path) -> Path | None:
        """Its `cometbft`'s heap profile, named by the validator and the time taken."""
        if self.home.cometbft_pprof_port is None:
            return None
        name = f"{self.home.name}-{time.strftime('%Y%m%dT%H%M%S')}.pb.gz"
        return save_heap_profile(self.home.cometbft_pprof_port, directory / name)

    @classmethod
    def start(cls, home: NodeHome, engine: str, pid: int) -> Validator:
        """A validator watched from now on: its CPU and figures so far noted, so that the
        first sample counts only its own window."""
        validator = cls(home, engine, pid, LogReader(home.path / "node.log"))
        validator.read_cpu(list_descendants(pid), 1.0)
        validator.figures = read_figures(home, engine)
        return validator

    def read_cpu(self, children: list[int], seconds: float) -> dict[str, float]:
        """The share of a core each process (the node, its worker, its `cometbft`) used
        since the last sample; one started meanwhile counts from its start, one that ended
        in its parent's once waited for."""
        used: dict[str, float] = {}
        cpu_s = {}
        for pid in [self.pid, *children]:
            try:
                name = "node" if pid == self.pid else get_process_name(pid)
                cpu_s[pid] = get_cpu_s(pid)
            except OSError:  # it ended meanwhile
                continue
            used[name] = used.get(name, 0.0) + (cpu_s[pid] - self.cpu_s.get(pid, 0.0)) / seconds
        self.cpu_s = cpu_s
        return used


def get_work(window: dict[str, dict[str, float]], seconds: float, heights: int
             ) -> dict[str, dict[str, float]]:  # fmt: skip
    """Where a validator's time went in a sample: as in `bench network`'s steps, its event
    loop's busy share of a core per part and the milliseconds an average height spent in
    each consensus step; and the bytes a second it sent to peers per channel."""
    return {
        "busy": get_busy_shares(window, seconds),
        "step_ms_per_height": get_step_ms_per_height(window, heights),
        "sent_bytes_per_s": {
            k: round(v / seconds) for k, v in sorted(window.get("sent", {}).items()) if v > 0
        },
    }


def get_count_change(now: int | None, before: int | None) -> int | None:
    """A count's change over a sample; None where the engine does not count it."""
    return None if now is None else now - (before or 0)


# -- the run -------------------------------------------------------------------------


@dataclass
class Soak:
    args: argparse.Namespace
    validators: list[Validator]
    watch: CommitWatch
    load: Load
    samples: list[dict[str, Any]] = field(default_factory=list)
    latencies: list[tuple[float, list[float]]] = field(default_factory=list)

    async def run(self, rate: int) -> None:
        homes = [v.home for v in self.validators]
        started = time.monotonic()
        last = started
        committed = 0
        height, later_rounds = self.watch.height, self.watch.later_rounds
        stolen, ticks = read_machine_ticks()
        for _ in range(max(1, round(60 * self.args.minutes / self.args.sample_s))):
            self.watch.committed.clear()
            await offer(homes, self.load, self.watch, rate, self.args.sample_s)
            now = time.monotonic()
            stolen_now, ticks_now = read_machine_ticks()
            latencies = [1000 * (seen - sent) for sent, seen, _ in self.watch.committed]
            trades = sum(n for _, _, n in self.watch.committed)
            committed += trades
            self.latencies.append((now - started, latencies))
            self.samples.append({
                "t_s": round(now - started, 1),
                "height": self.watch.height,
                "trades_per_s": round(trades / (now - last), 1),
                "trades_committed": committed,
                "commit_ms_p50": round(percentile(latencies, 0.5), 1),
                "commit_ms_p99": round(percentile(latencies, 0.99), 1),
                "heights_past_round_0": get_count_change(self.watch.later_rounds, later_rounds),
                "late": self.drop_late(now),
                "machine_ms": time_fixed_work(),
                "machine_steal": round((stolen_now - stolen) / max(1, ticks_now - ticks), 3),
                "refused": self.watch.refused,
                "validators": [
                    v.sample(now - last, self.watch.height - height, self.args.heap_profiles)
                    for v in self.validators
                ],
            })  # fmt: skip
            last, height, later_rounds = now, self.watch.height, self.watch.later_rounds
            stolen, ticks = stolen_now, ticks_now
            self.say(self.samples[-1])

    @staticmethod
    def say(sample: dict[str, Any]) -> None:
        """A line of progress on stderr (stdout carries the one JSON line)."""
        first = sample["validators"][0]
        print(f"{sample['t_s']:7.0f} s  height {sample['height']}  "
              f"{sample['trades_per_s']:.0f} trades/s  p50 {sample['commit_ms_p50']:.0f} ms  "
              f"v0 rss {first['rss_mb']}  fds {first['fds']}  blocks {first['blocks_held']}",
              file=sys.stderr, flush=True)  # fmt: skip

    def drop_late(self, now: float) -> int:
        """Forgets the offered transactions not committed within DRAIN_S; how many."""
        late = [tx for tx, (sent, _) in self.watch.sent.items() if now - sent > DRAIN_S]
        for tx in late:
            del self.watch.sent[tx]
        return len(late)


def summarise(soak: Soak, engine: str, rate: int) -> dict[str, Any]:
    args = soak.args
    warm = 60 * args.warmup_minutes
    after = [s for s in soak.samples if s["t_s"] >= warm]
    names = [v.home.name for v in soak.validators]
    pruned = [i for i, name in enumerate(names) if name in PRUNED]
    archive = [i for i in range(len(names)) if i not in pruned]
    final = soak.samples[-1]
    held = [final["validators"][i]["blocks_held"] for i in pruned]
    bound = get_block_bound(args.blocks_kept, args.snapshot_interval)
    rss = get_rss_slopes(after, len(names))
    drift = get_latency_drift(soak.latencies, warm, args.sample_s)
    return {
        "engine": engine,
        "minutes": args.minutes,
        "warmup_minutes": args.warmup_minutes,
        "offered_trades_per_s": rate,
        "epoch_blocks": args.epoch_blocks,
        "blocks_kept": args.blocks_kept,
        "snapshot_interval": args.snapshot_interval,
        "rss_mb_per_hour": rss,
        **get_go_memory_summary(after, engine, len(names)),
        **get_heap_growth_summary(after, len(names)),
        "disk_bytes_per_block": {
            "pruned": get_disk_slopes(after, pruned, "height", 0),
            "archive": get_disk_slopes(after, archive, "height", 0),
        },
        "disk_mb_per_million_trades": {
            "pruned": get_disk_slopes(after, pruned, "trades_committed", 1),
            "archive": get_disk_slopes(after, archive, "trades_committed", 1),
        },
        "pruned_blocks_held": held,
        "pruned_block_bound": bound,
        "latency_drift": drift,
        "machine_drift": get_machine_drift(soak.samples, warm, args.sample_s),
        "goals": {
            "rss_flat": all(s["pct"] < RSS_GOAL_PCT_PER_HOUR for s in rss),
            "latency_drift": drift["change"] is not None and drift["change"] < DRIFT_GOAL,
            "pruned_disk_bounded": max(held) <= bound,
            "kept_up": has_kept_up(after, rate, args.sample_s),
        },
        "samples": soak.samples,
    }


async def measure(args: argparse.Namespace, base: Path, engine: str) -> dict[str, Any]:
    genesis = json.loads(GENESIS_DOC.read_text())
    genesis["epoch_length_blocks"] = args.epoch_blocks
    seed_file = base / "report_seed.json"
    save_report_seed(seed_file, create_report_seed())
    services = get_services(seed_file, genesis, args)
    profiled = args.heap_profiles is not None
    if profiled:
        args.heap_profiles.mkdir(parents=True, exist_ok=True)
    net = ProcessNetwork(
        base, 4, engine=engine, genesis=genesis, services=services, profiled=profiled
    )
    rate = args.rate or DEFAULT_RATE[engine]
    with running(net):
        async with trio.open_nursery() as nursery:
            load, watch = await start_load(net, engine, args.batch, nursery)
            pids = [net.processes[home.name].pid for home in net.homes]
            validators = [
                Validator.start(home, engine, pid)
                for home, pid in zip(net.homes, pids, strict=True)
            ]
            soak = Soak(args, validators, watch, load)
            await soak.run(rate)
            nursery.cancel_scope.cancel()
    return summarise(soak, engine, rate)


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench soak")
    parser.add_argument("--engine", choices=ENGINES, default="clearnode")
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--rate", type=int, help="offered trades/s (default: DEFAULT_RATE)")
    parser.add_argument("--sample-s", type=float, default=60.0)
    parser.add_argument("--warmup-minutes", type=float,
                        help="(default: DEFAULT_WARMUP_MINUTES of the engine)")  # fmt: skip
    parser.add_argument("--epoch-blocks", type=int, default=300)
    parser.add_argument("--blocks-kept", type=int, default=500)
    parser.add_argument("--snapshot-interval", type=int, default=100)
    parser.add_argument("--batch", type=int, default=250, help="trades per batch")
    parser.add_argument("--heap-profiles", type=Path,
                        help="CometBFT: save each sample's Go heap profiles here")  # fmt: skip
    args = parser.parse_args(argv)
    if args.warmup_minutes is None:
        args.warmup_minutes = DEFAULT_WARMUP_MINUTES[args.engine]
    return args


def run(argv: list[str]) -> dict[str, Any]:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix=f"bench-soak-{args.engine}-") as base:
        return trio.run(measure, args, Path(base), args.engine)
