"""Reserves on chain: each vault holds at least the collateral the report says members hold.

A report's aggregates give, per chain and token, the quanta all accounts hold: the
proven total (its commitments open to it) plus the inputs of the accounts in default,
published in the clear. Times the token's quantum in genesis, that is the least the
chain's vault must hold of the token. The vault may hold more and still be sound:
withdrawals debited but not yet paid, and, of the settlement token, what backs
members' positive cash, are in the vault too but not among the report's collateral.

The balances are read by the caller (`clearnode verify --rpc`, node/chainread.py):
this module only compares numbers, so the verifier's logic needs no network code.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from clearing.genesis import Genesis
from clearing.risk.solvency import parse_collateral_label
from proofs.report import Report, Verdict


@dataclass(frozen=True)
class VaultReading:
    """What one chain's vault held of each collateral token, read at `block`."""

    chain_id: int
    vault: bytes
    block: int
    balances: Mapping[bytes, int]  # token -> the token's smallest units


@dataclass(frozen=True)
class Unreadable:
    """A chain the verifier was asked to read and could not, and why."""

    chain_id: int
    reason: str


def get_collateral_quanta(report: Report) -> dict[tuple[int, bytes], int]:
    """Quanta of each (chain, token) over every account: proven plus in default. An
    aggregate whose label the statement lacks, or that names no chain and token, is left
    out: the aggregates check fails such a report, naming it."""
    column = {label: j for j, label in enumerate(report.statement.input_labels)}
    totals: dict[tuple[int, bytes], int] = {}
    for entry in report.aggregates:
        key = parse_collateral_label(entry.label)
        if key is None or entry.label not in column:
            continue
        index = column[entry.label]
        totals[key] = entry.total + sum(d.inputs[index] for d in report.in_default)
    return totals


def check_reserves(
    report: Report, genesis: Genesis | None, readings: Mapping[int, VaultReading | Unreadable]
) -> Verdict:
    """Each read vault against the report's collateral on its chain; chains not read (or
    unreadable), or all of them without a genesis to name the vaults, are said, not passed."""
    verdict = Verdict()
    if genesis is None:
        verdict.not_checked.append("reserves: without --genesis the vaults are not known")
        return verdict
    quanta = get_collateral_quanta(report)
    tokens = {(t.chain_id, t.token): t for t in genesis.collateral}
    for chain_id in sorted({chain for chain, _ in quanta}):
        reading = readings.get(chain_id)
        if reading is None:
            verdict.not_checked.append(
                f"reserves on chain {chain_id}: not read (give --rpc {chain_id}=URL)"
            )
            continue
        if isinstance(reading, Unreadable):
            verdict.unreadable.append(f"reserves on chain {chain_id}: {reading.reason}")
            continue
        where = f"chain {chain_id} vault 0x{reading.vault.hex()} at block {reading.block}"
        for (chain, token), held_quanta in sorted(quanta.items()):
            if chain != chain_id:
                continue
            spec = tokens.get((chain, token))
            if spec is None:
                verdict.failures.append(f"{where}: token 0x{token.hex()} is not in genesis")
                continue
            owed = held_quanta * spec.quantum
            held = reading.balances.get(token)
            if held is None:
                verdict.unreadable.append(f"{where}: {spec.symbol} balance not read")
            elif held < owed:
                verdict.failures.append(
                    f"{where} holds {held} {spec.symbol} units, less than the {owed} "
                    f"({held_quanta} quanta) the report's accounts hold: short by {owed - held}"
                )
            else:
                verdict.passed.append(
                    f"{where} holds {held} {spec.symbol} units >= the {owed} the report's "
                    f"accounts hold (the {held - owed} more backs pending withdrawals, "
                    "members' cash or was sent to the vault directly)"
                )
    return verdict
