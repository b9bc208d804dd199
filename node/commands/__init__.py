"""The `clearnode` command line.

Each subcommand lives in its own module of this package, named as the command, and
exposes `register(subparsers)` and sets `handler` on its parser to a function `(args) ->
exit code`; this file only wires them together so that adding a command never means
editing a long dispatcher. A package above the node adds its command by naming the
module in the `clearnode.commands` entry points (pyproject.toml: `clearnode devnet` is
`devnet/command.py`), so node/ never imports it. A command line that names a command
imports that module alone: the others' imports (web3, libp2p, the devnet) would cost
every `clearnode gov vote` seconds. The list of commands (`clearnode --help`, or no
command) imports none of them: each module's `SUMMARY` is read from its source.
"""

from __future__ import annotations

import argparse
import ast
import importlib
import importlib.metadata
import importlib.util
import pkgutil
import sys
from collections.abc import Sequence
from pathlib import Path

COMMAND_ENTRY_POINTS = "clearnode.commands"


def get_command_modules() -> dict[str, str]:
    """Each command's name and module: node/commands/'s, and those the distribution
    declares in its `clearnode.commands` entry points."""
    modules = {
        m.name: f"node.commands.{m.name}"
        for m in pkgutil.iter_modules(__path__)
        if m.name != "__main__"
    }
    for entry in importlib.metadata.entry_points(group=COMMAND_ENTRY_POINTS):
        modules[entry.name] = entry.value
    return modules


def get_summary(module: str) -> str:
    """The `SUMMARY = "..."` of a command's module, read from its source unimported."""
    spec = importlib.util.find_spec(module)
    assert spec is not None and spec.origin is not None, module
    source = Path(spec.origin)
    for node in ast.parse(source.read_text()).body:
        if isinstance(node, ast.Assign) and [ast.unparse(t) for t in node.targets] == ["SUMMARY"]:
            value = ast.literal_eval(node.value)
            if isinstance(value, str):
                return value
    raise ValueError(f"{source}: no SUMMARY string")


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser of `command` alone, or the list of every command (None, or not a
    command: each only named, with its summary)."""
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
    modules = get_command_modules()
    if command in modules:
        importlib.import_module(modules[command]).register(sub)
        return parser
    for name in sorted(modules):
        sub.add_parser(name, help=get_summary(modules[name]), add_help=False)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser(argv[0] if argv else None).parse_args(argv)
    return int(args.handler(args) or 0)
