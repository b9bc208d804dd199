"""How `make test` shares two cores between three pytest-xdist workers.

Every test that runs a network runs on one worker, one after another, as it would
without xdist: those that start separate OS processes (marked `multiprocess`: validator
networks, CometBFT, devnets), and those that run validators' consensus in the test's
own process (`runs_validators_here`). Their consensus timeouts must not become what the
tests measure: four in-process validators sharing one starved event loop beside a
process network took 40 s and more for a height (each round's proposal arriving after
the others' propose timeout), and their tests failed one full run in two. So that lane
runs at the machine's first call: a worker lowers its own priority, and that of every
process its tests start, before anything else (`yield_to_networks`, niceness 10), and
the kernel serves the networks' processes first whenever they want a core.

The two other workers take, the longest first, the process tests marked
`beside_networks`, those whose every check holds however slowly their processes run
(building and installing the release, the SDK against a live network, upgrades in place,
a genesis ceremony, state sync, governance changing the set): a module at a time, or a
package at a time where they share a package's fixture (the client tests' live network,
which then starts once). Then the remaining tests, module by module (so a module's
fixtures are built once), the modules of most `slow` tests first, and all three share
what is left at the end, so that none ends alone on a long module. Most of a network
test's time is waiting (a fault's length, a block's wait, a peer's timeout): a process
network uses about half a core, so two of them and the unit tests fill the two cores.

`make test` asks for `--dist loadgroup`, whose scheduler this replaces. xdist's own
groups tests by an `xdist_group` mark that each worker adds to the test's node id, which
pytest 9.2 no longer lets a plugin change (pytest-dev/pytest-xdist#1386): the groups
would be silently lost. Here the first worker writes each test's group to a file whose
path the controller gave it, and the controller's scheduler reads it once every worker
has collected (the same tests: xdist checks).

Each worker also chooses loopback ports from a range of its own (`share_ports`), which the
processes its tests start inherit: a port one worker found free and handed to a node could
otherwise be taken by another's anvil before the node bound it.
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pytest
from xdist.scheduler import LoadScopeScheduling

from bridge.loopback import PORTS_VARIABLE, get_port_range

GROUPS_PATH = "groups_path"
"""The key of `workerinput` naming the file the first worker writes the groups to."""
NETWORKS = "networks"
BESIDE_NETWORKS = "beside networks"
"""The lane of the tests marked `beside_networks`, and the first words of their groups."""
OTHER = "other"
"""The lane of every group but the networks and the tests beside them."""
SLOW_TEST_S = 10.0
"""What a `slow` test is taken to last when the groups are ordered (a few to 30 s)."""
TEST_S = 0.2
"""What any other test is taken to last (most take milliseconds, a few a second)."""


def share_ports(workerinput: dict[str, Any]) -> None:
    """This worker's share of the loopback ports, the same size as every other's."""
    ports = get_port_range()
    index, count = int(workerinput["workerid"].removeprefix("gw")), workerinput["workercount"]
    size = len(ports) // count
    first = ports.start + index * size
    os.environ[PORTS_VARIABLE] = f"{first}-{first + size - 1}"


NETWORK_HELPERS = {
    ("tests.node.nodenet", "open_node_network"),
    ("tests.node.test_network_inprocess", "network"),
    ("tests.node.bridge.broken_rpc", "run_broken_rpc"),
}
"""What a test module uses to run validators in its own process."""


def runs_validators_here(item: pytest.Item) -> bool:
    """Whether the test's module holds a helper that runs validators in this process."""
    module = getattr(item, "module", None)
    helpers = vars(module).values() if module is not None else ()
    return any(
        (getattr(h, "__module__", None), getattr(h, "__qualname__", None)) in NETWORK_HELPERS
        for h in helpers
    )


def uses_package_fixture(item: pytest.Item) -> bool:
    """Whether the test uses a package-scoped fixture (the client tests' live network),
    which each worker running one of the package's tests would start again."""
    info = getattr(item, "_fixtureinfo", None)  # pytest's own record of the test's fixtures
    defs = info.name2fixturedefs.values() if info is not None else ()
    return any(d and d[-1].scope == "package" for d in defs)


def get_group(item: pytest.Item) -> str:
    module = item.nodeid.split("::")[0]
    if item.get_closest_marker("beside_networks"):
        shared = module.rpartition("/")[0] if uses_package_fixture(item) else module
        return f"{BESIDE_NETWORKS}: {shared}"
    if item.get_closest_marker("multiprocess") or runs_validators_here(item):
        return NETWORKS
    return module


YIELDING_NICENESS = 10
"""The niceness of a worker once it runs anything but the network tests: the scheduler
then gives those tests' processes the cores they ask for first."""


def yield_to_networks(item: pytest.Item, niceness: int = YIELDING_NICENESS) -> None:
    """Lowers this worker's priority, every thread of it (Linux sets a thread's niceness,
    and the processes a test starts inherit the starting thread's), before a test outside
    the networks' lane. For good: an unprivileged process cannot raise it again. Once
    lowered, each test after finds it so at one system call: every thread started since
    inherited it."""
    if os.getpriority(os.PRIO_PROCESS, 0) >= niceness or get_lane(get_group(item)) == NETWORKS:
        return
    try:
        for task in Path("/proc/self/task").iterdir():
            lower_thread(int(task.name), niceness)
    except OSError as error:  # no /proc, or a sandbox that refuses: run as before, said
        warnings.warn(f"the network tests' processes are not served first: {error}", stacklevel=2)


def lower_thread(thread: int, niceness: int) -> None:
    try:
        if os.getpriority(os.PRIO_PROCESS, thread) < niceness:
            os.setpriority(os.PRIO_PROCESS, thread, niceness)
    except ProcessLookupError:  # a thread that ended meanwhile
        pass


def get_lane(group: str) -> str:
    """`NETWORKS`, `BESIDE_NETWORKS` or `OTHER`: the kind of group `group` is."""
    if group == NETWORKS:
        return NETWORKS
    return BESIDE_NETWORKS if group.startswith(f"{BESIDE_NETWORKS}: ") else OTHER


def estimate_seconds(item: pytest.Item) -> float:
    return SLOW_TEST_S if item.get_closest_marker("slow") else TEST_S


def write_groups(path: Path, items: list[pytest.Item]) -> None:
    """Each test's group by node id and each group's estimated seconds, written whole
    (the scheduler never reads half)."""
    groups = {item.nodeid: get_group(item) for item in items}
    seconds: dict[str, float] = {}
    for item in items:
        group = groups[item.nodeid]
        seconds[group] = seconds.get(group, 0.0) + estimate_seconds(item)
    partial = path.with_suffix(".partial")
    partial.write_text(json.dumps({"groups": groups, "seconds": seconds}))
    os.replace(partial, path)


def read_groups(path: Path) -> tuple[dict[str, str], dict[str, float]]:
    """What `write_groups` wrote: each test's group, each group's estimated seconds."""
    written = json.loads(path.read_text())
    return written["groups"], written["seconds"]


class GroupScheduling(LoadScopeScheduling):
    """`--dist loadgroup` with the groups the first worker wrote: a group is one unit of
    work, sent whole to one worker, the longest left first (the process tests, then the
    groups of most slow tests), so the workers end together instead of one running the
    last long module alone (xdist orders groups by their number of tests)."""

    def __init__(self, config: pytest.Config, path: Path, log: Any = None) -> None:
        super().__init__(config, log)
        self.path = path
        self.groups: dict[str, str] | None = None
        self.seconds: dict[str, float] = {}

    def _split_scope(self, nodeid: str) -> str:
        if self.groups is None:
            self.groups, self.seconds = read_groups(self.path)
        return self.groups.get(nodeid, nodeid)

    def get_order(self, group: str) -> tuple[int, float]:
        """The network tests first: they alone run one at a time on their worker; then the
        tests beside them, whose modules are the longest units of work, while the many
        short modules of the rest can still even the workers out at the end; the longest
        first within each."""
        rank = {NETWORKS: 2, BESIDE_NETWORKS: 1, OTHER: 0}[get_lane(group)]
        return rank, self.seconds.get(group, TEST_S)

    def _assign_work_unit(self, node: Any) -> None:
        longest = max(self.workqueue, key=self.get_order)
        self.workqueue.move_to_end(longest, last=False)
        super()._assign_work_unit(node)


def sum_lanes(
    ran: Iterable[tuple[str, str, float]], groups: Mapping[str, str]
) -> dict[str, dict[str, float]]:
    """Per worker, the seconds its tests took (setup, call and teardown), by the kind of
    group they ran in: `NETWORKS`, `BESIDE_NETWORKS`, `OTHER`. `ran` holds (worker, node
    id, seconds) per report. The run lasts as long as its longer lane: what a cut of the
    suite's time has to shorten."""
    lanes: dict[str, dict[str, float]] = {}
    for worker, nodeid, seconds in ran:
        kind = get_lane(groups.get(nodeid, nodeid))
        lane = lanes.setdefault(worker, dict.fromkeys((NETWORKS, BESIDE_NETWORKS, OTHER), 0.0))
        lane[kind] += seconds
    return lanes


def describe_lanes(lanes: Mapping[str, Mapping[str, float]]) -> list[str]:
    return [
        f"{worker}: {sum(kinds.values()):.1f} s ("
        + ", ".join(f"{kind} {seconds:.1f}" for kind, seconds in kinds.items())
        + ")"
        for worker, kinds in sorted(lanes.items())
    ]
