"""How `make test` groups the tests for its three workers (tests/parallel.py)."""

from __future__ import annotations

import os
import subprocess
import sys
import types
from pathlib import Path
from typing import Any

import pytest

from tests.node.nodenet import open_node_network
from tests.node.test_network_inprocess import network
from tests.parallel import (
    BESIDE_NETWORKS,
    NETWORKS,
    OTHER,
    GroupScheduling,
    describe_lanes,
    get_group,
    get_lane,
    sum_lanes,
    yield_to_networks,
)


def make_item(nodeid: str, helpers: dict[str, Any], *marks: str) -> Any:
    module = types.ModuleType(nodeid.split("::")[0])
    vars(module).update(helpers)
    return types.SimpleNamespace(
        nodeid=nodeid, module=module, get_closest_marker=lambda name: name in marks or None
    )


def test_every_network_runs_in_one_group_and_other_tests_by_module() -> None:
    """Process networks, and validators run in the test's own process by either helper,
    share the one group run one test at a time; the rest go by module."""
    processes = make_item("tests/a.py::test_x", {}, "multiprocess")
    nodes = make_item("tests/b.py::test_y", {"open_node_network": open_node_network})
    members = make_item("tests/c.py::test_z", {"network": network})
    plain = make_item("tests/d.py::test_w", {"network": lambda: None})  # not the helper
    assert [get_group(i) for i in (processes, nodes, members)] == [NETWORKS] * 3
    assert get_group(plain) == "tests/d.py"


def test_process_tests_marked_beside_the_networks_go_before_the_rest_by_module_or_package() -> None:
    """The networks first, then the tests beside them, then the rest, the longest first
    within each kind: a module's beside tests share one group that any worker may take, a
    package's where they share a package-scoped fixture (which would otherwise start on
    every worker)."""
    package_scoped = [types.SimpleNamespace(scope="package")]
    live = types.SimpleNamespace(name2fixturedefs={"live": package_scoped, "tmp_path": []})
    api = make_item("tests/client/api.py::test_v", {}, "multiprocess", "beside_networks")
    docs = make_item("tests/client/docs.py::test_u", {}, "beside_networks")
    api._fixtureinfo = docs._fixtureinfo = live
    dist = make_item("tests/dist.py::test_t", {}, "multiprocess", "beside_networks")
    client, top = f"{BESIDE_NETWORKS}: tests/client", f"{BESIDE_NETWORKS}: tests/dist.py"
    assert [get_group(i) for i in (api, docs, dist)] == [client, client, top]
    assert [get_lane(g) for g in (client, NETWORKS, "tests/d.py")] == [
        BESIDE_NETWORKS,
        NETWORKS,
        OTHER,
    ]
    scheduling = GroupScheduling.__new__(GroupScheduling)
    scheduling.seconds = {"tests/d.py": 0.2, "tests/f.py": 30.0, client: 20.0, top: 10.0}
    groups = [top, "tests/d.py", client, NETWORKS, "tests/f.py"]
    order = sorted(groups, key=scheduling.get_order, reverse=True)
    assert order == [NETWORKS, client, top, "tests/f.py", "tests/d.py"]


YIELDING = """
import os, threading, types
from tests.parallel import yield_to_networks
def make(*marks):
    return types.SimpleNamespace(nodeid="tests/a.py::test_x", module=None,
        get_closest_marker=lambda name: name in marks or None)
started, done = threading.Event(), threading.Event()
def wait():
    global tid
    tid = threading.get_native_id()
    started.set()
    done.wait()
thread = threading.Thread(target=wait)
thread.start()
started.wait()
niceness = os.getpriority(os.PRIO_PROCESS, 0) + 1
yield_to_networks(make("multiprocess"), niceness)
networks = os.getpriority(os.PRIO_PROCESS, 0), os.getpriority(os.PRIO_PROCESS, tid)
yield_to_networks(make(), niceness)
after = os.getpriority(os.PRIO_PROCESS, 0), os.getpriority(os.PRIO_PROCESS, tid)
done.set()
thread.join()
print(*networks, *after)
"""


def test_a_worker_yields_the_cores_to_the_networks_once_it_runs_anything_else() -> None:
    """A network test leaves the worker as it is; any other lowers the niceness of every
    thread of it, those already running too (Linux keeps a niceness per thread). One step
    above the suite's own: a worker of `make test` has already yielded."""
    root = Path(__file__).parent.parent
    ran = subprocess.run(
        [sys.executable, "-c", YIELDING], cwd=root, capture_output=True, text=True, check=True
    )
    start = os.getpriority(os.PRIO_PROCESS, 0)
    assert ran.stdout.split() == [str(start)] * 2 + [str(start + 1)] * 2


def test_a_worker_the_kernel_will_not_lower_says_so_and_runs_on(monkeypatch: Any) -> None:
    def refuse(*args: int) -> None:
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(os, "getpriority", lambda *args: -20)  # below any niceness asked
    monkeypatch.setattr(os, "setpriority", refuse)
    other = make_item("tests/d.py::test_w", {})
    with pytest.warns(UserWarning, match="not served first: .*Operation not permitted"):
        yield_to_networks(other)


def test_each_worker_s_seconds_are_summed_by_lane() -> None:
    groups = {"a.py::x": NETWORKS, "b.py::y": "b.py", "c.py::z": f"{BESIDE_NETWORKS}: tests"}
    ran = [("gw0", "a.py::x", 40.0), ("gw0", "a.py::x", 0.5), ("gw1", "b.py::y", 3.0),
           ("gw1", "c.py::z", 10.0), ("gw1", "d.py::w", 1.0)]  # fmt: skip
    lanes = sum_lanes(ran, groups)
    assert lanes == {
        "gw0": {NETWORKS: 40.5, BESIDE_NETWORKS: 0.0, OTHER: 0.0},
        "gw1": {NETWORKS: 0.0, BESIDE_NETWORKS: 10.0, OTHER: 4.0},
    }
    assert describe_lanes(lanes)[1] == "gw1: 14.0 s (networks 0.0, beside networks 10.0, other 4.0)"
