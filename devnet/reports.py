"""Each epoch's solvency report, as a member checks it: fetched from a
validator's API, written to disk and checked by the very code behind
`clearnode verify` against the genesis (its validators, and the statement
recomputed, the state root followed to the chain, the vaults read on chain),
then one member's own openings (fetched with its EIP-712 signed request) checked
against the report and against its account under the report's state root."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import trio

from clearnode.client import NotFound
from devnet.processes import ROOT
from proofs import report_check

if TYPE_CHECKING:
    from clearnode.client import Client
    from devnet.market import Member


ROOT_ON_CHAIN = "state root is the chain's after block"
ACCOUNT_UNDER_ROOT = "your account record is under the report's state root"


@dataclass(frozen=True)
class ReportOutcome:
    epoch: int
    height: int
    accounts: int
    path: Path
    verified: bool
    member_verified: bool
    detail: str


async def check_report(
    node: Client,
    epoch: int,
    member: Member,
    genesis: Path,
    out_dir: Path,
    rpcs: dict[int, str],
) -> ReportOutcome | None:
    """None until the validators have published the epoch's report and committed its hash.
    `rpcs`: each chain's RPC URL, to check its vault holds the report's collateral there."""
    try:
        body = await node.report(epoch)
    except NotFound:
        return None
    if body["committedHash"] is None:
        return None
    path = out_dir / f"report-epoch-{epoch}.json"
    path.write_text(json.dumps(body))
    chains = [arg for c, url in sorted(rpcs.items()) for arg in ("--rpc", f"{c}={url}")]
    code, text = await _verify([str(path), "--genesis", str(genesis), *chains])
    openings = await node.openings(member.key, epoch)
    openings_path = out_dir / f"openings-epoch-{epoch}-0x{member.address.hex()}.json"
    openings_path.write_text(json.dumps(openings.to_json()))
    member_args = ["--member", "0x" + member.address.hex(), "--openings", str(openings_path)]
    member_code, member_text = await _verify([str(path), "--genesis", str(genesis), *member_args])
    if body["committedHash"] != body["reportHash"]:
        text += f"served report hash {body['reportHash']} != committed {body['committedHash']}\n"
        code = report_check.EXIT_INVALID
    # a served report carries its anchor, and openings their account proof: the devnet
    # holds both checks as made, not merely not failed
    for made, where in ((ROOT_ON_CHAIN, text), (ACCOUNT_UNDER_ROOT, member_text)):
        if f"ok    {made}" not in where:
            text += f"not checked: {made!r}\n"
            code = report_check.EXIT_INVALID
    return ReportOutcome(
        epoch,
        int(body["commitHeight"] or 0),
        int(body["accounts"]),
        path,
        code == report_check.EXIT_VALID,
        member_code == report_check.EXIT_VALID,
        "" if code == member_code == report_check.EXIT_VALID else text + member_text,
    )


async def _verify(argv: list[str]) -> tuple[int, str]:
    """`clearnode verify ARGV` in its own process: its exit code and what it printed."""
    done = await trio.run_process(
        [sys.executable, "-m", "node.commands", "verify", *argv],
        capture_stdout=True,
        stderr=subprocess.STDOUT,
        check=False,
        cwd=ROOT,
    )
    return done.returncode, done.stdout.decode(errors="replace")
