"""`clearnode verify REPORT [--genesis FILE] [--rpc CHAIN_ID=URL [--block CHAIN_ID=N]]
[--validators FILE] [--member ADDRESS --openings FILE]`:
check a solvency report with public data alone (all the work is in proofs/); or
`clearnode verify --account-proof FILE --state-root ROOT [--height H]`: a member's
account proof against a committed state root."""

from __future__ import annotations

import argparse
from typing import Any

from node.chainread import read_vaults
from proofs import verify


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "verify",
        help="verify a solvency report (and optionally your own openings), or an account proof",
        description="Check a solvency report with public data alone: validator quorum, every "
        "account's solvency proof (one batch), and the aggregate totals; with --genesis, also "
        "the statement itself, recomputed from the genesis and the report's marks; with "
        "--member and --openings, also your own commitments; or, with --account-proof, your "
        "account's Merkle proof against a state root. With --genesis and --rpc "
        "CHAIN_ID=URL, also that each vault holds the report's collateral on its chain. "
        "Exit 0 valid as far as checked, "
        "1 invalid, 2 usage error, 3 a check asked for could not be made.",
    )
    verify.add_arguments(parser)
    parser.set_defaults(handler=lambda args: verify.run(args, read_vaults))
