"""A member's openings of its own commitments, and the member's check of them.

The node hands a member (after an authenticated request) the values and
blinding factors of each of its sub-accounts. The member checks that the
report's commitments open to them, that they equal the account it knows, and
sees its own per-scenario margin values; nobody else learns anything.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from clearing.risk.solvency import POSITION_PREFIX
from clearing.transition.reported_accounts import AccountKey
from proofs.account_proof import AccountProofError, AccountProofFile
from proofs.checks import Verdict
from proofs.drafting import get_blindings
from proofs.errors import ReportDecodeError
from proofs.group import P, R
from proofs.pedersen import Generators
from proofs.report import Report
from proofs.statement import SolvencyStatement

OPENINGS_VERSION = 1


@dataclass(frozen=True)
class AccountOpening:
    subaccount: int
    values: tuple[int, ...]
    blindings: tuple[int, ...]


@dataclass(frozen=True)
class MemberOpenings:
    epoch: int
    owner: bytes
    labels: tuple[str, ...]
    accounts: tuple[AccountOpening, ...]
    account_proof: AccountProofFile | None = None
    """The member's account record under the report's state root, with its inclusion
    proof: what the opened values must be (proofs/member_account.py)."""

    def to_json(self) -> dict[str, Any]:
        """JSON object; blindings as 0x-hex (they exceed 2^53)."""
        proof = {} if self.account_proof is None else {"accountProof": self.account_proof.to_json()}
        return {
            "version": OPENINGS_VERSION,
            "epoch": self.epoch,
            "member": "0x" + self.owner.hex(),
            "labels": list(self.labels),
            "accounts": [
                {
                    "subaccount": a.subaccount,
                    "values": [str(v) for v in a.values],
                    "blindings": [f"{b:#066x}" for b in a.blindings],
                }
                for a in self.accounts
            ],
            **proof,
        }

    @staticmethod
    def from_json(obj: Any) -> MemberOpenings:
        try:
            version = obj["version"]
        except (KeyError, TypeError) as exc:
            raise ReportDecodeError(f"malformed openings: {exc!r}") from exc
        if version != OPENINGS_VERSION:
            raise ReportDecodeError(f"unsupported openings version {version!r}")
        try:
            owner = bytes.fromhex(strip_0x(obj["member"]))
            labels = tuple(str(x) for x in obj["labels"])
            accounts = tuple(
                AccountOpening(
                    int(a["subaccount"]),
                    tuple(int(v) for v in a["values"]),
                    tuple(int(strip_0x(b), 16) % R for b in a["blindings"]),
                )
                for a in obj["accounts"]
            )
            epoch = int(obj["epoch"])
            proof = obj.get("accountProof")
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ReportDecodeError(f"malformed openings: {exc!r}") from exc
        try:
            account_proof = None if proof is None else AccountProofFile.from_object(proof)
        except AccountProofError as exc:
            raise ReportDecodeError(f"malformed openings: accountProof: {exc}") from exc
        for a in accounts:
            if len(a.values) != len(labels) or len(a.blindings) != len(labels):
                raise ReportDecodeError(f"sub-account {a.subaccount}: not one opening per label")
        return MemberOpenings(epoch, owner, labels, accounts, account_proof)


def strip_0x(text: str) -> str:
    """Hex text without its optional 0x prefix."""
    return text[2:] if text.startswith("0x") else text


def get_member_openings(
    seed: bytes,
    epoch: int,
    owner: bytes,
    labels: Sequence[str],
    accounts: Mapping[int, Sequence[int]],
) -> MemberOpenings:
    """Openings of every sub-account of `owner` (inputs in label order)."""
    return MemberOpenings(
        epoch,
        owner,
        tuple(labels),
        tuple(
            AccountOpening(
                sub,
                tuple(accounts[sub]),
                tuple(get_blindings(seed, epoch, _key(owner, sub), labels)),
            )
            for sub in sorted(accounts)
        ),
    )


def _key(owner: bytes, sub: int) -> AccountKey:
    return (owner, sub)


def verify_member_openings(
    gens: Generators[P],
    report: Report,
    member: bytes,
    openings: MemberOpenings,
    known_account_values: Mapping[int, Mapping[str, int]] | None = None,
    names: Sequence[str] | None = None,
) -> Verdict:
    """Commitments open to the openings; openings equal what the member knows
    (labels it does not list count as 0); every sub-account of the member in the
    report is covered. `passed` lists the scenario values the member can check, in
    plain words, each scenario by its name in `names` (the genesis's) when given."""
    verdict = Verdict()
    statement = report.statement
    if openings.owner != member or openings.epoch != report.epoch:
        verdict.failures.append(
            f"openings are for 0x{openings.owner.hex()} epoch {openings.epoch}, not "
            f"0x{member.hex()} epoch {report.epoch}"
        )
        return verdict
    if openings.labels != statement.input_labels:
        verdict.failures.append("openings' labels differ from the report's statement")
        return verdict
    in_report = {a.subaccount for a in report.accounts if a.owner == member}
    opened = {a.subaccount for a in openings.accounts}
    if in_report != opened:
        verdict.failures.append(
            f"report has sub-accounts {sorted(in_report)}, openings cover {sorted(opened)}"
        )
    for opening in openings.accounts:
        entry = report.get_account(member, opening.subaccount)
        if entry is None:
            continue
        name = entry.describe()
        for label, c, v, b in zip(
            statement.input_labels,
            entry.commitments,
            opening.values,
            opening.blindings,
            strict=True,
        ):
            if c != gens.group.encode(gens.commit(v, b)):
                verdict.failures.append(f"{name}: commitment to {label!r} does not open to {v}")
        if known_account_values is not None:
            known = known_account_values.get(opening.subaccount, {})
            for label, v in zip(statement.input_labels, opening.values, strict=True):
                if known.get(label, 0) != v:
                    verdict.failures.append(
                        f"{name}: {label!r} is {v} in the report, {known.get(label, 0)} known"
                    )
        scenario = statement.compute_values(opening.values)[len(statement.input_labels) :]
        verdict.passed.append(f"{name}: opened; scenario values {scenario}")
        verdict.passed.extend(
            f"{name}: {line}" for line in explain_scenarios(statement, opening.values, names)
        )
        if min(scenario, default=0) < 0:
            verdict.failures.append(f"{name}: a scenario value is negative: {scenario}")
    return verdict


def explain_scenarios(
    statement: SolvencyStatement, values: Sequence[int], names: Sequence[str] | None = None
) -> list[str]:
    """Each scenario value in plain words, when the rows have the solvency form's shape
    (clearing/risk/solvency.py: every row starts with k_den on cash and the same haircut
    weights on collateral, so row . x = k_den * equity - k_num * loss): the account's
    equity, then per scenario what it charges and what is left. Other shapes: nothing."""
    labels = statement.input_labels
    head = [j for j, label in enumerate(labels) if not label.startswith(POSITION_PREFIX)]
    if not statement.rows or labels[0] != "cash":
        return []
    first = statement.rows[0]
    k_den = first[0]
    if k_den <= 0 or any(row[j] != first[j] for row in statement.rows for j in head):
        return []
    equity = sum(first[j] * values[j] for j in head)
    lines = [
        f"equity (cash plus collateral at its haircut value) {_units(equity, k_den)}; "
        "per scenario, the charge (the maintenance fraction of the loss that move would "
        "cause your positions) and what your equity keeps above it (never below 0 in a "
        "valid report):"
    ]
    for s, row in enumerate(statement.rows):
        value = sum(c * x for c, x in zip(row, values, strict=True))
        name = names[s] if names is not None and s < len(names) else f"scenario {s}"
        lines.append(
            f"  {name}: charge {_units(equity - value, k_den)}, left {_units(value, k_den)}"
        )
    return lines


def _units(scaled: int, k_den: int) -> str:
    """`scaled / k_den` in the settlement asset's base units, exactly."""
    whole, rest = divmod(scaled, k_den)
    return str(whole) if rest == 0 else f"{scaled}/{k_den}"
