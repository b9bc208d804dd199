"""The `clearnode` command line.

Each subcommand lives in its own module under `node/commands/`, named as the
command, and exposes `register(subparsers)`; this file only wires them together so
that adding a command never means editing a long dispatcher. A command line that
names a command imports that module alone: the others' imports (web3, libp2p, the
devnet) would cost every `clearnode gov vote` seconds.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import pkgutil
import sys
from collections.abc import Sequence

from node import commands


def get_command_names() -> list[str]:
    return sorted(m.name for m in pkgutil.iter_modules(commands.__path__))


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser of `command` alone, or of every command (None, or not a command)."""
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
    names = get_command_names()
    for name in [command] if command in names else names:
        importlib.import_module(f"node.commands.{name}").register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser(argv[0] if argv else None).parse_args(argv)
    return int(args.handler(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
