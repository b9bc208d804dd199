"""The `clearnode` command line.

Each subcommand lives in its own module under `node/commands/` and exposes
`register(subparsers)`; this file only wires them together so that adding a
command never means editing a long dispatcher.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import pkgutil
import sys
from collections.abc import Sequence

from node import commands


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="clearnode",
        description="Clearing node for crypto derivatives: BFT consensus on one netted margin "
        "state across EVM chains, with zero-knowledge solvency reports.",
    )
    parser.add_argument(
        "--version",
        action="version",
        version=f"clearnode {importlib.metadata.version('clearnode')}",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"node.commands.{info.name}")
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.handler(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
