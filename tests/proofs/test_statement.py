"""proofs/statement.py's bisection of a failed batch, over every set of bad claims among
seven, with the batch check replaced by a rule that knows which claims are bad: it names
exactly those, and checks the second half of a split only when the first failed too."""

from __future__ import annotations

from itertools import combinations
from typing import Any

import pytest

from proofs import statement


def run_bisection(
    monkeypatch: pytest.MonkeyPatch, count: int, bad: set[int]
) -> tuple[list[int], int]:
    """The indices named, and the checks made, for a failed batch of `count` claims."""
    checks = 0

    def check_claims(gens: Any, stmt: Any, claims: Any, items: list[tuple[int, Any]]) -> bool:
        nonlocal checks
        checks += 1
        return not any(index in bad for index, _ in items)

    monkeypatch.setattr(statement, "_check_claims", check_claims)
    failing = [(index, []) for index in range(count)]
    return statement._find_invalid(None, None, [], failing), checks  # type: ignore[arg-type]


@pytest.mark.parametrize("count", [1, 2, 5, 7])
def test_bisection_names_exactly_the_bad_claims(
    monkeypatch: pytest.MonkeyPatch, count: int
) -> None:
    for size in range(1, count + 1):
        for bad in combinations(range(count), size):
            named, _ = run_bisection(monkeypatch, count, set(bad))
            assert named == list(bad)


def test_one_bad_claim_among_five_costs_three_or_four_checks(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """After the failed batch: checking both halves at every split took 4, 4, 4, 6, 6."""
    checks = [run_bisection(monkeypatch, 5, {index})[1] for index in range(5)]
    assert checks == [4, 3, 3, 4, 3]
