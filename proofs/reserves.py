"""Reserves on chain: each vault holds at least what the ledger says it holds.

The state root commits, per chain and token, to what the ledger says that chain's
vault holds (``clearing.published_ledger.ReserveTotal``, in the market proof): the
members' collateral, the withdrawals debited and not yet seen paid (their tokens are
still in the vault), and, of the settlement token, what backs members' cash. The
collateral must be the report's own total (the proven total plus the accounts in
default), checked with public data only. Times the token's quantum in genesis, the
sum is the least the chain's vault must hold of the token, once every payout the
vault made is seen by clearing: a payout made but not yet seen (clearing observes the
vault's `Withdrawn` logs some blocks later) left the vault while still counted
pending. So the vault's balance at the block read, plus what its `Withdrawn` logs
paid up to that block beyond what the ledger saw paid since genesis (``paid``), must
reach it. The vault may hold more and still be sound: deposits not yet credited, and
tokens sent to it directly.

The balances and logs are read by the caller (`clearnode verify --rpc` and the SDK's
`verify_report`, clearnode/client/reserves.py): this module only compares numbers, so
the verifier's logic needs no network code.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from clearing.genesis import Genesis
from clearing.published_ledger import PublishedLedger, ReserveTotal
from clearing.risk.solvency import get_collateral_label, parse_collateral_label
from proofs.checks import Verdict
from proofs.report import Report
from records.codec import DecodeError


@dataclass(frozen=True)
class VaultReading:
    """What one chain's vault held of each collateral token, read at `block`, and what
    its `Withdrawn` logs paid out of each up to that block."""

    chain_id: int
    vault: bytes
    block: int
    balances: Mapping[bytes, int]  # token -> the token's smallest units
    withdrawn: Mapping[bytes, int] = field(default_factory=dict)  # token -> smallest units


@dataclass(frozen=True)
class Unreadable:
    """A chain the verifier was asked to read and could not, and why."""

    chain_id: int
    reason: str


def get_collateral_quanta(report: Report) -> dict[tuple[int, bytes], int]:
    """Quanta of each (chain, token) over every account: proven plus in default. An
    aggregate whose label the statement lacks, or that names no chain and token, is left
    out: the aggregates check fails such a report, naming it."""
    totals: dict[tuple[int, bytes], int] = {}
    for entry in report.aggregates:
        key = parse_collateral_label(entry.label)
        total = report.get_total(entry.label)
        if key is not None and total is not None:
            totals[key] = total
    return totals


def check_reserves(
    report: Report, genesis: Genesis | None, readings: Mapping[int, VaultReading | Unreadable]
) -> Verdict:
    """The report's collateral against the ledger's under its root, then each read vault
    against the ledger's reserves on its chain; chains not read (or unreadable), or all
    of them without a genesis to name the vaults, are said, not passed."""
    verdict = Verdict()
    try:
        ledger = PublishedLedger.decode(report.market_proof.ledger)
    except DecodeError as exc:
        verdict.not_checked.append(f"reserves: the published ledger does not decode: {exc}")
        return verdict
    totals = {r.key: r for r in ledger.reserves}
    verdict.failures.extend(compare_collateral(get_collateral_quanta(report), totals))
    if not verdict.failures:
        verdict.passed.append(
            f"the report's collateral totals are the ledger's under the state root "
            f"({len(totals)} tokens)"
        )
    if genesis is None:
        verdict.not_checked.append("reserves: without --genesis the vaults are not known")
        return verdict
    tokens = {(t.chain_id, t.token): t for t in genesis.collateral}
    for chain_id in sorted({chain for chain, _ in totals}):
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
        for total in ledger.reserves:
            if total.chain_id != chain_id:
                continue
            spec = tokens.get(total.key)
            if spec is None:
                verdict.failures.append(f"{where}: token 0x{total.token.hex()} is not in genesis")
                continue
            held = reading.balances.get(total.token)
            if held is None:
                verdict.unreadable.append(f"{where}: {spec.symbol} balance not read")
                continue
            check_vault(verdict, where, spec.symbol, spec.quantum, total, held,
                        reading.withdrawn.get(total.token, 0))  # fmt: skip
    return verdict


def compare_collateral(
    quanta: Mapping[tuple[int, bytes], int], totals: Mapping[tuple[int, bytes], ReserveTotal]
) -> list[str]:
    """The report's accounts hold, per (chain, token), the collateral the ledger holds."""
    return [
        f"{get_collateral_label(key)}: the report's accounts hold {quanta.get(key, 0)} quanta, "
        f"the ledger under the state root {totals[key].collateral if key in totals else 0}"
        for key in sorted(quanta.keys() | totals.keys())
        if quanta.get(key, 0) != (totals[key].collateral if key in totals else 0)
    ]


def check_vault(
    verdict: Verdict, where: str, symbol: str, quantum: int, total: ReserveTotal, held: int,
    withdrawn: int,
) -> None:  # fmt: skip
    """One token of one vault: its balance, with the payouts clearing had not yet seen,
    against what the ledger says it holds."""
    seen = total.paid * quantum
    if withdrawn < seen:
        verdict.failures.append(
            f"{where}: its Withdrawn logs pay out {withdrawn} {symbol} units, less than the "
            f"{seen} the ledger under the state root saw paid"
        )
        return
    unseen = withdrawn - seen
    owed = total.get_held() * quantum
    parts = (f"members' collateral {total.collateral}, pending withdrawals {total.pending}, "
             f"settlement cash {total.cash_reserve} quanta")  # fmt: skip
    if held + unseen < owed:
        verdict.failures.append(
            f"{where} holds {held} {symbol} units and paid {unseen} that clearing had not seen "
            f"paid, less than the {owed} the ledger under the state root says it holds "
            f"({parts}): short by {owed - held - unseen}"
        )
    else:
        verdict.passed.append(
            f"{where} holds {held} {symbol} units and paid {unseen} that clearing had not seen "
            f"paid, >= the {owed} the ledger under the state root says it holds ({parts}; "
            f"the {held + unseen - owed} more is deposits not yet credited or was sent to the "
            "vault directly)"
        )
