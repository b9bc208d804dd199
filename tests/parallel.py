"""How `make test` shares two cores between two pytest-xdist workers.

Every test that starts separate OS processes (marked `multiprocess`: validator networks,
CometBFT, devnets) runs on one worker, one after another, as it would without xdist: two
process networks at once on two cores would make their consensus timeouts what the tests
measure. The other worker meanwhile runs the in-process tests, module by module (so a
module's fixtures are built once), and both share what is left at the end.

`make test` asks for `--dist loadgroup`, whose scheduler this replaces. xdist's own
groups tests by an `xdist_group` mark that each worker adds to the test's node id, which
pytest 9.2 no longer lets a plugin change (pytest-dev/pytest-xdist#1386): the groups
would be silently lost. Here the first worker writes each test's group to a file whose
path the controller gave it, and the controller's scheduler reads it once every worker
has collected (the same tests: xdist checks).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from xdist.scheduler import LoadScopeScheduling

GROUPS_PATH = "groups_path"
"""The key of `workerinput` naming the file the first worker writes the groups to."""
PROCESSES = "processes"


def get_group(item: pytest.Item) -> str:
    return PROCESSES if item.get_closest_marker("multiprocess") else item.nodeid.split("::")[0]


def write_groups(path: Path, items: list[pytest.Item]) -> None:
    """Each test's group by node id, written whole (the scheduler never reads half)."""
    partial = path.with_suffix(".partial")
    partial.write_text(json.dumps({item.nodeid: get_group(item) for item in items}))
    os.replace(partial, path)


class GroupScheduling(LoadScopeScheduling):
    """`--dist loadgroup` with the groups the first worker wrote: a group is one unit of
    work, sent whole to one worker; the largest (the process tests) goes first."""

    def __init__(self, config: pytest.Config, path: Path, log: Any = None) -> None:
        super().__init__(config, log)
        self.path = path
        self.groups: dict[str, str] | None = None

    def _split_scope(self, nodeid: str) -> str:
        if self.groups is None:
            self.groups = json.loads(self.path.read_text())
        return self.groups.get(nodeid, nodeid)
