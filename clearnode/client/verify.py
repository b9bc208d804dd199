"""Checking what a node serves with public data alone: a solvency report, one's own
openings in it, one's account proof. The checks are `clearnode verify`'s (proofs/verify.py),
which reads files; these take what `Client` fetched."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from clearing.genesis import Genesis
from proofs.account_proof import check_account_proof
from proofs.group import FAST
from proofs.openings import MemberOpenings
from proofs.pedersen import get_generators
from proofs.report import Report, Validator, Verdict, decode_report
from proofs.verify import get_sections

__all__ = ["ReportCheck", "check_account_proof", "verify_report"]


@dataclass(frozen=True)
class ReportCheck:
    """Each section's verdict (title, what passed, failed or was not checked)."""

    report: Report
    sections: list[tuple[str, Verdict]]

    @property
    def ok(self) -> bool:
        """No check failed and none asked for was left unmade."""
        return all(v.ok and not v.unreadable for _, v in self.sections)

    @property
    def failures(self) -> list[str]:
        return [line for _, v in self.sections for line in v.failures]


def get_validators(validators: dict[str, Any]) -> list[Validator]:
    """A validator set as `Client.validators()` answers it."""
    return [
        Validator(bytes.fromhex(v["pubkey"].removeprefix("0x")), int(v["power"]))
        for v in validators["validators"]
    ]


def verify_report(
    view: Any,
    chain_id: int,
    validators: Sequence[Validator] | None = None,
    genesis: Genesis | None = None,
    member: bytes | None = None,
    openings: MemberOpenings | None = None,
) -> ReportCheck:
    """Check a report (`Client.report()`'s answer) of the network `chain_id`: its
    validators' signatures (with `validators`, from the genesis or
    `get_validators(await client.validators())`), every account's proof, the aggregate
    totals; with `genesis`, the statement recomputed; with `member` and its `openings`
    (`Client.openings`), one's own commitments. Vault reserves are `clearnode verify
    --rpc`'s (they read each chain)."""
    report = decode_report(bytes.fromhex(view["report"].removeprefix("0x")))
    gens: Any = get_generators(FAST)
    sections = get_sections(
        gens, report, validators, chain_id, genesis, None, member, openings, None
    )
    return ReportCheck(report, sections)
