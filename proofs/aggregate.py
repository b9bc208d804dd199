"""Aggregate checks from published sums of blinding factors.

For every position label:   Σ_accounts C(q_i) = T_i·G + B_i·H  with T_i + D_i = 0
For every collateral label: Σ_accounts C(a_k) = T_k·G + B_k·H  (T_k + D_k is the ledger's
collateral under the state root, proofs/reserves.py, which a member compares with the
vault balance it reads on that chain)
For the cash:               Σ_accounts C(c) = T·G + B·H  (T + D is the cash of every
reported account under the state root, proofs/coverage.py).
The sums run over the proven accounts; D is the sum over the accounts in default,
whose inputs the report publishes in the clear (so the book is flat exactly when
the proven and the published positions cancel).
Publishing B = Σ r reveals nothing about any one account's blinding, and the
sum of commitments binds the sum of the committed values.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from clearing.risk.solvency import CASH_LABEL, COLLATERAL_PREFIX, POSITION_PREFIX
from proofs.errors import ProofsError
from proofs.group import P, R
from proofs.pedersen import Generators
from proofs.statement import SolvencyStatement


class AggregateError(ProofsError):
    """The book is not flat: the report would fail its own aggregate check."""


@dataclass(frozen=True)
class AggregateEntry:
    """Published total of one label over all accounts, and the sum of blindings."""

    label: str
    total: int
    blinding_sum: int


def is_aggregated(label: str) -> bool:
    return label == CASH_LABEL or label.startswith((COLLATERAL_PREFIX, POSITION_PREFIX))


def compute_aggregates(
    statement: SolvencyStatement,
    inputs: Sequence[Sequence[int]],
    blindings: Sequence[Sequence[int]],
    in_clear: Sequence[Sequence[int]] = (),
) -> tuple[AggregateEntry, ...]:
    """The entries for the cash and every position and collateral label, in label order,
    over the proven accounts' ``inputs``; ``in_clear`` are the published ones.

    Raises AggregateError if some instrument's positions do not sum to zero."""
    entries = []
    for j, label in enumerate(statement.input_labels):
        if not is_aggregated(label):
            continue
        total = sum(x[j] for x in inputs)
        published = sum(x[j] for x in in_clear)
        if label.startswith(POSITION_PREFIX) and total + published != 0:
            raise AggregateError(f"positions in {label!r} sum to {total + published}, not 0")
        entries.append(AggregateEntry(label, total, sum(r[j] for r in blindings) % R))
    return tuple(entries)


def check_aggregates(
    gens: Generators[P],
    statement: SolvencyStatement,
    commitments: Sequence[Sequence[P]],
    entries: Sequence[AggregateEntry],
    in_clear: Sequence[Sequence[int]] = (),
) -> list[str]:
    """Every failure, as a sentence; an empty list means all aggregates hold.
    ``in_clear``: the inputs of the accounts in default, published in the report."""
    failures = []
    by_label = {e.label: e for e in entries}
    if len(by_label) != len(entries):
        failures.append("aggregate labels are not unique")
    expected = [x for x in statement.input_labels if is_aggregated(x)]
    if sorted(by_label) != sorted(expected):
        failures.append(f"aggregates cover {sorted(by_label)}, expected {sorted(expected)}")
    group = gens.group
    for j, label in enumerate(statement.input_labels):
        entry = by_label.get(label)
        if entry is None:
            continue
        published = sum(x[j] for x in in_clear)
        if label.startswith(POSITION_PREFIX) and entry.total + published != 0:
            failures.append(
                f"book not flat: total of {label!r} is {entry.total} proven + {published} "
                "in default"
            )
        column = group.sum([c[j] for c in commitments])
        if not group.eq(column, gens.commit(entry.total % R, entry.blinding_sum)):
            failures.append(
                f"sum of commitments to {label!r} does not open to the published total "
                f"{entry.total} with blinding sum {entry.blinding_sum:#x}"
            )
    return failures
