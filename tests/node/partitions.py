"""Link faults between four validator processes on four hosts (network namespaces,
tests/node/netns.py) under a steady load of trade batches: a 2|2 split, one validator
isolated, a one-way link and a flapping one, in turn on one network
(tests/node/test_partitions.py, and longer, `python -m bench partitions`).

What each fault must not cost: two blocks at one height, a commit while no side holds
two thirds of the power, a batch answered 202, an honest peer's score; and healing must
bring commits back promptly (`HEAL_S`) and a cut-off validator level with the others
(`CATCH_UP_S`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import trio

from tests.node.netns import Hosts, make_hosts
from tests.node.netproc import NodeHome, ProcessNetwork, running
from tests.node.restarts import Load, settle, submit_load, wait_connected
from tests.node.test_network_inprocess import setup_txs
from tests.node.test_network_processes import get_tip, post_setup, wait_until
from tests.node.test_submission_processes import make_batches

HEAL_S = 10
"""After a split heals, every validator commits a new height within this."""
CATCH_UP_S = 30
"""A validator cut off from the others reaches the tip they had at the heal within this."""
GIVE_UP_S = 120
"""How long a recovery is waited for before the run stops (a figure past the bounds
above is still kept, and failed by `check_partitions`)."""


@dataclass(frozen=True)
class Lengths:
    """How long each fault lasts, in seconds."""

    split_s: float
    isolated_s: float
    one_way_s: float
    flapping_s: float
    flap_s: float
    """Each half of a flap: the link down this long, then up this long."""


@dataclass
class PartitionRun(Load):
    figures: dict[str, dict[str, float]] = field(default_factory=dict)
    """Per fault: what it measured."""


def cut_off(hosts: Hosts, index: int) -> None:
    """Host `index` apart from all the others."""
    hosts.split([[i for i in range(len(hosts.names)) if i != index], [index]])


def get_tips(homes: list[NodeHome]) -> list[int]:
    return [get_tip(home) for home in homes]


async def wait_for_commit_past(what: str, homes: list[NodeHome], height: int) -> float:
    """Seconds until every one of `homes` stored a block above `height`."""
    started = time.monotonic()
    await wait_until(what, lambda: min(get_tips(homes)) > height, GIVE_UP_S)
    return round(time.monotonic() - started, 2)


async def split_in_two(net: ProcessNetwork, hosts: Hosts, down_s: float) -> dict[str, float]:
    """2|2: neither side holds the two thirds a commit needs. The heights are counted from
    when the split is whole: it moves the hosts to the other bridge one at a time, and in
    between three of the four still reach each other (counted from before it, a run beside
    a loaded machine saw a second height commit)."""
    hosts.split([[0, 1], [2, 3]])
    before = max(get_tips(net.homes))
    await trio.sleep(down_s)
    during = max(get_tips(net.homes))
    hosts.heal()
    recovered_s = await wait_for_commit_past("commits after the split", net.homes, during)
    # A height whose last precommit was on its way when the link went can still commit.
    return {
        "down_s": down_s,
        "heights_committed_while_split": max(0, during - before - 1),
        "recovered_s": recovered_s,
    }


async def isolate(net: ProcessNetwork, hosts: Hosts, index: int, down_s: float) -> dict[str, float]:
    """One validator cut off: the other three hold the two thirds and go on without it."""
    others = [h for i, h in enumerate(net.homes) if i != index]
    before = min(get_tips(others))
    cut_off(hosts, index)
    await trio.sleep(down_s)
    tip = max(get_tips(others))
    hosts.heal()
    home = net.homes[index]
    caught_up_s = await wait_for_commit_past("the isolated validator", [home], tip - 1)
    return {
        "down_s": down_s,
        "heights_by_the_others": tip - before,
        "caught_up_s": caught_up_s,
    }


async def cut_one_way(net: ProcessNetwork, hosts: Hosts, down_s: float) -> dict[str, float]:
    """Validator 0 does not hear 1, 1 still hears 0: over TCP no connection between them
    lasts, and what they say to each other goes round through the other two."""
    before = get_tips(net.homes)
    hosts.cut_one_way(1, 0)
    await trio.sleep(down_s)
    during = get_tips(net.homes)
    hosts.heal()
    tip = max(during)
    caught_up_s = await wait_for_commit_past("the validator not hearing", net.homes[:1], tip - 1)
    return {
        "down_s": down_s,
        "heights_committed": tip - max(before),
        "heights_by_every_node": min(during) - min(before),
        "caught_up_s": caught_up_s,
    }


async def flap(
    net: ProcessNetwork, hosts: Hosts, index: int, total_s: float, flap_s: float
) -> dict[str, float]:
    """One validator's link down `flap_s`, up `flap_s`, for `total_s`."""
    others = [h for i, h in enumerate(net.homes) if i != index]
    before, started = min(get_tips(others)), time.monotonic()
    flaps = 0
    while time.monotonic() - started < total_s:
        cut_off(hosts, index)
        await trio.sleep(flap_s)
        hosts.heal()
        await trio.sleep(flap_s)
        flaps += 1
    tip = max(get_tips(others))
    home = net.homes[index]
    caught_up_s = await wait_for_commit_past("the flapping validator", [home], tip - 1)
    return {
        "flaps": flaps,
        "heights_by_the_others": min(get_tips(others)) - before,
        "caught_up_s": caught_up_s,
    }


async def wait_level(homes: list[NodeHome]) -> None:
    """Until every node holds the highest tip any held when asked and is connected to
    every other: each fault starts on a network that recovered from the one before. A
    link the last fault closed can still be down when the tips are level, and the next
    fault would then cut a network already short of a link (a flapping validator's three
    peers, two of them not yet linked again after a one-way cut, went 8 s without a
    commit)."""
    tip = max(get_tips(homes))
    await wait_until("every node level", lambda: min(get_tips(homes)) >= tip, GIVE_UP_S)
    await wait_connected(homes, GIVE_UP_S)


async def run_faults(
    net: ProcessNetwork, hosts: Hosts, lengths: Lengths, run: PartitionRun
) -> None:
    run.figures["split_2_2"] = await split_in_two(net, hosts, lengths.split_s)
    await wait_level(net.homes)
    run.figures["isolated"] = await isolate(net, hosts, 0, lengths.isolated_s)
    await wait_level(net.homes)
    run.figures["one_way"] = await cut_one_way(net, hosts, lengths.one_way_s)
    await wait_level(net.homes)
    run.figures["flapping"] = await flap(net, hosts, 3, lengths.flapping_s, lengths.flap_s)


async def run_partitions(
    base: Path,
    lengths: Lengths,
    engine: str = "clearnode",
    batches_per_s: int = 10,
    sysctls: dict[str, str] | None = None,
) -> PartitionRun:
    """Every fault in turn under load, on `engine`, each host's kernel set with `sysctls`;
    then every accepted batch must commit once, every node reconnect to every other, and
    every chain match."""
    setup, _ = setup_txs()
    run = PartitionRun()
    total_s = sum(vars(lengths).values()) + 120
    batches = make_batches(int(batches_per_s * total_s))
    with (
        make_hosts(4, sysctls) as hosts,
        running(ProcessNetwork(base, engine=engine, hosts=hosts)) as net,
    ):
        await post_setup(net.homes, setup)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(submit_load, net.homes, batches, batches_per_s, run)
            await trio.sleep(2)  # batches in flight when the first fault comes
            await run_faults(net, hosts, lengths, run)
            nursery.cancel_scope.cancel()
        await settle(net.homes, run)
    return run


def get_figures(run: PartitionRun) -> dict[str, Any]:
    """What a run measured, for the benchmark's line and the test's output."""
    return {
        **run.figures,
        "batches_accepted": len(run.accepted),
        "batches_refused": run.refused,
        "batches_lost": run.lost,
        "bans": sum("banning peer" in line for line in run.scored),
        "offences": sum("banning peer" not in line for line in run.scored),
    }


def check_partitions(run: PartitionRun, heal_s: float = HEAL_S) -> None:
    """What the faults must not cost, and how soon healing must show (commits again within
    `heal_s` of a split)."""
    assert run.lost == 0, f"{run.lost} of {len(run.accepted)} accepted batches lost or repeated"
    assert run.scored == [], "honest peers scored down:\n" + "\n".join(run.scored[:20])
    split, isolated = run.figures["split_2_2"], run.figures["isolated"]
    assert split["heights_committed_while_split"] == 0, split
    assert split["recovered_s"] < heal_s, split
    assert isolated["heights_by_the_others"] > 0, isolated
    assert isolated["caught_up_s"] < CATCH_UP_S, isolated
    one_way = run.figures["one_way"]
    assert one_way["heights_committed"] > 0 and one_way["caught_up_s"] < CATCH_UP_S, one_way
    flapping = run.figures["flapping"]
    assert flapping["heights_by_the_others"] > 0 and flapping["caught_up_s"] < CATCH_UP_S
