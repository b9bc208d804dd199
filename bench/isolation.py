"""A validator cut off from the other regions, and its way back (`python -m bench isolation`).

Four validators in four regions (`bench wan`'s links: 30 / 80 / 150 / 220 ms round trips,
`--jitter-ms`, `--loss`), on each engine, take a steady load (`--rate` trades/s, sent to
the three that stay connected, as a venue fails over) while validator `--node` (3, the
farthest region's) is cut off from every other for `--isolated` seconds: every
connection through its links closes and no new one opens (tests/node/wan.py). Then its
links come back. One JSON line per engine: the heights the three commit meanwhile and
their commit p50 before, during and after; the heights the cut-off node is behind when
its links return, how long until it commits again (`first_height_s`: its links
redialled), until it reaches the tip the others held at that moment (`catch_up_s`) and
the tip they hold as it arrives (`to_live_tip_s`), and whether every
batch the three accepted committed. The cut lasts `--isolated` seconds and the time the
last batches sent meanwhile take to commit (`cut_s`). The run fails if the three stop
committing while the node is away or it does not catch up within `CATCH_UP_LIMIT_S`.

With `--split`, the regions split 2|2 instead (validators 0 and 1 | 2 and 3) for
`--isolated` seconds, the load sent to all four: neither side holds the two thirds a
commit needs. Its JSON line: the heights committed while split (one on its way when the
links went may still commit), how long after the heal every validator committed again
(`recovered_s`), the commit p50 before and after, the batches refused (a validator that
stopped committing answers 503) and those accepted and never committed.

With `--one-way`, validator 0 does not hear validator `--node` for `--isolated` seconds
while `--node` still hears 0 (Proxies.hold: what one sends the other waits, as a TCP
stream stalls whose segments one way are lost), the load sent to all four. Its JSON
line: the heights committed meanwhile, the most any validator fell behind the tip and
when (`most_behind`), how long after the link is whole every validator is level
(`level_s`), the commit p50 before, during and after, the batches refused and those
accepted and never committed.

With `--flapping`, validator `--node`'s links go down for `--flap` seconds and come back
for as long, again and again for `--isolated` seconds (the load sent to the other three,
as with the cut). Its JSON line: the heights the three commit meanwhile, the heights the
flapping node committed and how far behind it ended, how long after the last flap it is
back at the live tip, and the commit p50 before, during and after.

With `--clock-off S`, validator `--node`'s wall clock runs `S` seconds off (ahead if
positive) for `--isolated` seconds, then true again (libfaketime, moved while the node
runs: tests/node/clocks.py), the load sent to all four. Its JSON line: the heights
committed a second before, during and after, the commit p50 of each, the heights
decided past round 0 meanwhile (each of a clock-ahead proposer's turns costs one: its
proposals are untimely to the others), the untimely proposals and the skew an honest
node's metrics show of it, whether the block times stayed increasing and within the
honest clocks' precision, and the validators jailed (none: a clock is no offence). Our
engine only: a CometBFT process reads the kernel's clock from Go's runtime, past
libfaketime, so on CometBFT the run says why it was skipped.

    python -m bench isolation [--engine both|clearnode|cometbft] [--isolated 120]
        [--rate 1000] [--node 3] [--split | --one-way | --flapping [--flap 5] |
        --clock-off S] [--jitter-ms 5] [--loss 0.005] [--batch 250]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import trio

from bench.network import CommitWatch, Load, offer, percentile, start_load
from clearing.genesis import ENGINES
from consensus.state_machine import PROPOSAL_TIME_PRECISION_MS
from lightclient.anchor import COMETBFT
from node.clock import wall_clock_ms
from tests.node.clocks import FAKETIME, NO_FAKETIME, MovableClock, read_samples
from tests.node.netproc import ProcessNetwork, read_blocks, running
from tests.node.wan import Mesh, Proxies, get_region_link

IN_ALL = False
"""Minutes of a cut-off region on each engine: run when named."""
VALIDATORS = 4
SIDES = ({0, 1}, {2, 3})
"""`--split`'s two sides: Frankfurt and London | Virginia and Singapore."""
WARM_S = 20.0
"""Load before the cut, for the commit p50 it is compared with."""
AFTER_S = 20.0
"""Load after the node is back at the live tip, for the p50 after."""
CATCH_UP_LIMIT_S = 120.0
SETTLE_S = 30.0
"""How long the batches sent get to commit once the load stops."""
Send = Callable[[float], Awaitable[list[bytes]]]
"""Offers the load for so many seconds; the batches sent."""


def run(argv: list[str]) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python -m bench isolation")
    parser.add_argument("--engine", choices=[*ENGINES, "both"], default="both")
    parser.add_argument("--isolated", type=float, default=120.0, help="seconds cut off")
    parser.add_argument("--rate", type=int, default=1000, help="trades/s offered meanwhile")
    parser.add_argument("--node", type=int, default=3, help="the validator cut off")
    faults = parser.add_mutually_exclusive_group()
    faults.add_argument("--split", action="store_true", help="split 2|2 instead")
    faults.add_argument("--one-way", action="store_true", help="0 does not hear --node instead")
    faults.add_argument("--flapping", action="store_true", help="--node's links flap instead")
    faults.add_argument("--clock-off", type=int, help="--node's clock this many s off instead")
    parser.add_argument("--flap", type=float, default=5.0, help="seconds down, then up")
    parser.add_argument("--jitter-ms", type=float, default=5.0, help="each link's jitter")
    parser.add_argument("--loss", type=float, default=0.005, help="segments lost, a share")
    parser.add_argument("--batch", type=int, default=250, help="trades per batch")
    args = parser.parse_args(argv)
    engines = ENGINES if args.engine == "both" else (args.engine,)
    results: dict[str, Any] = {
        "links": {"jitter_ms": args.jitter_ms, "loss": args.loss},
        "isolated_s": args.isolated,
        "rate": args.rate,
        "node": args.node,
    }
    fault = get_fault(args)
    results["fault"] = fault.__name__
    for engine in engines:
        mesh = Mesh(partial(get_region_link, jitter_ms=args.jitter_ms, loss=args.loss))
        with tempfile.TemporaryDirectory(prefix=f"bench-isolation-{engine}-") as base:
            results[engine] = trio.run(fault, args, Path(base), engine, mesh)
    return results


def get_fault(args: argparse.Namespace) -> Callable[..., Awaitable[dict[str, Any]]]:
    if args.clock_off is not None:
        return skew_clock
    if args.split:
        return split_in_two
    if args.one_way:
        return hold_one_way
    return flap if args.flapping else isolate


@dataclass(frozen=True)
class Regions:
    """A run's four validators in their regions, the load's members set up, validator
    0's commits watched (`watch`), and the tasks' nursery."""

    net: ProcessNetwork
    proxies: Proxies
    load: Load
    watch: CommitWatch
    nursery: trio.Nursery

    def set_apart(self, engine: str, node: int, rate: int) -> tuple[CommitWatch, Send]:
        """Validator `node`'s commits watched, and the load (`rate` trades/s) sent to the
        others alone, as a venue fails over from a validator it cannot reach."""
        apart = self.net.homes[node]
        apart_watch = CommitWatch(apart, engine)
        self.nursery.start_soon(apart_watch.run)
        staying = [home for home in self.net.homes if home is not apart]
        return apart_watch, partial(offer, staying, self.load, self.watch, rate)

    def watch_all(self, engine: str) -> list[CommitWatch]:
        """Every validator's commits watched, validator 0's first (`watch`)."""
        others = [CommitWatch(home, engine) for home in self.net.homes[1:]]
        for other in others:
            self.nursery.start_soon(other.run)
        return [self.watch, *others]


@asynccontextmanager
async def open_regions(
    args: argparse.Namespace,
    base: Path,
    engine: str,
    mesh: Mesh,
    env: dict[int, dict[str, str]] | None = None,
) -> AsyncIterator[Regions]:
    """The network behind `mesh`'s proxies (validator i's processes with `env[i]` added
    to their environment), until the block ends: then its tasks, nodes and proxies stop."""
    network = ProcessNetwork(base, VALIDATORS, engine=engine, observers=(), mesh=mesh)
    for index, added in (env or {}).items():
        network.homes[index].env = added
    proxies = Proxies(mesh, base)
    try:
        with running(network) as net:
            async with trio.open_nursery() as nursery:
                load, watch = await start_load(net, engine, args.batch, nursery)
                yield Regions(net, proxies, load, watch, nursery)
                nursery.cancel_scope.cancel()
    finally:
        proxies.close()


async def isolate(args: argparse.Namespace, base: Path, engine: str, mesh: Mesh) -> dict[str, Any]:
    """One engine's run: the load, the cut, the way back (see the module's docstring)."""
    async with open_regions(args, base, engine, mesh) as regions:
        watch = regions.watch
        away_watch, send = regions.set_apart(engine, args.node, args.rate)
        before = await timed(watch, send, WARM_S)
        cut_at_height, away_at_cut = watch.height, away_watch.height
        regions.proxies.cut({args.node})
        cut = time.monotonic()
        during = await timed(watch, send, args.isolated)
        regions.proxies.cut(set())
        healed = time.monotonic()
        tip, behind = watch.height, watch.height - away_watch.height
        away_moved = away_watch.height - away_at_cut
        async with beside(send, CATCH_UP_LIMIT_S + AFTER_S):
            first = away_watch.height + 1
            first_height_s = await wait_for_height(away_watch, lambda: first, healed)
            catch_up_s = await wait_for_height(away_watch, lambda: tip, healed)
            live_s = await wait_for_height(away_watch, lambda: watch.height, healed)
        after = await time_after(watch, send)
    committed_while_cut = tip - cut_at_height
    assert committed_while_cut > 0, "the three stopped committing while one was cut off"
    return {
        "cut_s": round(healed - cut, 1),
        "heights_committed_while_cut": committed_while_cut,
        "heights_per_s_while_cut": round(committed_while_cut / (healed - cut), 2),
        "cut_off_node_heights_while_cut": away_moved,
        "heights_behind_at_heal": behind,
        "first_height_s": round(first_height_s, 1),
        "catch_up_s": round(catch_up_s, 1),
        "to_live_tip_s": round(live_s, 1),
        "commit_ms_p50": {"before": before, "while_cut": during, "after": after},
        "refused": watch.refused,
        "accepted_not_committed": len(watch.sent),
    }


async def split_in_two(
    args: argparse.Namespace, base: Path, engine: str, mesh: Mesh
) -> dict[str, Any]:
    """One engine's run: the load, the 2|2 split, the heal (see the module's docstring)."""
    async with open_regions(args, base, engine, mesh) as regions:
        watch = regions.watch
        watches = regions.watch_all(engine)
        send = partial(offer, regions.net.homes, regions.load, watch, args.rate)
        before = await timed(watch, send, WARM_S)
        regions.proxies.split(list(SIDES))
        split = time.monotonic()
        await trio.sleep(0.5)  # the proxies follow the file within 0.05 s
        at_split = max(w.height for w in watches)
        await send(args.isolated - 0.5)
        at_heal = max(w.height for w in watches)
        regions.proxies.split([])
        healed = time.monotonic()
        recovered_s = await wait_level(watches, at_heal + 1, healed)
        after = await time_after(watch, send)
    return {
        "split_s": round(healed - split, 1),
        "heights_committed_while_split": at_heal - at_split,
        "recovered_s": round(recovered_s, 1),
        "commit_ms_p50": {"before": before, "after": after},
        "refused": watch.refused,
        "accepted_not_committed": len(watch.sent),
    }


async def hold_one_way(
    args: argparse.Namespace, base: Path, engine: str, mesh: Mesh
) -> dict[str, Any]:
    """One engine's run: the load, validator 0 deaf to `--node`, the link whole again (see
    the module's docstring)."""
    async with open_regions(args, base, engine, mesh) as regions:
        watch = regions.watch
        watches = regions.watch_all(engine)
        send = partial(offer, regions.net.homes, regions.load, watch, args.rate)
        before = await timed(watch, send, WARM_S)
        at_hold = max(w.height for w in watches)
        regions.proxies.hold({(args.node, 0)})
        held = time.monotonic()
        behind = Behind()
        async with beside(behind.follow, watches, held):
            during = await timed(watch, send, args.isolated)
        tip = max(w.height for w in watches)
        regions.proxies.hold(set())
        whole = time.monotonic()
        level_s = await wait_level(watches, tip, whole)
        after = await time_after(watch, send)
    return {
        "held_s": round(whole - held, 1),
        "heights_committed_while_held": tip - at_hold,
        "most_behind": {"heights": behind.heights, "at_s": behind.at_s},
        "level_s": round(level_s, 1),
        "commit_ms_p50": {"before": before, "while_held": during, "after": after},
        "refused": watch.refused,
        "accepted_not_committed": len(watch.sent),
    }


async def flap(args: argparse.Namespace, base: Path, engine: str, mesh: Mesh) -> dict[str, Any]:
    """One engine's run: the load, `--node`'s links flapping, then whole (see the module's
    docstring)."""
    async with open_regions(args, base, engine, mesh) as regions:
        watch = regions.watch
        flapping_watch, send = regions.set_apart(engine, args.node, args.rate)
        before = await timed(watch, send, WARM_S)
        at_start, flapping_at_start = watch.height, flapping_watch.height
        start = time.monotonic()
        async with beside(flap_links, regions.proxies, args.node, args.flap):
            during = await timed(watch, send, args.isolated)
        regions.proxies.cut(set())
        whole = time.monotonic()
        tip, behind = watch.height, watch.height - flapping_watch.height
        flapping_moved = flapping_watch.height - flapping_at_start
        async with beside(send, CATCH_UP_LIMIT_S + AFTER_S):
            live_s = await wait_for_height(flapping_watch, lambda: watch.height, whole)
        after = await time_after(watch, send)
    assert tip > at_start, "the three stopped committing while one flapped"
    return {
        "flapping_s": round(whole - start, 1),
        "flap_s": args.flap,
        "heights_committed_while_flapping": tip - at_start,
        "flapping_node_heights_while_flapping": flapping_moved,
        "heights_behind_at_end": behind,
        "to_live_tip_s": round(live_s, 1),
        "commit_ms_p50": {"before": before, "while_flapping": during, "after": after},
        "refused": watch.refused,
        "accepted_not_committed": len(watch.sent),
    }


async def skew_clock(
    args: argparse.Namespace, base: Path, engine: str, mesh: Mesh
) -> dict[str, Any]:
    """One engine's run: the load, `--node`'s clock off, then true (see the module's
    docstring)."""
    if engine == COMETBFT:
        return {"skipped": "a cometbft process's clock is Go's, which libfaketime cannot move"}
    if not FAKETIME.exists():
        return {"skipped": NO_FAKETIME}
    clock = MovableClock(base / "clock-offset")
    async with open_regions(args, base, engine, mesh, {args.node: clock.env}) as regions:
        watch = regions.watch
        send = partial(offer, regions.net.homes, regions.load, watch, args.rate)
        before = await paced(watch, send, WARM_S)
        clock.set(args.clock_off)
        during = await paced(watch, send, args.isolated)
        honest = regions.net.homes[args.node - 1 if args.node else 1]
        skewed = regions.net.genesis["validators"][args.node]["name"]
        ahead_ms = read_samples(honest, "clearnode_consensus_proposal_ahead_ms")
        clock.set(0)
        after = await paced(watch, send, AFTER_S)
        untimely = read_samples(honest, "clearnode_consensus_untimely_proposals_total")
        jailed = read_samples(honest, "clearnode_validators_jailed_total")
        latest_ms = wall_clock_ms() + PROPOSAL_TIME_PRECISION_MS
        blocks = read_blocks(regions.net.homes[0])
    times = [block.header.time_ms for block in blocks]
    return {
        "clock_off_s": args.clock_off,
        "skewed_s": args.isolated,
        "before": before,
        "while_skewed": during,
        "after": after,
        "untimely_proposals_of_skewed": untimely.get(skewed, 0),
        "skewed_proposal_ahead_ms": ahead_ms.get(skewed),
        "block_times_increasing": times == sorted(set(times)),
        "block_times_within_precision": bool(times) and times[-1] <= latest_ms,
        "validators_jailed": sum(jailed.values()),
        "refused": watch.refused,
        "accepted_not_committed": len(watch.sent),
    }


async def paced(watch: CommitWatch, send: Send, seconds: float) -> dict[str, Any]:
    """The heights a second, the heights decided past round 0 and the commit p50 (ms) of
    the batches `send` offers for `seconds`."""
    height, later, start = watch.height, watch.later_rounds or 0, time.monotonic()
    p50 = await timed(watch, send, seconds)
    return {
        "heights_per_s": round((watch.height - height) / (time.monotonic() - start), 2),
        "heights_past_round_0": (watch.later_rounds or 0) - later,
        "commit_ms_p50": p50,
    }


async def flap_links(proxies: Proxies, node: int, flap_s: float) -> None:
    """`node`'s links down for `flap_s`, up for as long, until cancelled."""
    while True:
        proxies.cut({node})
        await trio.sleep(flap_s)
        proxies.cut(set())
        await trio.sleep(flap_s)


@dataclass
class Behind:
    """The most heights any validator was behind the highest, and when (s after `since`)."""

    heights: int = 0
    at_s: float = 0.0

    async def follow(self, watches: list[CommitWatch], since: float) -> None:
        while True:
            heights = [w.height for w in watches]
            if max(heights) - min(heights) > self.heights:
                self.heights = max(heights) - min(heights)
                self.at_s = round(time.monotonic() - since, 1)
            await trio.sleep(0.1)


async def wait_level(watches: list[CommitWatch], tip: int, since: float) -> float:
    """Seconds from `since` until every validator holds the height `tip`."""
    with trio.fail_after(CATCH_UP_LIMIT_S):
        while min(w.height for w in watches) < tip:
            await trio.sleep(0.05)
    return time.monotonic() - since


@asynccontextmanager
async def beside(task: Callable[..., Awaitable[object]], *args: Any) -> AsyncIterator[None]:
    """`task(*args)` runs beside the block (the load offered, links flapping, a lag
    followed) and is cancelled when the block ends."""
    async with trio.open_nursery() as nursery:
        nursery.start_soon(task, *args)
        yield
        nursery.cancel_scope.cancel()


async def timed(watch: CommitWatch, send: Send, seconds: float) -> float | None:
    """The commit p50 (ms) of the batches `send` offers for `seconds`, once committed."""
    first = len(watch.committed)
    sent = await send(seconds)
    await watch.wait_for(sent, SETTLE_S)
    latencies = [(seen - at) * 1000 for at, seen, _ in watch.committed[first:]]
    return round(percentile(latencies, 0.5), 1) if latencies else None


async def time_after(watch: CommitWatch, send: Send) -> float | None:
    """The commit p50 (ms) of AFTER_S of load once the fault is over, then up to SETTLE_S
    for every batch sent to commit (those that do not are counted as not committed)."""
    after = await timed(watch, send, AFTER_S)
    with trio.move_on_after(SETTLE_S):
        while watch.sent:
            await trio.sleep(0.1)
    return after


async def wait_for_height(watch: CommitWatch, target: Callable[[], int], since: float) -> float:
    """Seconds from `since` until `watch`'s node holds the height `target()` gives."""
    with trio.fail_after(CATCH_UP_LIMIT_S):
        while watch.height < target():
            await trio.sleep(0.05)
    return time.monotonic() - since
