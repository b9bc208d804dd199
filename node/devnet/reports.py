"""One solvency report per epoch: built from the clearing state with proofs/,
signed by every validator, written to disk and checked by the very code behind
`clearnode verify` (the public check, then one member's own openings)."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from clearing.risk.engine import (
    INSURANCE_MEMBER,
    get_quantities,
    get_state_solvency_form,
    get_state_solvency_inputs,
)
from clearing.risk.solvency import get_solvency_inputs
from clearing.root import compute_state_root
from clearing.state import ClearingState
from proofs import verify
from proofs.group import FAST
from proofs.openings import get_member_openings
from proofs.pedersen import get_generators
from proofs.report import add_signatures, build_report, sign_report


@dataclass(frozen=True)
class ReportOutcome:
    epoch: int
    height: int
    accounts: int
    path: Path
    verified: bool
    member_verified: bool
    detail: str


def get_report_seed(seed: int) -> bytes:
    return hashlib.sha256(b"clearnode-devnet-report/" + str(seed).encode()).digest()


def build_epoch_report(
    state: ClearingState,
    keys: Sequence[Ed25519PrivateKey],
    genesis_path: Path,
    out_dir: Path,
    seed: int,
    member: bytes,
) -> ReportOutcome:
    """Build, sign, write and verify the report of the epoch that ends at this height."""
    epoch = state.height // state.genesis.epoch_length_blocks
    form = get_state_solvency_form(state)
    assert form is not None, "the devnet genesis always has a risk section"
    accounts = {
        (address, sub): get_state_solvency_inputs(form, account)
        for address, record in state.members.items()
        if address != INSURANCE_MEMBER
        for sub, account in record.sub_accounts.items()
        if account.cash or account.collateral or account.positions
    }
    house = state.members.get(INSURANCE_MEMBER)
    if house is not None:  # its positions keep the book flat; its cash is the insurance fund
        account = house.sub_accounts[0]
        quantities = get_quantities(account)
        cash = account.cash + state.insurance_fund
        accounts[(INSURANCE_MEMBER, 0)] = get_solvency_inputs(
            form, cash, account.collateral, quantities
        )
    report_seed = get_report_seed(seed)
    unsigned = build_report(
        get_generators(FAST), epoch, compute_state_root(state), form, accounts, report_seed
    )
    report = add_signatures(unsigned, [sign_report(unsigned, k) for k in keys])
    path = out_dir / f"report-epoch-{epoch}.bin"
    path.write_bytes(report.encode())
    code, text = _verify([str(path), "--validators", str(genesis_path)])
    mine = {sub: v for (owner, sub), v in accounts.items() if owner == member}
    openings = get_member_openings(report_seed, epoch, member, form.input_labels, mine)
    openings_path = out_dir / f"openings-epoch-{epoch}-0x{member.hex()}.json"
    openings_path.write_text(json.dumps(openings.to_json()))
    member_args = ["--member", "0x" + member.hex(), "--openings", str(openings_path)]
    member_code, member_text = _verify([str(path), *member_args])
    return ReportOutcome(
        epoch,
        state.height,
        len(accounts),
        path,
        code == verify.EXIT_VALID,
        member_code == verify.EXIT_VALID,
        "" if code == member_code == verify.EXIT_VALID else text + member_text,
    )


def _verify(argv: list[str]) -> tuple[int, str]:
    """`clearnode verify ARGV`: its exit code and what it printed."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = verify.main(argv)
    return code, out.getvalue()
