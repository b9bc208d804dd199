"""Checking what a node serves with public data alone: a solvency report, one's own
openings in it, one's account proof. The checks are `clearnode verify`'s (proofs/verify.py),
which reads files; these take what `Client` fetched."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from clearing.genesis import Genesis
from lightclient.anchor import Checkpoint, Trust
from proofs.account_proof import check_account_proof
from proofs.backends import get_fastest
from proofs.openings import MemberOpenings
from proofs.pedersen import get_generators
from proofs.report import Report, Verdict, VotingPower, decode_report
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
        """Every failed check, one line each (empty when none failed)."""
        return [line for _, v in self.sections for line in v.failures]


def get_validators(validators: dict[str, Any]) -> list[VotingPower]:
    """A validator set as `Client.validators()` answers it."""
    return [
        VotingPower(bytes.fromhex(v["pubkey"].removeprefix("0x")), int(v["power"]))
        for v in validators["validators"]
    ]


def verify_report(
    view: Any,
    chain_id: int,
    validators: Sequence[VotingPower] | None = None,
    genesis: Genesis | None = None,
    member: bytes | None = None,
    openings: MemberOpenings | None = None,
    *,
    checkpoint: Checkpoint | None = None,
    now_ms: int | None = None,
) -> ReportCheck:
    """Check a report (`Client.report()`'s answer) of the network `chain_id`: its
    validators' signatures (with `validators`, from the genesis or
    `get_validators(await client.validators())`), every account's proof, the aggregate
    totals; with `genesis` (`await client.genesis(published_hash)`), the full check of
    `clearnode verify`: the statement recomputed and the state root followed to the chain
    (required: a report without an anchor is not `ok`) from the genesis's set, or from
    `checkpoint`, within the trusting period measured to `now_ms` (default: this
    machine's clock); with `member` and its `openings` (`Client.openings`), one's own
    commitments. Vault reserves are `clearnode verify --rpc`'s (they read each chain)."""
    report = decode_report(bytes.fromhex(view["report"].removeprefix("0x")))
    gens: Any = get_generators(get_fastest())
    trust = None
    if genesis is not None:
        now = time.time_ns() // 1_000_000 if now_ms is None else now_ms
        trust = Trust(now, genesis.genesis_time_ms, checkpoint)
        if validators is None:
            validators = [VotingPower(v.pubkey, v.power) for v in genesis.validators]
    sections = get_sections(
        gens, report, validators, chain_id, genesis, None, member, openings, None, trust
    )
    return ReportCheck(report, sections)
