"""The statement recomputed, not read.

A quorum can prove and sign any statement: rows whose risk arrays were zeroed
prove an account below maintenance margin "solvent". So a verifier holding the
genesis rebuilds the labels, offsets and rows from the genesis and the report's
market with `clearing.risk.engine.compute_market_solvency_form`, the function
the node builds them with, and fails the report on any difference, naming it.
The market and the configuration in force (instruments listed since genesis, risk
parameters governance changed: `clearing.governance.configuration`) are proven under
the report's state root (`MarketProof`), so they are the chain's at that root, not
the quorum's choice; the statement is recomputed from the genesis with that
configuration applied.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from clearing.errors import GenesisError
from clearing.genesis import Genesis
from clearing.governance.configuration import apply_configuration
from clearing.risk.engine import compute_market_solvency_form
from clearing.risk.errors import MarketMismatch
from proofs.checks import Verdict
from proofs.errors import StatementError
from proofs.report import Report
from proofs.statement import SolvencyStatement, get_statement

MAX_LISTED = 12  # differences named one by one; beyond, a count (a changed k_num moves every row)


def check_statement(report: Report, genesis: Genesis | None) -> Verdict:
    """The report's market and configuration under its state root, and its statement
    against the one recomputed from `genesis` with that configuration and that market;
    without a genesis, a warning that the statement is the report's word."""
    verdict = Verdict()
    market = report.market
    proof = report.market_proof
    configuration = f"configuration 0x{proof.get_configuration_hash().hex()}"
    if proof.get_root(market) == report.state_root:
        verdict.passed.append(
            f"market of height {report.height} ({len(market.mark_prices)} marks, "
            f"{len(market.index_prices)} index prices), {configuration} and the published "
            "roles are under the state root"
        )
    else:
        verdict.failures.append(
            f"market of height {report.height}, {configuration} and the published roles are "
            f"not under the state root 0x{report.state_root.hex()}: their proof gives 0x"
            f"{proof.get_root(market).hex()}"
        )
    if genesis is None:
        verdict.not_checked.append(
            "statement not checked: its rows (risk arrays, haircut weights, maintenance "
            "fraction, stress days) are the report's word, not recomputed from the genesis"
        )
        return verdict
    try:
        configured = apply_configuration(genesis, proof.configuration)
    except GenesisError as exc:
        verdict.failures.append(f"the report's configuration is not one: {exc}")
        return verdict
    failures = compare_statement(report, configured)
    if failures:
        verdict.failures.extend(failures)
    else:
        verdict.passed.append(
            f"statement recomputed from the genesis with the configuration of height "
            f"{report.height} ({len(configured.instruments)} instruments, {configuration}) "
            f"and the marks at that height: {len(report.statement.input_labels)} labels, "
            f"{len(report.statement.rows)} scenario rows, equal to the report's"
        )
    return verdict


def compare_statement(report: Report, genesis: Genesis) -> list[str]:
    """Each way the report's statement differs from the recomputed one."""
    if genesis.chain_id != report.chain_id:
        return [f"the genesis is of chain {genesis.chain_id}, the report of chain "
                f"{report.chain_id}: no statement to compare"]  # fmt: skip
    epoch_end = report.epoch * genesis.epoch_length_blocks
    if report.height != epoch_end:
        return [f"the report is of height {report.height}, not {epoch_end}, the last block "
                f"of epoch {report.epoch}"]  # fmt: skip
    try:
        form = compute_market_solvency_form(genesis, report.market)
    except MarketMismatch as exc:
        return [f"market {exc.kind} do not price the genesis's ids: missing {list(exc.missing)}, "
                f"not in the genesis {list(exc.extra)}"]  # fmt: skip
    except GenesisError as exc:
        return [f"the genesis defines no statement: {exc}"]
    if form is None:
        return ["the genesis has no risk section: it defines no statement"]
    try:
        expected = get_statement(form)
    except StatementError as exc:
        return [f"the recomputed statement is not provable: {exc}"]
    return describe_differences(report.statement, expected, form.scenario_labels)


def describe_differences(
    found: SolvencyStatement, expected: SolvencyStatement, scenarios: Sequence[str]
) -> list[str]:
    """Labels, then offsets, then rows: what the report has against what it should."""
    if found.input_labels != expected.input_labels:
        missing = [x for x in expected.input_labels if x not in found.input_labels]
        extra = [x for x in found.input_labels if x not in expected.input_labels]
        return [f"statement labels differ: the report has {list(found.input_labels)}, the "
                f"genesis gives {list(expected.input_labels)} (missing {missing}, "
                f"not in the genesis {extra})"]  # fmt: skip
    labels = expected.input_labels
    lines = [
        f"offset of {label!r}: the report has {f}, recomputed {e} (differs by {f - e})"
        for label, f, e in zip(labels, found.offsets, expected.offsets, strict=True)
        if f != e
    ]
    if len(found.rows) != len(expected.rows):
        return lines + _describe_row_count(found, expected, scenarios)
    for s, (row, want) in enumerate(zip(found.rows, expected.rows, strict=True)):
        lines.extend(
            f"row {s} (scenario {scenarios[s]}), column {label!r}: the report has {f}, "
            f"recomputed {e} (differs by {f - e})"
            for label, f, e in zip(labels, row, want, strict=True)
            if f != e
        )
    if len(lines) > MAX_LISTED:
        lines = [*lines[:MAX_LISTED], f"... and {len(lines) - MAX_LISTED} more differences"]
    return lines


def _describe_row_count(
    found: SolvencyStatement, expected: SolvencyStatement, scenarios: Sequence[str]
) -> list[str]:
    have = Counter(found.rows)
    missing = []
    for s, row in enumerate(expected.rows):
        if have[row]:
            have[row] -= 1
        else:
            missing.append(f"{scenarios[s]} (row {s})")
    extra = sum(have.values())
    return [f"the report has {len(found.rows)} scenario rows, the genesis gives "
            f"{len(expected.rows)}: missing {', '.join(missing) or 'none'}; "
            f"{extra} rows of the report are not the genesis's"]  # fmt: skip


def get_configured_genesis(report: Report, genesis: Genesis | None) -> Genesis | None:
    """`genesis` with the report's configuration in force (what `check_statement`
    recomputes from); None without a genesis or with a configuration that is not one."""
    if genesis is None:
        return None
    try:
        return apply_configuration(genesis, report.market_proof.configuration)
    except GenesisError:
        return None


def get_scenario_names(report: Report, genesis: Genesis | None) -> tuple[str, ...] | None:
    """The genesis's name of each scenario row (`day:2020-03-13`, `majors:1/3/vol+`), to
    explain a member's values by (`genesis`: `get_configured_genesis`'s); None without a
    genesis or one that gives no statement."""
    if genesis is None or genesis.chain_id != report.chain_id:
        return None
    try:
        form = compute_market_solvency_form(genesis, report.market)
    except (MarketMismatch, GenesisError):
        return None
    return None if form is None else form.scenario_labels
