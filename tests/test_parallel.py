"""How make test's scheduler groups tests (tests/parallel.py)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from tests.parallel import NETWORKS, get_group


@dataclass
class FakeItem:
    nodeid: str
    marks: dict[str, pytest.Mark] = field(default_factory=dict)

    def get_closest_marker(self, name: str) -> pytest.Mark | None:
        return self.marks.get(name)


def mark(name: str, *args: object) -> pytest.Mark:
    return getattr(pytest.mark, name)(*args).mark  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    ("marks", "group"),
    [
        ({}, "tests/x/test_y.py"),
        ({"multiprocess": mark("multiprocess")}, "tests/x/test_y.py"),
        ({"multiprocess": mark("multiprocess"), "network": mark("network")}, NETWORKS),
    ],
)
def test_network_tests_share_one_worker_and_any_other_test_goes_with_its_module(
    marks: dict[str, pytest.Mark], group: str
) -> None:
    item = FakeItem("tests/x/test_y.py::test_z", marks)
    assert get_group(item) == group  # type: ignore[arg-type]
