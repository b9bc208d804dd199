"""How `make test` groups the tests for its two workers (tests/parallel.py)."""

from __future__ import annotations

import types
from typing import Any

from tests.node.nodenet import open_node_network
from tests.node.test_network_inprocess import network
from tests.parallel import NETWORKS, get_group


def make_item(nodeid: str, helpers: dict[str, Any], multiprocess: bool = False) -> Any:
    module = types.ModuleType(nodeid.split("::")[0])
    vars(module).update(helpers)
    marks = {"multiprocess"} if multiprocess else set()
    return types.SimpleNamespace(
        nodeid=nodeid, module=module, get_closest_marker=lambda name: name in marks or None
    )


def test_every_network_runs_in_one_group_and_other_tests_by_module() -> None:
    """Process networks, and validators run in the test's own process by either helper,
    share the one group run one test at a time; the rest go by module."""
    processes = make_item("tests/a.py::test_x", {}, multiprocess=True)
    nodes = make_item("tests/b.py::test_y", {"open_node_network": open_node_network})
    members = make_item("tests/c.py::test_z", {"network": network})
    plain = make_item("tests/d.py::test_w", {"network": lambda: None})  # not the helper
    assert [get_group(i) for i in (processes, nodes, members)] == [NETWORKS] * 3
    assert get_group(plain) == "tests/d.py"
