"""The epoch's accounts split between the validators that prove them."""

from __future__ import annotations

from collections import Counter

from node.reports.assignment import assign_accounts

PROVERS = [bytes([b]) * 32 for b in (3, 1, 2, 4)]
KEYS = [(bytes([i % 7]) * 20, i // 7) for i in range(10)]


def test_each_account_has_one_prover_and_the_counts_differ_by_at_most_one() -> None:
    assignment = assign_accounts(KEYS, PROVERS, epoch=5)
    assert list(assignment) == sorted(KEYS)
    assert sorted(Counter(assignment.values()).values()) == [2, 2, 3, 3]


def test_every_validator_computes_the_same_assignment_in_any_order() -> None:
    expected = assign_accounts(KEYS, PROVERS, epoch=5)
    assert assign_accounts(reversed(KEYS), sorted(PROVERS), epoch=5) == expected


def test_accounts_are_dealt_round_the_sorted_validators_from_the_epochs_offset() -> None:
    provers = sorted(PROVERS)
    for epoch in (0, 1, 6):
        assignment = assign_accounts(KEYS, PROVERS, epoch)
        assert [assignment[k] for k in sorted(KEYS)] == [
            provers[(i + epoch) % 4] for i in range(len(KEYS))
        ]
    # the remainder moves on: over four epochs every validator proves the same number
    totals = Counter(p for e in range(4) for p in assign_accounts(KEYS, PROVERS, e).values())
    assert set(totals.values()) == {10}


def test_no_provers_no_assignment() -> None:
    assert assign_accounts(KEYS, [], epoch=1) == {}
