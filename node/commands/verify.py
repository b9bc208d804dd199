"""`clearnode verify REPORT [--genesis FILE] [--validators FILE] [--member ADDRESS
--openings FILE]`:
check a solvency report with public data alone (all the work is in proofs/); or
`clearnode verify --account-proof FILE --state-root ROOT [--height H]`: a member's
account proof against a committed state root."""

from __future__ import annotations

import argparse
from typing import Any

from proofs import verify


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "verify",
        help="verify a solvency report (and optionally your own openings), or an account proof",
        description="Check a solvency report with public data alone: validator quorum, every "
        "account's solvency proof (one batch), and the aggregate totals; with --genesis, also "
        "the statement itself, recomputed from the genesis and the report's marks; with "
        "--member and --openings, also your own commitments; or, with --account-proof, your "
        "account's Merkle proof against a state root. Exit 0 valid, 1 invalid, 2 usage error.",
    )
    verify.add_arguments(parser)
    parser.set_defaults(handler=verify.run)
