"""`clearnode verify REPORT [--validators FILE] [--member ADDRESS --openings FILE]`:
check a solvency report with public data alone (all the work is in proofs/)."""

from __future__ import annotations

import argparse
from typing import Any

from proofs import verify


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "verify",
        help="verify a solvency report (and optionally your own openings)",
        description=verify.__doc__,
    )
    verify.add_arguments(parser)
    parser.set_defaults(handler=verify.run)
