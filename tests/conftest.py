"""Suite-wide settings.

Hypothesis runs without per-example deadlines: the suite shares two cores with
anvil nodes and validator processes, and a timing deadline would make property
tests flaky without testing anything about correctness. Speed targets live in
bench/, never here.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest
import trio.testing
from hypothesis import HealthCheck, settings
from xdist.workermanage import WorkerController

from tests.parallel import (
    GROUPS_PATH,
    GroupScheduling,
    describe_lanes,
    read_groups,
    share_ports,
    sum_lanes,
    write_groups,
    yield_to_networks,
)

GROUPS_DIR = pytest.StashKey[Path | None]()

settings.register_profile(
    "default",
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    print_blob=True,
)
settings.register_profile("thorough", parent=settings.get_profile("default"), max_examples=2000)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


@pytest.fixture
def autojump_clock() -> trio.testing.MockClock:
    """trio's clock for a test that asks for it (pytest-trio runs the test on it): time
    jumps ahead whenever every task waits, so a test of minutes takes milliseconds."""
    return trio.testing.MockClock(autojump_threshold=0)


def pytest_configure(config: pytest.Config) -> None:
    config.stash[GROUPS_DIR] = None
    workerinput = getattr(config, "workerinput", None)
    if workerinput is not None:
        share_ports(workerinput)


def pytest_configure_node(node: WorkerController) -> None:
    """The controller (xdist): where the first worker writes the tests' groups."""
    if node.config.stash[GROUPS_DIR] is None:
        node.config.stash[GROUPS_DIR] = Path(tempfile.mkdtemp(prefix="pytest-groups-"))
    node.workerinput[GROUPS_PATH] = str(node.config.stash[GROUPS_DIR] / "groups.json")


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> GroupScheduling | None:
    directory = config.stash[GROUPS_DIR]
    if config.getvalue("dist") != "loadgroup" or directory is None:
        return None
    return GroupScheduling(config, directory / "groups.json", log)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """On the first xdist worker: each test's group, for the controller (tests/parallel.py)."""
    workerinput = getattr(config, "workerinput", None)
    if workerinput is not None and workerinput["workerid"] == "gw0":
        write_groups(Path(workerinput[GROUPS_PATH]), items)


def pytest_runtest_setup(item: pytest.Item) -> None:
    if hasattr(item.config, "workerinput"):
        yield_to_networks(item)


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    """The controller (xdist): each worker's seconds by lane (tests/parallel.py
    `sum_lanes`), from the reports its workers sent and the groups the first wrote."""
    directory = config.stash.get(GROUPS_DIR, None)
    path = None if directory is None else directory / "groups.json"
    if path is None or not path.exists():
        return
    groups, _ = read_groups(path)
    ran = [
        (report.node.gateway.id, report.nodeid, report.duration)
        for reports in terminalreporter.stats.values()
        for report in reports
        if isinstance(report, pytest.TestReport) and hasattr(report, "node")
    ]
    terminalreporter.write_sep("-", "seconds per worker, by lane")
    for line in describe_lanes(sum_lanes(ran, groups)):
        terminalreporter.write_line(line)


def pytest_unconfigure(config: pytest.Config) -> None:
    directory = config.stash.get(GROUPS_DIR, None)
    if directory is not None:
        shutil.rmtree(directory, ignore_errors=True)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """A failed test that ran on process networks gets their nodes' last log lines in its
    report (tests/node/node_logs.py)."""
    outcome = yield
    report = outcome.get_result()
    if report.when == "call" and report.failed:
        from tests.node.node_logs import get_networks_logs

        logs = get_networks_logs(getattr(item, "funcargs", {}))
        if logs is not None:
            report.sections.append(("what the nodes logged", logs))
